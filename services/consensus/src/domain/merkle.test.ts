import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { EMPTY_ROOT, leafHash, merkleProof, merkleRoot, rootFromProof } from './merkle.js';

const sha = (...parts: Buffer[]): string => createHash('sha256').update(Buffer.concat(parts)).digest('hex');
const w = (i: number): string => `ed25519:${i.toString(16).padStart(64, '0')}`;

/** An auditor's check written from the documented format alone, not from merkle.ts. */
function auditorVerifies(worker: string, resultHex: string, steps: readonly { position: number; group: readonly string[] }[], root: string): boolean {
  let h = sha(Buffer.from([0]), Buffer.from(worker, 'utf8'), Buffer.from([0x0a]), Buffer.from(resultHex, 'hex'));
  for (const s of steps) {
    if (s.group[s.position] !== h) return false;
    h = sha(Buffer.from([1]), ...s.group.map((x) => Buffer.from(x, 'hex')));
  }
  return h === root;
}

describe('vote Merkle tree', () => {
  for (const n of [1, 2, 15, 16, 17, 300]) {
    test(`${n} votes: every worker's inclusion proof recomputes the root independently`, () => {
      const votes = Array.from({ length: n }, (_, i) => [w(i), (i % 3).toString(16).padStart(2, '0')] as const);
      const leaves = votes.map(([a, r]) => leafHash(a, r));
      const root = merkleRoot(leaves);
      for (let i = 0; i < n; i++) {
        const steps = merkleProof(leaves, i);
        assert.ok(auditorVerifies(votes[i]![0], votes[i]![1], steps, root), `proof of vote ${i}`);
        assert.equal(rootFromProof(leaves[i]!.toString('hex'), steps), root);
      }
    });
  }

  test('a proof for another result, or a tampered path, fails', () => {
    const votes = Array.from({ length: 40 }, (_, i) => [w(i), 'aa'] as const);
    const leaves = votes.map(([a, r]) => leafHash(a, r));
    const root = merkleRoot(leaves);
    const steps = merkleProof(leaves, 7);
    assert.ok(!auditorVerifies(w(7), 'ab', steps, root));
    const tampered = steps.map((s, k) => (k === 1 ? { ...s, group: s.group.map((g, j) => (j === 0 ? '00'.repeat(32) : g)) } : s));
    assert.ok(!auditorVerifies(w(7), 'aa', tampered, root));
  });

  test('the root depends on every vote; no votes give the empty root', () => {
    const a = merkleRoot([leafHash(w(1), 'aa'), leafHash(w(2), 'bb')]);
    const b = merkleRoot([leafHash(w(1), 'aa'), leafHash(w(2), 'bc')]);
    assert.notEqual(a, b);
    assert.equal(merkleRoot([]), EMPTY_ROOT);
  });
});
