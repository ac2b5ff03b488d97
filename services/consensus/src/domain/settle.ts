import {
  denied,
  precondition,
  verifyBytes,
  type AttestationRecordedEvent,
  type EventData,
  type ResultChainedEvent,
  type RoundSettledEvent,
  type RoundUnresolvedEvent,
  type Tally,
  type VoteMetadataEvent,
} from '@ewx/platform/domain';
import { consensusEvent } from '@ewx/contracts';
import { GENESIS_HASH, chainHash } from './chain.js';
import { merkleRoot } from './merkle.js';
import { attestationsClosed, isClosed, roundKey, type ConsensusState, type ValidatedRound } from './state.js';
import { tallyCounts, tallyText, voteCounts } from './tally.js';

/** Operators per VoteMetadata chunk: two lists of ≤ 2000 addresses stay below 512 KiB. */
export const METADATA_CHUNK = 2000;

/**
 * What one validator computes, from the recorded snapshot and votes alone. A decided round's snapshot
 * and votes have left the state: what they gave then is kept (`evaluation`, or the outcome when equal).
 */
export function evaluateRound(r: ValidatedRound): { tally: Tally; merkleRoot: string } {
  if (r.votesDropped) return r.evaluation ?? r.outcome!;
  return {
    tally: tallyCounts({
      eligible: r.snapshot.size,
      counts: voteCounts(r.votes),
      quorumPercent: r.quorumPercent,
      voteThresholdPercent: r.voteThresholdPercent,
    }),
    merkleRoot: merkleRoot(r.leaves),
  };
}

/** The bytes a validator signs: its statement of a round's outcome. */
export const attestationBytes = (solution: string, roundId: string, t: Tally, root: string): Buffer =>
  Buffer.from(`ewx/v1/attestation\n${solution}\n${roundId}\n${tallyText(t)}\n${root}`, 'utf8');

const agreement = (t: Tally, root: string): string => `${tallyText(t)}|${root}`;

/**
 * The refusal of a late attestation (FAILED_PRECONDITION): the round's attestation window closed at
 * block `close` (max(its end block, the height at its decision) + the recorded window).
 */
export const attestationsClosedError = (solution: string, roundId: string, close: number): Error =>
  precondition(
    `attestation: attestations for round ${roundId} of solution ${solution} closed at block ${close} (the attestation window recorded with the validator set, counted from the later of its end and its decision)`,
  );

/** More than two thirds of the set: n × 3 > 2 × size. */
export const isSupermajority = (n: number, setSize: number): boolean => n * 3 > setSize * 2;

export interface AttestCommand {
  readonly validator: string;
  readonly solution: string;
  readonly roundId: string;
  readonly tally: Tally;
  readonly merkleRoot: string;
  /** hex ed25519 signature over attestationBytes. */
  readonly signature: string;
}

/**
 * SPEC §5 validators: a validator of the recorded set attests once per round; the attestation is
 * recorded even when it disagrees. When more than two thirds of the set attest the same outcome
 * (tally and Merkle root), the round is settled or marked unresolved, in the same append as the
 * attestation that tipped it: with its result chain entry and vote metadata when settled.
 */
export function decideAttestation(s: ConsensusState, c: AttestCommand): EventData[] {
  const r = s.rounds.get(roundKey(c.solution, c.roundId));
  if (r?.attestations.has(c.validator)) return [];
  if (r && attestationsClosed(r, s.height)) throw attestationsClosedError(c.solution, c.roundId, r.attestationsClose!);
  if (r?.decidedBy !== undefined) {
    // Decided: only the set that decided it may still add (or dissent from) its outcome.
    if (!r.decidedBy.includes(c.validator))
      throw denied(`attestation: round ${c.roundId} of solution ${c.solution} was decided by the validator set then in force, which ${c.validator} was not in`);
  } else if (!s.validators.includes(c.validator)) throw denied(`attestation: ${c.validator} is not in the validator set`);
  if (!r || !isClosed(r))
    throw precondition(
      `round ${c.roundId} of solution ${c.solution} is not closed yet (or not recorded by consensus, or decided and its attestation window closed: it left the state)`,
    );
  if (!verifyBytes(c.validator, attestationBytes(c.solution, c.roundId, c.tally, c.merkleRoot), Buffer.from(c.signature, 'hex'))) {
    throw denied(`attestation: signature is not ${c.validator}'s over this outcome`);
  }
  const key = agreement(c.tally, c.merkleRoot);
  const settled = r.outcome !== undefined;
  const att: AttestationRecordedEvent = {
    solution: c.solution,
    roundId: c.roundId,
    validator: c.validator,
    tally: c.tally,
    merkleRoot: c.merkleRoot,
    signature: c.signature,
    dissent: settled && key !== agreement(r.outcome!.tally, r.outcome!.merkleRoot),
  };
  const events: EventData[] = [consensusEvent({ type: 'AttestationRecorded', data: att })];
  if (settled) return events;
  const all = [...r.attestations.values(), att];
  const attestors = all
    .filter((a) => agreement(a.tally, a.merkleRoot) === key)
    .map((a) => a.validator)
    .sort();
  if (!isSupermajority(attestors.length, s.validators.length)) return events;
  const dissenters = all
    .filter((a) => agreement(a.tally, a.merkleRoot) !== key)
    .map((a) => a.validator)
    .sort();
  const t = c.tally;
  if (t.outcome !== 'SETTLED' || t.result === undefined) {
    const u: RoundUnresolvedEvent = {
      solution: r.solution,
      roundId: r.roundId,
      group: r.group,
      rewardPeriod: r.period,
      reason: t.reason ?? 'NO_QUORUM',
      tally: t,
      merkleRoot: c.merkleRoot,
      attestors,
      dissenters,
      validators: [...s.validators],
    };
    return [...events, consensusEvent({ type: 'RoundUnresolved', data: u })];
  }
  const settledEvent: RoundSettledEvent = {
    solution: r.solution,
    roundId: r.roundId,
    group: r.group,
    rewardPeriod: r.period,
    result: t.result,
    tally: t,
    merkleRoot: c.merkleRoot,
    attestors,
    dissenters,
    validators: [...s.validators],
  };
  const chain = s.chains.get(r.solution) ?? { length: 0, hash: GENESIS_HASH };
  const prevHash = chain.length > 0 ? chain.hash : GENESIS_HASH;
  const entry: ResultChainedEvent = {
    solution: r.solution,
    index: chain.length,
    roundId: r.roundId,
    result: t.result,
    tally: t,
    prevHash,
    hash: chainHash(prevHash, r.roundId, t.result, t),
  };
  return [
    ...events,
    consensusEvent({ type: 'RoundSettled', data: settledEvent }),
    consensusEvent({ type: 'ResultChained', data: entry }),
    ...voteMetadata(r, t.result),
  ];
}

/** SPEC §5: eligible +1 per operator in the snapshot, correct +1 per operator whose worker voted the result. */
export function voteMetadata(r: ValidatedRound, result: string): EventData[] {
  const operators = [...r.snapshot.values()].sort();
  const votes = new Map(r.votes);
  const correct = new Set([...r.snapshot].filter(([w]) => votes.get(w) === result).map(([, o]) => o));
  const chunks = Math.max(1, Math.ceil(operators.length / METADATA_CHUNK));
  return Array.from({ length: chunks }, (_, c): EventData => {
    const eligibleOperators = operators.slice(c * METADATA_CHUNK, (c + 1) * METADATA_CHUNK);
    const data: VoteMetadataEvent = {
      group: r.group,
      rewardPeriod: r.period,
      solution: r.solution,
      roundId: r.roundId,
      chunk: c,
      chunks,
      eligibleOperators,
      correctOperators: eligibleOperators.filter((o) => correct.has(o)),
    };
    return consensusEvent({ type: 'VoteMetadata', data });
  });
}
