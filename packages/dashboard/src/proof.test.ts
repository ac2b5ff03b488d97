import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { checkProof, leafOf } from './proof.js';

// Expectations computed with Node's own sha256, by the rules of docs/AUDIT.md, not with the page's hash library.
const sha = (...parts: Buffer[]): string => createHash('sha256').update(Buffer.concat(parts)).digest('hex');
const W0 = `ed25519:${'a'.repeat(64)}`;
const W1 = `ed25519:${'b'.repeat(64)}`;
const leaf0 = sha(Buffer.from([0]), Buffer.from(W0), Buffer.from([0x0a]), Buffer.from('c0ffee', 'hex'));
const leaf1 = sha(Buffer.from([0]), Buffer.from(W1), Buffer.from([0x0a]), Buffer.from('aa', 'hex'));
const root = sha(Buffer.from([1]), Buffer.from(leaf0, 'hex'), Buffer.from(leaf1, 'hex'));

test('the leaf of a vote: sha256(0x00 ‖ worker ‖ 0x0A ‖ result bytes)', () => {
  assert.equal(leafOf(W0, 'c0ffee'), leaf0);
});

test('a proof that hashes up to the root is valid; one vote: the root is its leaf', () => {
  assert.deepEqual(checkProof({ worker: W1, result: 'aa', leaf: leaf1, steps: [{ position: 1, group: [leaf0, leaf1] }] }, root), { valid: true });
  assert.deepEqual(checkProof({ worker: W0, result: 'c0ffee', leaf: leaf0, steps: [] }, leaf0), { valid: true });
});

test('a changed vote, a wrong position or another root is refused, with the reason', () => {
  const bad = [
    checkProof({ worker: W0, result: 'c0ffef', leaf: leaf0, steps: [{ position: 0, group: [leaf0, leaf1] }] }, root),
    checkProof({ worker: W0, result: 'c0ffee', leaf: leaf0, steps: [{ position: 1, group: [leaf0, leaf1] }] }, root),
    checkProof({ worker: W0, result: 'c0ffee', leaf: leaf0, steps: [{ position: 0, group: [leaf0, leaf1] }] }, leaf1),
  ];
  assert.deepEqual(
    bad.map((b) => b.valid),
    [false, false, false],
  );
  assert.match(bad[0]!.reason!, /leaf/);
  assert.match(bad[1]!.reason!, /position 1/);
  assert.match(bad[2]!.reason!, /Merkle root/);
});
