import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DomainError } from '../errors.js';
import { authenticate, authenticateCosigner, cosignCommand, PROOF_PAYLOAD_LIMIT, proven, signCommand, type Signed, type WireAuth } from './command.js';
import { generateKeyPair, isAddress, keyPairFromSeed } from './keys.js';

interface Req extends Signed {
  account: string;
  amount: string;
}
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
  // With the proof that lets the log alone show the signature: method, payload (request without auth), signature.
  assert.deepEqual(authenticate(M, signed, encode), {
    signer: k.address,
    nonce: 7n,
    proof: {
      method: M,
      payload: Buffer.from(encode({ ...signed, auth: undefined })).toString('base64'),
      signature: Buffer.from(auth.signature).toString('hex'),
    },
  });
  const unauth = (e: unknown) => e instanceof DomainError && e.code === 'UNAUTHENTICATED';
  assert.throws(() => authenticate(M, { ...signed, amount: '2' }, encode), unauth);
  assert.throws(() => authenticate('/ewx.v1.Registry/Withdraw', signed, encode), unauth);
  assert.throws(() => authenticate(M, { ...signed, auth: { ...auth, nonce: 8n } }, encode), unauth);
  assert.throws(() => authenticate(M, { ...signed, auth: { ...auth, signer: generateKeyPair().address } }, encode), unauth);
  assert.throws(() => authenticate(M, { ...signed, auth: undefined }, encode), unauth);
  assert.throws(() => authenticate(M, { ...signed, auth: { ...auth, signer: 'nobody' } }, encode), unauth);
  assert.throws(
    () => authenticate(M, { ...signed, auth: { ...auth, nonce: 0n } }, encode),
    (e) => e instanceof DomainError && e.code === 'INVALID_ARGUMENT',
  );
});

test('co-signatures: a second account signs the same payload with its own nonce; verified per field', () => {
  interface Pair extends Signed {
    worker: string;
    workerAuth?: WireAuth | undefined;
  }
  const enc = (m: Pair): Uint8Array => Buffer.from(JSON.stringify([m.worker]));
  const W = '/ewx.v1.Registry/ConnectWorker';
  const [op, wk] = [generateKeyPair(), generateKeyPair()];
  const req: Pair = { auth: undefined, worker: wk.address, workerAuth: undefined };
  const signed = { ...signCommand(op, W, req, 3n, enc), workerAuth: cosignCommand(wk, W, req, 9n, enc) };
  const payload = Buffer.from(enc(req)).toString('base64');
  assert.deepEqual(authenticate(W, signed, enc), {
    signer: op.address,
    nonce: 3n,
    proof: { method: W, payload, signature: Buffer.from(signed.auth!.signature).toString('hex') },
  });
  assert.deepEqual(authenticateCosigner(W, 'worker_auth', signed.workerAuth, signed, enc), {
    field: 'worker_auth',
    signer: wk.address,
    nonce: 9n,
    signature: Buffer.from(signed.workerAuth.signature).toString('hex'),
  });
  assert.equal(authenticateCosigner(W, 'worker_auth', undefined, signed, enc), undefined);
  const unauth = (field: string) => (e: unknown) => e instanceof DomainError && e.code === 'UNAUTHENTICATED' && e.message.startsWith(`worker_auth.${field}: `);
  const wa = signed.workerAuth;
  assert.throws(() => authenticateCosigner(W, 'worker_auth', wa, { ...signed, worker: op.address }, enc), unauth('signature'));
  assert.throws(() => authenticateCosigner('/ewx.v1.Registry/Transfer', 'worker_auth', wa, signed, enc), unauth('signature'));
  assert.throws(() => authenticateCosigner(W, 'worker_auth', { ...wa, nonce: 10n }, signed, enc), unauth('signature'));
  assert.throws(() => authenticateCosigner(W, 'worker_auth', { ...wa, signer: op.address }, signed, enc), unauth('signature'));
  assert.throws(() => authenticateCosigner(W, 'worker_auth', { ...wa, signer: 'nobody' }, signed, enc), unauth('signer'));
  assert.throws(
    () => authenticateCosigner(W, 'worker_auth', { ...wa, nonce: 0n }, signed, enc),
    (e) => e instanceof DomainError && e.code === 'INVALID_ARGUMENT' && /^worker_auth\.nonce: /.test(e.message),
  );
  // The operator's own signature is not a consent: its signing bytes name the operator.
  assert.throws(() => authenticateCosigner(W, 'worker_auth', { ...signed.auth!, signer: wk.address }, signed, enc), unauth('signature'));
});

test('proven: the first event of a command carries its proof (and the co-signatures); the others only what they had', () => {
  const [op, wk] = [generateKeyPair(), generateKeyPair()];
  const signed = signCommand<Req>(op, M, { auth: undefined, account: 'a', amount: '1' }, 5n, encode);
  const auth = authenticate(M, signed, encode);
  const decide = proven({ ...auth, cosigners: [{ field: 'worker_auth', signer: wk.address, nonce: 2n, signature: 'ab'.repeat(64) }] as never }, () => [
    { type: 'A', data: 1, metadata: { x: 1 } },
    { type: 'B', data: 2 },
  ]);
  const [a, b] = decide(undefined);
  assert.deepEqual(a!.metadata, { x: 1, proof: { ...auth.proof, cosignatures: ['ab'.repeat(64)] } });
  assert.equal(b!.metadata, undefined);
  assert.deepEqual(proven(auth, () => [])(undefined), []);
  const big = { ...signed, account: 'x'.repeat(PROOF_PAYLOAD_LIMIT + 1) };
  const hashed = authenticate(M, signCommand<Req>(op, M, big, 6n, encode), encode).proof;
  assert.equal(hashed.payload, undefined);
  assert.match(hashed.payloadSha256!, /^[0-9a-f]{64}$/);
});
