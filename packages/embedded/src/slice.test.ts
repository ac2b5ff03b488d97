import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { generateKeyPair, nonceCounter, signCommand } from '@ewx/platform';
import {
  rpc,
  expectStatus,
  freePort,
  insecureClient,
  realInfra,
  serviceEnv,
  startServiceProcess,
  uniqueNamespace,
  waitFor,
  type ServiceProcess,
} from '@ewx/platform/testing';
import { ConsensusClient, ProduceBlocksRequest } from '@ewx/proto/consensus';
import { DepositRequest, RegistryClient } from '@ewx/proto/registry';
import { RewardsClient } from '@ewx/proto/rewards';

/**
 * The foundation's thin slice across every part, as separate processes on real Kafka and
 * PostgreSQL: an admin deposit lands in the registry's store, the relay publishes it to Kafka, the
 * rewards service consumes it and answers a gRPC query; after every process is killed and
 * restarted, state is rebuilt from the store and the answers are the same.
 */
const { infra, skip } = await realInfra();

describe('thin slice: deposit → store → Kafka → rewards → gRPC, with kills and restarts', { skip }, () => {
  const admin = generateKeyPair();
  const nonce = nonceCounter();
  const ns = uniqueNamespace('slice');
  let ports: Record<string, number>;
  const procs = new Map<string, ServiceProcess>();
  const env = (): Record<string, string> => ({
    ...serviceEnv(infra!, ns, admin.address),
  });
  // Every (re)start takes a fresh port: a freed port may meanwhile belong to someone else.
  const start = async (name: string): Promise<void> => {
    ports[name] = await freePort();
    procs.set(name, await startServiceProcess(name, ports[name]!, env()));
  };
  const clients = () => ({
    registry: insecureClient(RegistryClient, `127.0.0.1:${ports.registry}`),
    rewards: insecureClient(RewardsClient, `127.0.0.1:${ports.rewards}`),
    consensus: insecureClient(ConsensusClient, `127.0.0.1:${ports.consensus}`),
  });
  const deposit = (c: RegistryClient, account: string, amount: string, n = nonce()) =>
    rpc(
      c,
      'deposit',
      signCommand(admin, '/ewx.v1.Registry/Deposit', { auth: undefined, account, amount }, n, (m) => DepositRequest.encode(m).finish()),
    );

  before(async () => {
    ports = {};
    await Promise.all(['consensus', 'registry', 'rewards'].map(start));
  });
  after(async () => {
    for (const p of procs.values()) await p.stop();
  });

  test('a deposit becomes visible in the rewards service, and survives killing every process', async () => {
    const c = clients();
    const alice = generateKeyPair().address;
    const res = await deposit(c.registry, alice, '1000000000000000000');
    assert.equal(res.account?.free, '1000000000000000000');

    const view = await waitFor('rewards to see the deposit', async () => {
      const v = await rpc(c.rewards, 'getAccountView', { address: alice });
      return v.deposits === 1 ? v : undefined;
    });
    assert.equal(view.deposited, '1000000000000000000');

    // Blocks flow the same way: produced in consensus, recorded by registry and rewards.
    const produced = await rpc(
      c.consensus,
      'produceBlocks',
      signCommand(admin, '/ewx.v1.Consensus/ProduceBlocks', { auth: undefined, count: 3 }, nonce(), (m) => ProduceBlocksRequest.encode(m).finish()),
    );
    assert.equal(produced.height, 3n);
    await waitFor('rewards at height 3', async () => ((await rpc(c.rewards, 'getStatus', {})).height === 3n ? true : undefined));

    for (const p of procs.values()) await p.kill();
    for (const name of ['consensus', 'registry', 'rewards']) await start(name);

    const again = clients();
    const account = await rpc(again.registry, 'getAccount', { address: alice });
    assert.equal(account.free, '1000000000000000000');
    const view2 = await rpc(again.rewards, 'getAccountView', { address: alice });
    assert.deepEqual(view2, view);
    assert.equal((await rpc(again.rewards, 'getStatus', {})).height, 3n);
    assert.equal((await rpc(again.consensus, 'getStatus', {})).height, 3n);
  });

  test('signed commands: a bad signature, a reused nonce and a non-admin signer are refused and change nothing', async () => {
    const c = clients();
    const bob = generateKeyPair().address;
    const n = nonce();
    await deposit(c.registry, bob, '5', n);
    await expectStatus(deposit(c.registry, bob, '5', n), grpc.status.PERMISSION_DENIED);
    const forged = signCommand(admin, '/ewx.v1.Registry/Deposit', { auth: undefined, account: bob, amount: '5' }, nonce(), (m) =>
      DepositRequest.encode(m).finish(),
    );
    const tampered = { ...forged, amount: '500' };
    await expectStatus(rpc(c.registry, 'deposit', tampered), grpc.status.UNAUTHENTICATED);
    const mallory = generateKeyPair();
    const byMallory = signCommand(mallory, '/ewx.v1.Registry/Deposit', { auth: undefined, account: bob, amount: '5' }, 1n, (m) =>
      DepositRequest.encode(m).finish(),
    );
    const denied = await expectStatus(rpc(c.registry, 'deposit', byMallory), grpc.status.PERMISSION_DENIED);
    assert.match(denied, /admin/);
    const badAmount = await expectStatus(deposit(c.registry, bob, '-3'), grpc.status.INVALID_ARGUMENT);
    assert.match(badAmount, /^amount: /);
    assert.equal((await rpc(c.registry, 'getAccount', { address: bob })).free, '5');
  });
});
