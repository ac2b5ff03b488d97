import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { REPO_ROOT } from '@ewx/platform/testing';
import { vectors } from './tools/make-vectors.js';

interface Tally {
  eligible: number;
  submitted: number;
  top: number;
  outcome: string;
  result?: string;
  reason?: string;
}
interface Tree {
  votes: [string, string][];
  leaves?: string[];
  root: string;
  proofs?: { index: number; steps: { position: number; group: string[] }[] }[];
}
interface Vectors {
  merkle: Record<string, Tree>;
  tally: { tally: Tally; text: string }[];
  chain: { prevHash: string; roundId: string; result: string; tally: Tally; hash: string }[];
  attestation: { seed: string; validator: string; solution: string; roundId: string; tally: Tally; merkleRoot: string; bytes: string; signature: string };
}

const file = JSON.parse(readFileSync(resolve(REPO_ROOT, 'docs/audit-vectors.json'), 'utf8')) as Vectors;

// ---- an outside verifier, written from docs/AUDIT.md alone (no import from the services) ----
const sha = (...parts: Buffer[]): Buffer => createHash('sha256').update(Buffer.concat(parts)).digest();
const leaf = (worker: string, result: string): Buffer => sha(Buffer.from([0]), Buffer.from(worker, 'utf8'), Buffer.from([0x0a]), Buffer.from(result, 'hex'));
function root(leaves: Buffer[]): string {
  if (leaves.length === 0) return '00'.repeat(32);
  let level = leaves;
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 16) next.push(sha(Buffer.from([1]), ...level.slice(i, i + 16)));
    level = next;
  }
  return level[0]!.toString('hex');
}
function proves(leafHex: string, steps: { position: number; group: string[] }[], rootHex: string): boolean {
  let h = leafHex;
  for (const s of steps) {
    if (s.group.length > 16 || s.group[s.position] !== h) return false;
    h = sha(Buffer.from([1]), ...s.group.map((g) => Buffer.from(g, 'hex'))).toString('hex');
  }
  return h === rootHex;
}
const tallyText = (t: Tally): string => `${t.outcome}|${t.result ?? ''}|${t.reason ?? ''}|E=${t.eligible}|S=${t.submitted}|top=${t.top}`;
const chainHash = (prev: string, roundId: string, result: string, t: Tally): string =>
  sha(Buffer.from(`ewx/v1/result-chain\n${prev}\n${roundId}\n${result}\n${tallyText(t)}`, 'utf8')).toString('hex');
const attestationBytes = (solution: string, roundId: string, t: Tally, merkleRoot: string): Buffer =>
  Buffer.from(`ewx/v1/attestation\n${solution}\n${roundId}\n${tallyText(t)}\n${merkleRoot}`, 'utf8');

describe('docs/audit-vectors.json', () => {
  test("the services' code gives exactly the committed vectors", () => {
    assert.deepEqual(JSON.parse(JSON.stringify(vectors())), file);
  });

  test('an independent verifier written from docs/AUDIT.md reproduces every vector', () => {
    for (const [name, t] of Object.entries(file.merkle)) {
      const leaves = t.votes.map(([w, r]) => leaf(w, r));
      if (t.leaves)
        assert.deepEqual(
          leaves.map((l) => l.toString('hex')),
          t.leaves,
          `${name} leaves`,
        );
      assert.equal(root(leaves), t.root, `${name} root`);
      for (const p of t.proofs ?? []) {
        assert.ok(proves(leaves[p.index]!.toString('hex'), p.steps, t.root), `${name} proof of ${p.index}`);
        assert.ok(!proves(leaf(t.votes[p.index]![0], 'ff').toString('hex'), p.steps, t.root) || t.votes.length === 0, `${name}: another result is not proven`);
      }
    }
    for (const x of file.tally) assert.equal(tallyText(x.tally), x.text);
    let prev = '00'.repeat(32);
    for (const c of file.chain) {
      assert.equal(c.prevHash, prev);
      assert.equal(chainHash(c.prevHash, c.roundId, c.result, c.tally), c.hash);
      prev = c.hash;
    }
    const a = file.attestation;
    const bytes = attestationBytes(a.solution, a.roundId, a.tally, a.merkleRoot);
    assert.equal(bytes.toString('hex'), a.bytes);
    const publicKey = Buffer.from(a.validator.slice('ed25519:'.length), 'hex');
    assert.deepEqual(Buffer.from(ed25519.getPublicKey(Buffer.from(a.seed, 'hex'))), publicKey);
    assert.ok(ed25519.verify(Buffer.from(a.signature, 'hex'), bytes, publicKey));
    const other = Buffer.from(bytes);
    other[other.length - 1] ^= 1;
    assert.ok(!ed25519.verify(Buffer.from(a.signature, 'hex'), other, publicKey), 'one changed byte fails');
  });
});
