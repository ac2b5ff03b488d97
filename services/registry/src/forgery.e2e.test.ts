import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { generateKeyPair, nonceCounter, REGISTRY_TREASURY, signCommand, TOKEN, type KeyPair } from '@ewx/platform';
import {
  expectStatus,
  freePort,
  insecureClient,
  realInfra,
  serviceEnv,
  rpc,
  startServiceProcess,
  uniqueNamespace,
  type ServiceProcess,
} from '@ewx/platform/testing';
import * as R from '@ewx/proto/registry';

/**
 * Issue 9, items 1 and 8, through the registry's public gRPC API (a real process on Kafka and
 * PostgreSQL). The treasury's address is a point of order 4: before strict verification, the
 * constant signature R = 01‖0^31, S = 0 verified under it for about one message in four, so a
 * stranger could move the treasury's tokens. And a nonce of 2^64 − 1 locked its account out.
 */
const { infra, skip } = await realInfra();

describe('registry: forged treasury signatures and unbounded nonces are refused', { skip }, () => {
  const admin = generateKeyPair();
  const stranger = generateKeyPair();
  const adminNonce = nonceCounter();
  let proc: ServiceProcess;
  let registry: R.RegistryClient;
  const transfer = (key: KeyPair, to: string, amount: string, nonce: bigint): R.TransferRequest =>
    signCommand(key, '/ewx.v1.Registry/Transfer', { auth: undefined, to, amount }, nonce, (m) => R.TransferRequest.encode(m).finish());
  const balances = async () => Promise.all([REGISTRY_TREASURY, stranger.address].map((address) => rpc(registry, 'getAccount', { address })));

  before(async () => {
    const port = await freePort();
    proc = await startServiceProcess('registry', port, {
      ...serviceEnv(infra!, uniqueNamespace('forgery'), admin.address),
    });
    registry = insecureClient(R.RegistryClient, `127.0.0.1:${port}`);
    for (const account of [REGISTRY_TREASURY, stranger.address]) {
      await rpc(
        registry,
        'deposit',
        signCommand(admin, '/ewx.v1.Registry/Deposit', { auth: undefined, account, amount: (100n * TOKEN).toString() }, adminNonce(), (m) =>
          R.DepositRequest.encode(m).finish(),
        ),
      );
    }
  });
  after(async () => {
    await proc?.stop();
  });

  test('Transfer "signed by the treasury" with R = 01‖0^31, S = 0: UNAUTHENTICATED for every nonce, no balance moves', async () => {
    const before = await balances();
    assert.equal(before[0]!.free, (100n * TOKEN).toString());
    const forged = Buffer.concat([Buffer.from([1]), Buffer.alloc(63)]);
    // Under plain OpenSSL verification about one in four of these nonces verified: (3/4)^64 ≈ 1e-8 that none would.
    for (let n = 1n; n <= 64n; n++) {
      const req: R.TransferRequest = {
        to: stranger.address,
        amount: (100n * TOKEN).toString(),
        auth: { signer: REGISTRY_TREASURY, nonce: n, signature: forged },
      };
      assert.match(await expectStatus(rpc(registry, 'transfer', req), grpc.status.UNAUTHENTICATED), /auth\.signer: .*registry treasury.*never signs/);
    }
    assert.deepEqual(await balances(), before);
  });

  test('a nonce above 2^53 − 1 is INVALID_ARGUMENT naming auth.nonce; the account keeps working with ordinary nonces', async () => {
    const to = generateKeyPair().address;
    for (const n of [2n ** 64n - 1n, 2n ** 53n]) {
      assert.match(
        await expectStatus(rpc(registry, 'transfer', transfer(stranger, to, '1', n)), grpc.status.INVALID_ARGUMENT),
        /auth\.nonce: must be at most 9007199254740991/,
      );
    }
    assert.equal((await rpc(registry, 'getAccount', { address: to })).free, '0');
    await rpc(registry, 'transfer', transfer(stranger, to, '1', 2n ** 53n - 2n));
    await rpc(registry, 'transfer', transfer(stranger, to, '1', 2n ** 53n - 1n));
    assert.equal((await rpc(registry, 'getAccount', { address: to })).free, '2');
  });
});
