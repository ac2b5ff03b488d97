import { decodeConsensusLog } from '@ewx/contracts';
import { signBytes, startProcessManager, type KeyPair, type Logger, type Runtime } from '@ewx/platform';
import {
  attestationBytes,
  attestationsClosed,
  attestationsClosedError,
  consensusDecider,
  evaluateRound,
  isClosed,
  roundKey,
  type ConsensusCommand,
  type ConsensusState,
} from '../domain/decider.js';

type Attest = Extract<ConsensusCommand, { type: 'Attest' }>;

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((v, i) => b[i] === v);

/**
 * This process's validator, a process manager (`startProcessManager`): records the configured set
 * once, then for every round whose snapshot and votes are complete in the log and that it has not
 * attested yet, computes the outcome from those events alone, signs it and appends the
 * attestation (which settles the round when it makes the two-thirds). Its first pass covers every
 * round, so a crash loses nothing; afterwards a RoundClosed makes its round a candidate again, and
 * a ValidatorSetConfigured every round.
 */
export function startValidator(
  runtime: Runtime<ConsensusState>,
  key: KeyPair | undefined,
  validators: readonly string[],
  log: Logger,
  attestationWindow?: number,
): { stop(): Promise<void> } {
  // Rounds that may owe this validator's attestation; `due` drops those that owe nothing (yet).
  const candidates = new Set<string>(runtime.state().rounds.keys());
  // The signed command per candidate round: a closed round's tally and root never change, so each is signed once.
  const signed = new Map<string, Attest>();
  // The block each candidate's attestation window closes at, as the state said when it was signed.
  const closes = new Map<string, number>();
  const drop = (k: string): void => {
    candidates.delete(k);
    signed.delete(k);
    closes.delete(k);
  };

  const attestation = (s: ConsensusState, k: string, me: KeyPair): Attest | undefined => {
    const r = s.rounds.get(k);
    if (!r || !isClosed(r) || r.attestations.has(me.address)) return undefined;
    // Its attestation window closed (it leaves the state at that block): nothing to attest.
    if (attestationsClosed(r, s.height)) return undefined;
    // A decided round is attested only by the set that decided it: a validator that joined later
    // (or a replay under a new key) adds nothing to it.
    if (r.decidedBy !== undefined && !r.decidedBy.includes(me.address)) return undefined;
    if (r.decidedBy === undefined && !s.validators.includes(me.address)) {
      log.warn('validator: not in the recorded set, not attesting', { round: k });
      return undefined;
    }
    let c = signed.get(k);
    if (!c) {
      const { tally, merkleRoot } = evaluateRound(r);
      const signature = signBytes(me, attestationBytes(r.solution, r.roundId, tally, merkleRoot)).toString('hex');
      c = { type: 'Attest', validator: me.address, solution: r.solution, roundId: r.roundId, tally, merkleRoot, signature };
      signed.set(k, c);
    }
    if (r.attestationsClose !== undefined) closes.set(k, r.attestationsClose);
    return c;
  };

  // The configured set is recorded once per start (until the log holds it): two processes configured
  // differently must not take turns recording theirs.
  let configuring = true;
  const due = (s: ConsensusState): ConsensusCommand[] => {
    const out: ConsensusCommand[] = [];
    if (configuring && sameSet(validators, s.validators) && attestationWindow === s.attestationWindow) configuring = false;
    // The set first: attestations are read against it (the pass asks again once it is recorded).
    if (configuring) return [{ type: 'ConfigureValidators', validators, ...(attestationWindow === undefined ? {} : { attestationWindow }) }];
    if (!key) return out;
    for (const k of [...candidates]) {
      const c = attestation(s, k, key);
      if (c) out.push(c);
      else drop(k);
    }
    return out;
  };

  // An attestation in hand when its round's window closed (another process's block came between) is
  // refused, not retried: the round left the state, so the next pass drops it. The refusal names the
  // block it closed at (known from the state the attestation was made from), in the one warning.
  const decider: typeof consensusDecider = {
    ...consensusDecider,
    decide(c, s, policy) {
      if (c.type === 'Attest') {
        const k = roundKey(c.solution, c.roundId);
        const close = closes.get(k);
        if (close !== undefined && !s.rounds.has(k) && s.height >= close) {
          drop(k);
          throw attestationsClosedError(c.solution, c.roundId, close);
        }
      }
      return consensusDecider.decide(c, s, policy);
    },
  };
  return startProcessManager(runtime, {
    decider,
    policy: undefined,
    due,
    log,
    failure: 'validator: a command failed (an attestation whose window closed is skipped; others are retried on the next round closed)',
    triggers: (e, s) => {
      const d = decodeConsensusLog(e);
      if (d?.type === 'RoundClosed') {
        candidates.add(roundKey(d.data.solution, d.data.roundId));
        return true;
      }
      if (d?.type === 'ValidatorSetConfigured') {
        for (const k of s.rounds.keys()) candidates.add(k);
        return true;
      }
      if (d?.type === 'AttestationRecorded' && d.data.validator === key?.address) {
        log.info('validator: attested', { solution: d.data.solution, round: d.data.roundId, outcome: d.data.tally.outcome });
      }
      return false;
    },
  });
}
