import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import * as platform from '../index.js';
import { ProduceBlocksRequest } from '@ewx/proto/consensus';
import {
  ClaimRewardsRequest,
  ConnectWorkerRequest,
  DepositRequest,
  DisconnectWorkerRequest,
  RegisterGroupRequest,
  SubscribeRequest,
  UpdateAllowListRequest,
} from '@ewx/proto/registry';
import { SetRewardPeriodLengthRequest } from '@ewx/proto/rewards';
import { SubmitVoteRequest } from '@ewx/proto/voting';
import { counterNonces, keyPairFromSeed, keySigner, signCommand, signingBytes, signVote, signWith, verifyBytes } from '@ewx/client';

/** docs/signing-vectors.json: the byte format is a contract, checked here three ways. */
interface Vector {
  name: string;
  seed: string;
  signer: string;
  method: string;
  nonce: string;
  request: unknown;
  encoded: string;
  signingBytes: string;
  signature: string;
}
const VECTORS: Vector[] = JSON.parse(readFileSync(new URL('../../../../docs/signing-vectors.json', import.meta.url), 'utf8')).vectors;

interface Codec {
  fromJSON(o: unknown): platform.Signed;
  encode(m: never): { finish(): Uint8Array };
}
const CODECS: Record<string, Codec> = {
  '/ewx.v1.Registry/Deposit': DepositRequest,
  '/ewx.v1.Consensus/ProduceBlocks': ProduceBlocksRequest,
  '/ewx.v1.Rewards/SetRewardPeriodLength': SetRewardPeriodLengthRequest,
  '/ewx.v1.Voting/SubmitVote': SubmitVoteRequest,
  '/ewx.v1.Registry/DisconnectWorker': DisconnectWorkerRequest,
  '/ewx.v1.Registry/ClaimRewards': ClaimRewardsRequest,
  '/ewx.v1.Registry/UpdateAllowList': UpdateAllowListRequest,
  '/ewx.v1.Registry/RegisterGroup': RegisterGroupRequest,
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('signing vectors (docs/signing-vectors.json)', () => {
  test('cover the tricky cases: empty body, repeated, nested, optional false, 64-bit nonce', () => {
    assert.ok(VECTORS.length >= 8);
    assert.ok(VECTORS.some((v) => v.encoded === ''));
    assert.ok(VECTORS.some((v) => BigInt(v.nonce) > 2n ** 32n));
  });

  for (const v of VECTORS) {
    test(`${v.name}: encoding, signing bytes and signature`, () => {
      const codec = CODECS[v.method]!;
      const key = keyPairFromSeed(v.seed);
      assert.equal(key.address, v.signer);
      const message = codec.fromJSON(v.request);
      const encode = (m: unknown): Uint8Array => codec.encode(m as never).finish();
      assert.equal(hex(encode({ ...message, auth: undefined })), v.encoded);
      const bytes = signingBytes(v.method, v.signer, BigInt(v.nonce), Buffer.from(v.encoded, 'hex'));
      assert.equal(hex(bytes), v.signingBytes);
      const signed = signCommand(key, v.method, message, BigInt(v.nonce), encode);
      assert.equal(hex((signed.auth as { signature: Uint8Array }).signature), v.signature);
      assert.ok(verifyBytes(v.signer, bytes, Buffer.from(v.signature, 'hex')));
      // The server's verification: a signed message with its auth still set encodes the same payload.
      assert.equal(hex(encode({ ...signed, auth: undefined })), v.encoded);
    });

    test(`${v.name}: the platform (server side) computes the same bytes and accepts the signature`, () => {
      const codec = CODECS[v.method]!;
      const encode = (m: unknown): Uint8Array => codec.encode(m as never).finish();
      const signed = signCommand(keyPairFromSeed(v.seed), v.method, codec.fromJSON(v.request), BigInt(v.nonce), encode);
      assert.equal(hex(platform.signingBytes(v.method, v.signer, BigInt(v.nonce), Buffer.from(v.encoded, 'hex'))), v.signingBytes);
      assert.equal(hex(platform.signBytes(platform.keyPairFromSeed(v.seed), Buffer.from(v.signingBytes, 'hex'))), v.signature);
      const auth = platform.authenticate(v.method, signed as platform.Signed, encode);
      // What the service records as the command's proof (docs/AUDIT.md): the vector's payload and signature.
      assert.deepEqual(auth, {
        signer: v.signer,
        nonce: BigInt(v.nonce),
        proof: { method: v.method, payload: Buffer.from(v.encoded, 'hex').toString('base64'), signature: v.signature },
      });
    });
  }
});

describe("client bytes equal the platform's", () => {
  const key = keyPairFromSeed('11'.repeat(32));
  const other = keyPairFromSeed('22'.repeat(32)).address;
  const cases: [string, Codec, object][] = [
    ['/ewx.v1.Registry/Subscribe', SubscribeRequest, { group: 'g.one', stake: '10000000000000000000' }],
    ['/ewx.v1.Registry/ConnectWorker', ConnectWorkerRequest, { worker: other }],
    ['/ewx.v1.Registry/Deposit', DepositRequest, { account: other, amount: '0' }],
    ['/ewx.v1.Voting/SubmitVote', SubmitVoteRequest, { solution: 's', roundId: 'r', result: Buffer.from([0]) }],
  ];
  for (const [method, codec, fields] of cases) {
    test(method, () => {
      const encode = (m: unknown): Uint8Array => codec.encode(m as never).finish();
      const message = { ...codec.fromJSON({}), ...fields, auth: undefined };
      for (const nonce of [1n, 1_733_150_000_123_456n, 2n ** 64n - 1n]) {
        assert.equal(hex(signingBytes(method, key.address, nonce, encode(message))), hex(platform.signingBytes(method, key.address, nonce, encode(message))));
        const mine = signCommand(key, method, message, nonce, encode);
        const theirs = platform.signCommand(platform.keyPairFromSeed(key.seed), method, message as platform.Signed, nonce, encode);
        assert.deepEqual(mine, theirs);
      }
    });
  }

  test('a method without its leading slash is refused before signing', () => {
    assert.throws(() => signingBytes('ewx.v1.Registry/Deposit', key.address, 1n, new Uint8Array()), /leading slash/);
  });

  test('votes are signed for SubmitVote, also when they travel in a SubmitVotes batch', async () => {
    const vote = await signVote(keySigner(key, counterNonces()), { solution: 's', roundId: 'r', result: Buffer.from('ab', 'hex') });
    const encode = (m: SubmitVoteRequest): Uint8Array => SubmitVoteRequest.encode(m).finish();
    const auth = platform.authenticate('/ewx.v1.Voting/SubmitVote', vote, encode);
    assert.deepEqual(
      { signer: auth.signer, nonce: auth.nonce, method: auth.proof.method },
      { signer: key.address, nonce: 1n, method: '/ewx.v1.Voting/SubmitVote' },
    );
    assert.throws(() => platform.authenticate('/ewx.v1.Voting/SubmitVotes', vote, encode), /auth\.signature/);
  });
});

/** A second implementation, from the text of docs/SIGNING.md: @noble/curves and a hand-written protobuf encoder. */
describe('an independent implementation gets the same bytes and signatures', () => {
  const varint = (n: bigint): number[] => {
    const out: number[] = [];
    do {
      let b = Number(n & 0x7fn);
      n >>= 7n;
      if (n > 0n) b |= 0x80;
      out.push(b);
    } while (n > 0n);
    return out;
  };
  const tag = (field: number, wire: number): number[] => varint(BigInt((field << 3) | wire));
  const str = (field: number, s: string | Uint8Array): number[] => {
    if (s.length === 0) return []; // proto3: a field at its default value is left out
    const b = typeof s === 'string' ? new TextEncoder().encode(s) : s;
    return [...tag(field, 2), ...varint(BigInt(b.length)), ...b];
  };
  const u64 = (field: number, n: bigint): number[] => (n === 0n ? [] : [...tag(field, 0), ...varint(n)]);
  const encoders: Record<string, (r: Record<string, unknown>) => number[]> = {
    // DepositRequest: auth = 1 (unset), account = 2, amount = 3
    '/ewx.v1.Registry/Deposit': (r) => [...str(2, String(r.account ?? '')), ...str(3, String(r.amount ?? ''))],
    // ProduceBlocksRequest: count = 2 (uint32)
    '/ewx.v1.Consensus/ProduceBlocks': (r) => u64(2, BigInt(Number(r.count ?? 0))),
    // SubmitVoteRequest: solution = 2, round_id = 3, result = 4 (bytes; base64 in proto3 JSON)
    '/ewx.v1.Voting/SubmitVote': (r) => [
      ...str(2, String(r.solution ?? '')),
      ...str(3, String(r.roundId ?? '')),
      ...str(4, Buffer.from(String(r.result ?? ''), 'base64')),
    ],
    // ClaimRewardsRequest: groups = 2 (repeated string, each element its own field)
    '/ewx.v1.Registry/ClaimRewards': (r) => ((r.groups as string[]) ?? []).flatMap((g) => str(2, g)),
    '/ewx.v1.Registry/DisconnectWorker': () => [],
  };
  const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

  for (const v of VECTORS.filter((x) => encoders[x.method])) {
    test(v.name, () => {
      const seed = Buffer.from(v.seed, 'hex');
      assert.equal('ed25519:' + hex(ed25519.getPublicKey(seed)), v.signer);
      const payload = Uint8Array.from(encoders[v.method]!(v.request as Record<string, unknown>));
      assert.equal(hex(payload), v.encoded);
      const head = utf8(`ewx/v1/command\n${v.method}\n${v.signer}\n${v.nonce}\n`);
      const bytes = new Uint8Array([...head, ...payload]);
      assert.equal(hex(bytes), v.signingBytes);
      assert.equal(hex(ed25519.sign(bytes, seed)), v.signature);
      assert.ok(ed25519.verify(Buffer.from(v.signature, 'hex'), bytes, ed25519.getPublicKey(seed)));
    });
  }
  test('it covered at least four vectors', () => assert.ok(VECTORS.filter((x) => encoders[x.method]).length >= 4));
});

test("signWith takes the signer's next nonce each time", async () => {
  const s = keySigner(keyPairFromSeed('33'.repeat(32)), counterNonces(9n));
  const encode = (m: DepositRequest): Uint8Array => DepositRequest.encode(m).finish();
  const msg: DepositRequest = { auth: undefined, account: 'x', amount: '1' };
  const a = await signWith(s, '/ewx.v1.Registry/Deposit', msg, encode);
  const b = await signWith(s, '/ewx.v1.Registry/Deposit', msg, encode);
  assert.deepEqual([a.auth!.nonce, b.auth!.nonce], [10n, 11n]);
});
