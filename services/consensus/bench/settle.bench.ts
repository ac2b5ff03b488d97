/**
 * Settling one round of 100,000 votes: the tally (SPEC §5) and the Merkle root of the votes, as a
 * validator computes them from the recorded round. Prints figures; asserts nothing about time.
 * Run: npm run bench -w @ewx/consensus
 */
import { randomBytes } from 'node:crypto';
import { encodePosition, type RecordedEvent } from '@ewx/platform/domain';
import { evaluateRound, evolve, initialConsensusState, leafHash, merkleRoot, roundKey, tally, type ValidatedRound } from '../src/domain/decider.js';

const N = 100_000;
const votes: [string, string][] = Array.from({ length: N }, (_, i) => [`ed25519:${randomBytes(32).toString('hex')}`, i % 10 < 7 ? 'aa'.repeat(32) : randomBytes(32).toString('hex')]);
votes.sort((a, b) => (a[0] < b[0] ? -1 : 1));
/**
 * A round as consensus's fold records it: `evolve` of the round's VoteCast events, in the order of
 * arrival (not by worker; each leaf hashed as it arrives), then of its RoundClosed (v2), which sorts
 * them by worker, counts the results and folds the complete Merkle groups.
 */
const runs = { tally: [] as number[], leaves: [] as number[], root: [] as number[], settle: [] as number[], record: [] as number[], close: [] as number[] };
const arrival = [...votes].sort(() => Math.random() - 0.5);
const at = (type: string, data: object): RecordedEvent => ({ streamId: 'inbox:voting:round:s:r', version: 0, position: encodePosition([1n]), type, data: data as never });
const recorded = (): ValidatedRound => {
  const s = initialConsensusState();
  evolve(s, at('RoundStarted', { solution: 's', roundId: 'r', group: 'g', starter: 'x', startBlock: 1, endBlock: 2, rewardPeriod: 0, quorumPercent: 50, voteThresholdPercent: 60, unresolvedPolicy: 'NONE', eligible: N, snapshotChunks: 1 }));
  evolve(s, at('RoundSnapshot', { solution: 's', roundId: 'r', chunk: 0, chunks: 1, workers: votes.map(([w], i) => [w, `op${i}`]) }));
  for (const [worker, result] of arrival) evolve(s, at('VoteCast', { solution: 's', roundId: 'r', worker, result, height: 1 }));
  const t = performance.now();
  evolve(s, at('RoundClosed', { solution: 's', roundId: 'r', height: 2, submitted: N }));
  runs.close.push(performance.now() - t);
  return s.rounds.get(roundKey('s', 'r'))!;
};

const time = <T>(fn: () => T): [T, number] => { const t = performance.now(); const r = fn(); return [r, performance.now() - t]; };
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

for (let i = 0; i < 7; i++) {
  const [round, tr] = time(recorded);
  if (round.votes.length !== N || evaluateRound(round).merkleRoot !== merkleRoot(votes.map(([w, r]) => leafHash(w, r)))) throw new Error('the recorded round differs from the votes');
  runs.record.push(tr);
  runs.tally.push(time(() => tally({ eligible: N, results: votes.map((v) => v[1]), quorumPercent: 50, voteThresholdPercent: 60 }))[1]);
  const [leaves, tl] = time(() => votes.map(([w, r]) => leafHash(w, r)));
  runs.leaves.push(tl);
  runs.root.push(time(() => merkleRoot(leaves))[1]);
  runs.settle.push(time(() => evaluateRound(round))[1]);
}
// Baseline: one SHA-256 per vote (a Merkle root needs at least as many hashes as leaves).
const { createHash } = await import('node:crypto');
const inputs = votes.map(([w, r]) => Buffer.from(w + r));
const base: number[] = [];
for (let i = 0; i < 7; i++) base.push(time(() => { for (const b of inputs) createHash('sha256').update(b).digest(); })[1]);
const t = tally({ eligible: N, results: votes.map((v) => v[1]), quorumPercent: 50, voteThresholdPercent: 60 });
console.log(JSON.stringify({
  bench: 'settle one round', votes: N, outcome: t.outcome, top: t.top,
  medianMs: { tally: +median(runs.tally).toFixed(1), leafHashes: +median(runs.leaves).toFixed(1), merkleRootFromLeaves: +median(runs.root).toFixed(1), settle_tallyPlusRoot: +median(runs.settle).toFixed(1), recordingVotes_evolveOfVoteCastsAndClose: +median(runs.record).toFixed(1), ofWhichTheClose_sortCountsTreeGroups: +median(runs.close).toFixed(1), includingRecording: +(median(runs.settle) + median(runs.record)).toFixed(1) },
  note: 'leaf hashes are computed as the VoteCast events are recorded, and the sort by worker, result counts and complete 16-child Merkle groups when the RoundClosed is applied, not at settlement; tally and merkleRootFromLeaves are the from-scratch figures over 100,000 results/leaves',
  minMs: { settle_tallyPlusRoot: +Math.min(...runs.settle).toFixed(2), tally: +Math.min(...runs.tally).toFixed(1), merkleRootFromLeaves: +Math.min(...runs.root).toFixed(1) },
  targetMs: 100, issueGoalMs: 20, issueGoalMet: median(runs.settle) < 20,
  baselineMs: { oneSha256PerVote: +median(base).toFixed(1) }, loadAverage: (await import('node:os')).loadavg().map((x) => +x.toFixed(1)),
}, null, 1));
