import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { extendMerkleTree, leafHash, merkleProof, merkleRoot, rootFromProof } from './merkle.js';
import { tally, tallyCounts, voteCounts } from './tally.js';
import type { Tally } from '@ewx/platform/domain';

/*
 * Differential tests: the settle path was made faster (counts and complete Merkle groups kept as
 * votes are recorded, one reused buffer per node hash). The functions below are the implementations
 * before that change, kept verbatim as the reference; the new ones must give the same bytes.
 */
const refSha = (b: Buffer): Buffer => createHash('sha256').update(b).digest();
const refNodeHash = (children: readonly Buffer[]): Buffer => refSha(Buffer.concat([Buffer.from([1]), ...children]));
function refNextLevel(level: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < level.length; i += 16) out.push(refNodeHash(level.slice(i, i + 16)));
  return out;
}
function refRoot(leaves: readonly Buffer[]): string {
  if (leaves.length === 0) return '00'.repeat(32);
  let level = leaves;
  while (level.length > 1) level = refNextLevel(level);
  return level[0]!.toString('hex');
}
function refProof(leaves: readonly Buffer[], index: number): { position: number; group: string[] }[] {
  const steps: { position: number; group: string[] }[] = [];
  let level = leaves;
  let i = index;
  while (level.length > 1) {
    const start = i - (i % 16);
    steps.push({ position: i - start, group: level.slice(start, start + 16).map((b) => b.toString('hex')) });
    level = refNextLevel(level);
    i = Math.floor(i / 16);
  }
  return steps;
}
function refTally(eligible: number, results: readonly string[], quorumPercent: number, voteThresholdPercent: number): Tally {
  const counts = new Map<string, number>();
  let submitted = 0;
  for (const r of results) {
    counts.set(r, (counts.get(r) ?? 0) + 1);
    submitted++;
  }
  let top = 0;
  let topResult: string | undefined;
  let tied = false;
  for (const [r, n] of counts) {
    if (n > top) {
      top = n;
      topResult = r;
      tied = false;
    } else if (n === top) tied = true;
  }
  const base = { eligible, submitted, top };
  if (submitted === 0 || submitted * 100 < quorumPercent * eligible) return { ...base, outcome: 'UNRESOLVED', reason: 'NO_QUORUM' };
  if (top * 100 < voteThresholdPercent * submitted) return { ...base, outcome: 'UNRESOLVED', reason: 'NO_MAJORITY' };
  if (tied) return { ...base, outcome: 'UNRESOLVED', reason: 'TIE' };
  return { ...base, outcome: 'SETTLED', result: topResult! };
}

const worker = (i: number): string => `ed25519:${i.toString(16).padStart(64, '0')}`;

describe('settle path equals the reference implementation', () => {
  test('Merkle root, built all at once or extended chunk by chunk as votes are recorded, and every proof', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4200 }),
        fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 8 }),
        fc.integer({ min: 1, max: 3 }),
        (n, chunkSizes, resultBytes) => {
          const leaves = Array.from({ length: n }, (_, i) => leafHash(worker(i), ((i * 7) % 251).toString(16).padStart(2 * resultBytes, '0')));
          const expected = refRoot(leaves);
          assert.equal(merkleRoot(leaves), expected);
          // The consensus fold: leaves appended in chunks, the tree extended after each, roots asked in between.
          const grown: Buffer[] = [];
          let at = 0;
          for (const size of [...chunkSizes, n]) {
            for (const l of leaves.slice(at, at + size)) grown.push(l);
            at = Math.min(n, at + size);
            extendMerkleTree(grown);
            assert.equal(merkleRoot(grown), refRoot(grown));
          }
          assert.equal(merkleRoot(grown), expected);
          for (const i of n === 0 ? [] : [0, n - 1, Math.floor(n / 2), Math.floor(n / 3)]) {
            const steps = merkleProof(grown, i);
            assert.deepEqual(steps, refProof(leaves, i));
            assert.equal(rootFromProof(leaves[i]!.toString('hex'), steps), expected);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  test('an array changed other than by appending is folded again, not served from the cache', () => {
    const leaves = Array.from({ length: 300 }, (_, i) => leafHash(worker(i), 'aa'));
    merkleRoot(leaves);
    leaves[leaves.length - 1] = leafHash(worker(9999), 'bb');
    assert.equal(merkleRoot(leaves), refRoot(leaves));
    leaves.splice(10, 50);
    assert.equal(merkleRoot(leaves), refRoot(leaves));
  });

  test('tally, from the results or from counts kept as votes are recorded', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('aa', 'bb', 'cc', 'dd', '00'), { maxLength: 400 }),
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 1, max: 50 }),
        (results, extra, quorum, threshold, chunk) => {
          const eligible = results.length + extra;
          const expected = refTally(eligible, results, quorum, threshold);
          assert.deepEqual(tally({ eligible, results, quorumPercent: quorum, voteThresholdPercent: threshold }), expected);
          const votes: [string, string][] = [];
          for (let i = 0; i < results.length; i += chunk) {
            for (let j = i; j < Math.min(results.length, i + chunk); j++) votes.push([worker(j), results[j]!]);
            voteCounts(votes);
          }
          assert.deepEqual(tallyCounts({ eligible, counts: voteCounts(votes), quorumPercent: quorum, voteThresholdPercent: threshold }), expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
