import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { REGISTRY_TREASURY } from '../contracts/events.js';
import { DomainError } from '../errors.js';
import { authenticate, checkAuth, MAX_NONCE, signCommand, type Signed } from './command.js';
import { generateKeyPair, isAddress, isSignerAddress, keyPairFromSeed, signBytes, signerKeyProblem, SMALL_ORDER_Y, verifyBytes } from './keys.js';

interface Vector {
  readonly message: string;
  readonly pub_key: string;
  readonly signature: string;
  readonly strict: boolean;
}
interface Fixture {
  readonly speccheck: readonly (Vector & { readonly index: number; readonly comment: string; readonly libsodium: boolean })[];
  readonly constructed: readonly (Vector & { readonly name: string })[];
}
// The fixture is source, not compiled: read it next to this file's source.
const fixture = JSON.parse(readFileSync(new URL('../../src/auth/ed25519-vectors.json', import.meta.url), 'utf8')) as Fixture;
const hex = (h: string): Buffer => Buffer.from(h, 'hex');
const verifies = (v: Vector): boolean => verifyBytes(`ed25519:${v.pub_key}`, hex(v.message), hex(v.signature));

test('strict verification: the ed25519-speccheck ("Taming the many EdDSAs") vectors — only vector 3 verifies, as in libsodium', () => {
  assert.equal(fixture.speccheck.length, 12);
  for (const v of fixture.speccheck) {
    assert.equal(verifies(v), v.strict, `vector ${v.index} (${v.comment}): expected ${v.strict ? 'accept' : 'reject'}`);
    assert.equal(v.strict, v.libsodium, `vector ${v.index}: the fixture's strict profile is libsodium's`);
  }
});

test('strict verification: constructed cases (treasury forgery, S + L, non-canonical R and A)', () => {
  for (const v of fixture.constructed) assert.equal(verifies(v), v.strict, v.name);
});

test('the treasury forgery R = 01‖0^31, S = 0 verifies for no message', () => {
  const forged = Buffer.concat([Buffer.from([1]), Buffer.alloc(63)]);
  for (let i = 0; i < 200; i++) assert.equal(verifyBytes(REGISTRY_TREASURY, Buffer.from(`message ${i}`), forged), false);
  // A real key with a real signature still verifies, and one flipped bit does not.
  const k = keyPairFromSeed('11'.repeat(32));
  const sig = signBytes(k, Buffer.from('hello'));
  assert.equal(verifyBytes(k.address, Buffer.from('hello'), sig), true);
  assert.equal(verifyBytes(k.address, Buffer.from('hellp'), sig), false);
  assert.equal(verifyBytes(k.address, Buffer.from('hello'), sig.subarray(0, 63)), false);
  assert.equal(verifyBytes('nobody', Buffer.from('hello'), sig), false);
});

test('SMALL_ORDER_Y is exactly the y coordinates of the 8-torsion subgroup (checked with @noble/curves)', () => {
  const { Point } = ed25519;
  const L = Point.Fn.ORDER;
  // The torsion component of a mixed-order point (speccheck vector 3's key) is P·L; it generates the 8 points.
  const P = Point.fromHex(fixture.speccheck[3]!.pub_key);
  const T = P.multiplyUnsafe(L - 1n).add(P);
  const torsion: InstanceType<typeof Point>[] = [];
  let Q = Point.ZERO;
  for (let i = 0; i < 8; i++) {
    torsion.push(Q);
    Q = Q.add(T);
  }
  assert.ok(Q.equals(Point.ZERO), 'T has order dividing 8');
  const encodings = new Set(torsion.map((t) => t.toHex()));
  assert.equal(encodings.size, 8, 'T has order exactly 8');
  const ys = new Set(
    torsion.map((t) => {
      const b = Buffer.from(t.toBytes());
      b[31]! &= 0x7f;
      return b.toString('hex');
    }),
  );
  assert.deepEqual([...ys].sort(), [...SMALL_ORDER_Y].sort());
  for (const e of encodings) {
    assert.ok(Point.fromHex(e).isSmallOrder());
    assert.equal(isSignerAddress(`ed25519:${e}`), false, e);
    assert.match(signerKeyProblem(`ed25519:${e}`) ?? '', /small order|treasury/);
  }
});

test('signer addresses: real keys can sign; the treasury, small-order, non-canonical and off-curve keys cannot', () => {
  const k = generateKeyPair();
  assert.equal(isSignerAddress(k.address), true);
  assert.equal(signerKeyProblem(k.address), undefined);
  // The treasury stays a valid address (a destination), but never a signer.
  assert.equal(isAddress(REGISTRY_TREASURY), true);
  assert.equal(isSignerAddress(REGISTRY_TREASURY), false);
  assert.match(signerKeyProblem(REGISTRY_TREASURY)!, /registry treasury: an account without a key/);
  assert.match(signerKeyProblem('ed25519:edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')!, /non-canonical/);
  assert.match(signerKeyProblem('ed25519:0100000000000000000000000000000000000000000000000000000000000080')!, /small order/);
  assert.match(signerKeyProblem('ed25519:' + 'ab'.repeat(32).toUpperCase())!, /expected ed25519:<64 lowercase hex>/);
  // y = 2 is not the y of any curve point.
  assert.throws(() => ed25519.Point.fromHex('02' + '00'.repeat(31)));
  assert.match(signerKeyProblem('ed25519:02' + '00'.repeat(31))!, /not a point of the ed25519 curve/);
});

interface Req extends Signed {
  to: string;
  amount: string;
}
const encode = (m: Req): Uint8Array => Buffer.from(JSON.stringify([m.to, m.amount]));
const M = '/ewx.v1.Registry/Transfer';
const code = (c: string, field: RegExp) => (e: unknown) => e instanceof DomainError && e.code === c && field.test(e.message);

test('authenticate: a command "signed by the treasury" is UNAUTHENTICATED naming auth.signer, whatever the nonce', () => {
  const forged = Buffer.concat([Buffer.from([1]), Buffer.alloc(63)]);
  for (let n = 1n; n <= 64n; n++) {
    const req: Req = { to: generateKeyPair().address, amount: '1000', auth: { signer: REGISTRY_TREASURY, nonce: n, signature: forged } };
    assert.throws(() => authenticate(M, req, encode), code('UNAUTHENTICATED', /^auth\.signer: .*treasury/));
  }
  const small = 'ed25519:26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05';
  assert.throws(() => checkAuth({ auth: { signer: small, nonce: 1n, signature: forged } }), code('UNAUTHENTICATED', /^auth\.signer: .*small order/));
});

test('nonces: 1 … 2^53 − 1 are accepted; above is INVALID_ARGUMENT naming auth.nonce (2^64 − 1 would lock the account out)', () => {
  const k = generateKeyPair();
  assert.equal(MAX_NONCE, BigInt(Number.MAX_SAFE_INTEGER));
  const at = (nonce: bigint) => signCommand<Req>(k, M, { to: 'x', amount: '1', auth: undefined }, nonce, encode);
  const who = (a: { signer: string; nonce: bigint }) => ({ signer: a.signer, nonce: a.nonce });
  assert.deepEqual(who(authenticate(M, at(MAX_NONCE), encode)), { signer: k.address, nonce: MAX_NONCE });
  assert.deepEqual(who(authenticate(M, at(1n), encode)), { signer: k.address, nonce: 1n });
  for (const n of [MAX_NONCE + 1n, 2n ** 63n, 2n ** 64n - 1n]) {
    assert.throws(() => authenticate(M, at(n), encode), code('INVALID_ARGUMENT', /^auth\.nonce: must be at most 9007199254740991/));
  }
});
