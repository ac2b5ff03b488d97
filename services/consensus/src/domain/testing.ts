import { generateKeyPair, signBytes, type EventData, type KeyPair, type RecordedEvent, type Tally } from '@ewx/platform';
import { spec, type Spec } from '@ewx/platform/testing';
import { decide, type ConsensusCommand } from './decider.js';
import { evolve, foldVoteMetadata, type VoteCounts } from './evolve.js';
import { attestationBytes, evaluateRound } from './settle.js';
import { initialConsensusState, roundKey, type ConsensusState } from './state.js';

/*
 * Test support for consensus: given/when/then over decide and evolve, and the events voting sends
 * about a round of solution `s1` (group `g1`). No I/O.
 */

export type ConsensusSpec = Spec<ConsensusState, ConsensusCommand, EventData>;

export const consensus = (): ConsensusSpec => spec({ initialState: initialConsensusState, evolve, decide });

/** The vote counts (`group|period` → operator → eligible, correct) the events of a log give: what GetVoteMetadata answers. */
export function voteCountsOf(log: readonly EventData[]): VoteCounts {
  const counts: VoteCounts = new Map();
  for (const e of log) foldVoteMetadata(counts, e as unknown as RecordedEvent);
  return counts;
}

export const ev = (type: string, data: object): EventData => ({ type, data: data as never });

/** Worker `i`'s address, and its operator's (distinct for every i below 0xf00000). */
export const worker = (i: number): string => `ed25519:${'0'.repeat(58)}${(0x100000 + i).toString(16)}`;
export const operator = (i: number): string => `ed25519:${'f'.repeat(58)}${(0x100000 + i).toString(16)}`;

/**
 * RoundStarted's data: round `roundId` of solution s1 in group g1, blocks 1 to 11 of period 3,
 * quorum 50 %, majority 60 %, no unresolved policy, one eligible worker in one snapshot chunk; `over`
 * replaces any of it.
 */
export const roundStartedData = (roundId: string, over: object = {}) => ({
  solution: 's1',
  roundId,
  group: 'g1',
  starter: 'x',
  startBlock: 1,
  endBlock: 11,
  period: 3,
  quorumPercent: 50,
  voteThresholdPercent: 60,
  unresolvedPolicy: 'NONE',
  eligible: 1,
  snapshotChunks: 1,
  ...over,
});

export const roundStarted = (roundId: string, over: object = {}): EventData => ev('RoundStarted', roundStartedData(roundId, over));

/** Round `roundId` opened for workers 0 to n − 1: its RoundStarted (`over` as for roundStartedData) and its snapshot. */
export const opened = (roundId: string, n: number, over: object = {}): EventData[] => [
  roundStarted(roundId, { eligible: n, ...over }),
  ev('RoundSnapshot', { solution: 's1', roundId, chunk: 0, chunks: 1, workers: Array.from({ length: n }, (_, i) => [worker(i), operator(i)]) }),
];

/** Worker `i`'s vote in round `roundId`, recorded at height 5. */
export const cast = (roundId: string, i: number, result: string): EventData =>
  ev('VoteCast', { solution: 's1', roundId, worker: worker(i), result, height: 5 });

/** Round `roundId` of solution s1 decided unresolved (no quorum of its one eligible worker), as consensus records it. */
export const roundUnresolved = (roundId: string): EventData =>
  ev('RoundUnresolved', {
    solution: 's1',
    roundId,
    tally: { eligible: 1, submitted: 0, top: 0, outcome: 'UNRESOLVED_NO_QUORUM' },
    merkleRoot: '',
    attestors: [],
    dissenters: [],
    validators: [],
  });

/** Consensus with a set of `n` new validators configured, and their keys (in place order). */
export function withValidators(n: number): { s: ConsensusSpec; keys: KeyPair[] } {
  const keys = Array.from({ length: n }, () => generateKeyPair());
  return { s: consensus().after({ type: 'ConfigureValidators', validators: keys.map((k) => k.address) }), keys };
}

/** `key`'s attestation of a round as the rules evaluate it on `state` (or as `forge` changes its tally), signed. */
export function attestation(state: ConsensusState, key: KeyPair, solution: string, roundId: string, forge?: (t: Tally) => Tally): ConsensusCommand {
  const honest = evaluateRound(state.rounds.get(roundKey(solution, roundId))!);
  const tally = forge ? forge(honest.tally) : honest.tally;
  const signature = signBytes(key, attestationBytes(solution, roundId, tally, honest.merkleRoot)).toString('hex');
  return { type: 'Attest', validator: key.address, solution, roundId, tally, merkleRoot: honest.merkleRoot, signature };
}

/** `key`'s attestation of round `roundId` of s1 on the spec's state (see `attestation`). */
export const attest = (s: ConsensusSpec, key: KeyPair, roundId = 'r1', forge?: (t: Tally) => Tally): ConsensusCommand =>
  attestation(s.state, key, 's1', roundId, forge);
