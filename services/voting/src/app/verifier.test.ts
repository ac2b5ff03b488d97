import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateKeyPair, signBytes, verifyBytes } from '@ewx/platform';
import { CHUNK, libsodium, signatureCheck, threadVerifier } from './verifier.js';

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const le = (n: bigint): Buffer => Buffer.from(Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn)));
const fromLe = (b: Uint8Array): bigint => b.reduce((acc, x, i) => acc + (BigInt(x) << BigInt(8 * i)), 0n);

/** Signatures the rule accepts and refuses for every reason it has. */
function cases(): { what: string; a: string; b: Uint8Array; s: Uint8Array }[] {
  const k = generateKeyPair();
  const msg = Buffer.from('/ewx.v1.Voting/SubmitVote 1 vote');
  const sig = signBytes(k, msg);
  const tampered = Buffer.from(sig);
  tampered[5]! ^= 1;
  const sPlusL = Buffer.concat([sig.subarray(0, 32), le(fromLe(sig.subarray(32)) + L)]);
  const smallR = Buffer.concat([Buffer.from([1, ...Array(31).fill(0)]), sig.subarray(32)]);
  const sr = generateKeyPair('sr25519');
  const out = [
    { what: 'valid', a: k.address, b: msg, s: sig },
    { what: 'another message', a: k.address, b: Buffer.from('other'), s: sig },
    { what: 'tampered R', a: k.address, b: msg, s: tampered },
    { what: 'S + L (non-canonical S)', a: k.address, b: msg, s: sPlusL },
    { what: 'small-order R', a: k.address, b: msg, s: smallR },
    { what: '63 bytes', a: k.address, b: msg, s: sig.subarray(0, 63) },
    { what: 'another key', a: generateKeyPair().address, b: msg, s: sig },
    { what: 'small-order key', a: `ed25519:01${'00'.repeat(31)}`, b: msg, s: sig },
    { what: 'not an address', a: 'nobody', b: msg, s: sig },
    { what: 'sr25519 valid', a: sr.address, b: msg, s: signBytes(sr, msg) },
    { what: 'sr25519 other message', a: sr.address, b: Buffer.from('other'), s: signBytes(sr, msg) },
  ];
  for (let i = 0; i < 20; i++) {
    const w = generateKeyPair();
    const m = Buffer.from(`vote ${i}`);
    out.push({ what: `valid ${i}`, a: w.address, b: m, s: signBytes(w, m) });
  }
  return out;
}

describe('voting: signature checks', () => {
  test('libsodium is installed and answers first; every answer is the rule’s (verifyBytes)', () => {
    const fast = libsodium();
    assert.ok(fast, 'sodium-native loads (optional dependency of @ewx/voting)');
    let asked = 0;
    const check = signatureCheck((s, m, k) => {
      asked++;
      return fast(s, m, k);
    });
    const all = cases();
    for (const c of all) assert.equal(check(c.a, c.b, c.s), verifyBytes(c.a, c.b, c.s), c.what);
    assert.ok(all.filter((c) => c.what.startsWith('valid')).every((c) => check(c.a, c.b, c.s)));
    assert.ok(asked >= 21, `libsodium asked ${asked} times`);
    // A wrong "valid" from the fast path is impossible only if it is never believed for keys the rule refuses.
    const liar = signatureCheck(() => true);
    assert.equal(liar(`ed25519:01${'00'.repeat(31)}`, Buffer.from('x'), Buffer.alloc(64)), false, 'a small-order key never reaches the fast path');
    assert.equal(liar('nobody', Buffer.from('x'), Buffer.alloc(64)), false);
  });

  test(`thread verifier: answers in order, in chunks of ${CHUNK}, equal to the rule`, async () => {
    const v = threadVerifier(2);
    try {
      const base = cases();
      const many = Array.from({ length: 5 * CHUNK + 7 }, (_, i) => base[i % base.length]!);
      const got = await Promise.all(many.map((c) => v.verify(c.a, Buffer.from(c.b), c.s)));
      assert.deepEqual(
        got,
        many.map((c) => verifyBytes(c.a, c.b, c.s)),
      );
      assert.ok(got.some((x) => x) && got.some((x) => !x));
    } finally {
      await v.close();
    }
  });

  test('a thread that is gone answers nothing: its signatures are checked on the calling thread, none waits for ever', async () => {
    const v = threadVerifier(2);
    const base = cases();
    const many = Array.from({ length: 3 * CHUNK }, (_, i) => base[i % base.length]!);
    const pending = many.map((c) => v.verify(c.a, Buffer.from(c.b), c.s));
    // The threads are terminated before (or while) they answer: every promise still settles, with the rule's answer.
    await new Promise((r) => setImmediate(r));
    await v.close();
    assert.deepEqual(
      await Promise.all(pending),
      many.map((c) => verifyBytes(c.a, c.b, c.s)),
    );
    // After the stop, a late check is answered too.
    assert.equal(await v.verify(base[0]!.a, Buffer.from(base[0]!.b), base[0]!.s), true);
  });
});
