import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DomainError } from '../errors.js';
import { authenticate, signCommand, type Signed, type WireAuth } from './command.js';
import { generateKeyPair, isAddress, keyPairFromSeed } from './keys.js';

interface Req extends Signed { account: string; amount: string }
const encode = (m: Req): Uint8Array => Buffer.from(JSON.stringify([m.account, m.amount]));
const M = '/ewx.v1.Registry/Deposit';

test('keys: a seed gives the same address every time; addresses are ed25519:<64 hex>', () => {
  const k = generateKeyPair();
  assert.ok(isAddress(k.address));
  assert.equal(keyPairFromSeed(k.seed).address, k.address);
  assert.equal(keyPairFromSeed('00'.repeat(32)).address, 'ed25519:3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29');
  assert.ok(!isAddress('0x' + '00'.repeat(32)));
});

test('signed commands: verify; tampering, another method or another signer is UNAUTHENTICATED', () => {
  const k = generateKeyPair();
  const signed = signCommand<Req>(k, M, { auth: undefined, account: 'a', amount: '1' }, 7n, encode);
  const auth = signed.auth as WireAuth;
  assert.deepEqual(authenticate(M, signed, encode), { signer: k.address, nonce: 7n });
  const unauth = (e: unknown) => e instanceof DomainError && e.code === 'UNAUTHENTICATED';
  assert.throws(() => authenticate(M, { ...signed, amount: '2' }, encode), unauth);
  assert.throws(() => authenticate('/ewx.v1.Registry/Withdraw', signed, encode), unauth);
  assert.throws(() => authenticate(M, { ...signed, auth: { ...auth, nonce: 8n } }, encode), unauth);
  assert.throws(() => authenticate(M, { ...signed, auth: { ...auth, signer: generateKeyPair().address } }, encode), unauth);
  assert.throws(() => authenticate(M, { ...signed, auth: undefined }, encode), unauth);
  assert.throws(() => authenticate(M, { ...signed, auth: { ...auth, signer: 'nobody' } }, encode), unauth);
  assert.throws(() => authenticate(M, { ...signed, auth: { ...auth, nonce: 0n } }, encode), (e) => e instanceof DomainError && e.code === 'INVALID_ARGUMENT');
});
