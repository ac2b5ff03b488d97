/**
 * Settling one round of 100,000 votes: the tally (SPEC §5) and the Merkle root of the votes, as a
 * validator computes them from the recorded round. Prints figures; asserts nothing about time.
 * Run: npm run bench -w @ewx/consensus
 */
import { randomBytes } from 'node:crypto';
import { evaluateRound, leafHash, merkleRoot, tally, type ValidatedRound } from '../src/domain/decider.js';

const N = 100_000;
const votes: [string, string][] = Array.from({ length: N }, (_, i) => [`ed25519:${randomBytes(32).toString('hex')}`, i % 10 < 7 ? 'aa'.repeat(32) : randomBytes(32).toString('hex')]);
votes.sort((a, b) => (a[0] < b[0] ? -1 : 1));
const round: ValidatedRound = {
  solution: 's', roundId: 'r', group: 'g', period: 0, quorumPercent: 50, voteThresholdPercent: 60, eligible: N, snapshotChunks: 1, snapshotReceived: 1,
  snapshot: new Map(votes.map(([w], i) => [w, `op${i}`])), voteChunks: 1, voteChunksReceived: 1, votes, leaves: votes.map(([w, r]) => leafHash(w, r)),
  attestations: new Map(), status: 'CLOSED',
};

const time = <T>(fn: () => T): [T, number] => { const t = performance.now(); const r = fn(); return [r, performance.now() - t]; };
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const runs = { tally: [] as number[], leaves: [] as number[], root: [] as number[], settle: [] as number[] };
for (let i = 0; i < 7; i++) {
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
  medianMs: { tally: +median(runs.tally).toFixed(1), leafHashes: +median(runs.leaves).toFixed(1), merkleRootFromLeaves: +median(runs.root).toFixed(1), settle_tallyPlusRoot: +median(runs.settle).toFixed(1), includingLeafHashing: +(median(runs.settle) + median(runs.leaves)).toFixed(1) },
  note: 'leaf hashes are computed as the votes are recorded (RoundClosed applied), not at settlement',
  targetMs: 100, issueGoalMs: 20, issueGoalMet: median(runs.settle) < 20,
  baselineMs: { oneSha256PerVote: +median(base).toFixed(1) }, loadAverage: (await import('node:os')).loadavg().map((x) => +x.toFixed(1)),
}, null, 1));
