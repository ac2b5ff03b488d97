import { decodeConsensusLog } from '@ewx/contracts';
import { signBytes, type KeyPair, type Logger, type Runtime } from '@ewx/platform';
import { VALIDATORS_STREAM, attestationBytes, decide, evaluateRound, isClosed, roundKey, solutionStream, type ConsensusState } from '../domain/decider.js';

/**
 * This process's validator: records the configured set once, then for every round whose snapshot
 * and votes are complete in the log and that it has not attested yet, computes the outcome from
 * those events alone, signs it and appends the attestation (which settles the round when it makes
 * the two-thirds). Runs over every pending round at start-up, so a crash loses nothing.
 */
export function startValidator(runtime: Runtime<ConsensusState>, key: KeyPair | undefined, validators: readonly string[], log: Logger): { stop(): Promise<void> } {
  let work: Promise<unknown> = Promise.resolve();
  const queued = new Set<string>();
  const run = (what: string, fn: () => Promise<unknown>): void => {
    work = work.then(fn).catch((e: Error) => log.warn(`validator: ${what} failed`, { error: e.message }));
  };
  const attest = (k: string): void => {
    if (!key || queued.has(k)) return;
    queued.add(k);
    run(`attesting ${k}`, async () => {
      queued.delete(k);
      const s = runtime.state();
      const r = s.rounds.get(k);
      if (!r || !isClosed(r) || r.attestations.has(key.address)) return;
      // A decided round is attested only by the set that decided it: a validator that joined later
      // (or a replay under a new key) adds nothing to it.
      if (r.decidedBy !== undefined && !r.decidedBy.includes(key.address)) return;
      if (r.decidedBy === undefined && !s.validators.includes(key.address)) { log.warn('validator: not in the recorded set, not attesting', { round: k }); return; }
      const { tally, merkleRoot } = evaluateRound(r);
      const signature = signBytes(key, attestationBytes(r.solution, r.roundId, tally, merkleRoot)).toString('hex');
      await runtime.execute(solutionStream(r.solution), (st) => decide({
        type: 'Attest', validator: key.address, solution: r.solution, roundId: r.roundId, tally, merkleRoot, signature,
      }, st));
      log.info('validator: attested', { solution: r.solution, round: r.roundId, outcome: tally.outcome });
    });
  };
  const all = (): void => { for (const k of runtime.state().rounds.keys()) attest(k); };
  const off = runtime.onEvent((e) => {
    const d = decodeConsensusLog(e);
    if (d?.type === 'RoundClosed') attest(roundKey(d.data.solution, d.data.roundId));
    else if (d?.type === 'ValidatorSetConfigured') all();
  });
  run('recording the validator set', () => runtime.execute(VALIDATORS_STREAM, (s) => decide({ type: 'ConfigureValidators', validators }, s)));
  all();
  return { async stop() { off(); await work; } };
}
