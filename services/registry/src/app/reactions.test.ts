import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  START,
  inProcessBus,
  pgliteEventStore,
  readEnv,
  silentLogger,
  topicOf,
  type Bus,
  type EventStore,
  type Json,
  type Runtime,
  type ServiceInstance,
} from '@ewx/platform';
import { waitFor } from '@ewx/platform/testing';
import { decide, type RegistryCommand, type RegistryState } from '../domain/decider.js';
import { balanceOf, TREASURY, unclaimedOf } from '../domain/ledger.js';
import { ADMIN, groupConfig, OPERATORS, POLICY, REGISTRAR, SERVICE } from '../domain/test-support.js';
import { registryModule } from '../index.js';

/**
 * The registry's reactions on a real runtime (PGlite store, in-process bus): other services' events
 * arrive through the inbox and the registry releases stakes, credits rewards and settles holds by
 * itself, once; an input recorded just before a crash is reacted to after the restart.
 */
const [alice, bob] = OPERATORS as [string, string];

describe('registry reactions on the runtime', () => {
  let store: EventStore;
  let bus: Bus;
  let instance: ServiceInstance & { runtime: Runtime<RegistryState> };
  let version = 0;
  const publish = (source: string, streamId: string, type: string, data: object, v = version++) =>
    bus.publish(topicOf(source), [
      { key: streamId, value: JSON.stringify({ source, streamId, version: v, position: String(v + 1), type, data: data as Json }) },
    ]);
  let height = 0;
  const blocksTo = async (h: number): Promise<void> => {
    while (height < h) {
      height++;
      await publish('consensus', 'chain', 'BlockProduced', { height }, height - 1);
    }
  };
  const create = async (): Promise<ServiceInstance & { runtime: Runtime<RegistryState> }> => {
    const env = readEnv({ LEDGER_SERVICE_ACCOUNTS: SERVICE });
    const i = await registryModule.create({ store, bus, log: silentLogger, env, admin: ADMIN, mode: 'embedded', namespace: '' });
    await i.start();
    return i as ServiceInstance & { runtime: Runtime<RegistryState> };
  };
  const run = (c: RegistryCommand, stream = 'test') => instance.runtime.execute(stream, (s) => decide(c, s, POLICY));
  const state = (): RegistryState => instance.runtime.state();

  before(async () => {
    store = await pgliteEventStore('registry'); // in memory
    bus = inProcessBus(silentLogger);
    instance = await create();
    await publish('rewards', 'schedule', 'RewardPeriodScheduleChanged', { fromPeriod: 0, firstBlock: 1, length: 5 });
    await blocksTo(1);
    await waitFor('the schedule and block 1', () => (state().schedule.length === 1 && state().height === 1 ? true : undefined));
    for (const a of [REGISTRAR, alice, bob]) await run({ type: 'Deposit', signer: ADMIN, account: a, amount: '1000' });
    await run({ type: 'SignUpRegistrar', signer: REGISTRAR, friendlyName: 'Acme', legalLocation: 'DE' });
    await run({
      type: 'RegisterGroup',
      signer: REGISTRAR,
      config: groupConfig({ minStake: '10', maxStake: '100', withdrawalDelay: 1 }),
      budget: '500',
      allowList: [],
    });
  });
  after(async () => {
    await instance.stop();
    await bus.close();
    await store.close();
  });

  test('when the final period closes, the stake is released by the block reaction, once', async () => {
    await run({ type: 'Subscribe', signer: alice, group: 'grp.one', stake: '50' });
    await run({ type: 'Unsubscribe', signer: alice, group: 'grp.one' }); // period 0, delay 1: released when period 1 (blocks 6..10) closes
    await blocksTo(10);
    await waitFor('height 10', () => (state().height === 10 ? true : undefined));
    assert.equal(balanceOf(state().ledger, alice).reserved, 50n);
    await blocksTo(12);
    await waitFor('the stake released', () => (balanceOf(state().ledger, alice).reserved === 0n ? true : undefined));
    assert.equal(balanceOf(state().ledger, alice).free, 1000n);
    const released = (await store.readAll(START, 1000)).filter((e) => e.type === 'StakeReleased');
    assert.equal(released.length, 1);
  });

  test('a RewardsComputed chunk is credited once, even when delivered twice', async () => {
    const data = {
      group: 'grp.one',
      period: 1,
      chunk: 0,
      chunks: 1,
      payouts: [
        { operator: alice, amount: '30' },
        { operator: bob, amount: '20' },
      ],
      subtotal: '50',
    };
    await publish('rewards', 'period:grp.one:1', 'RewardsComputed', data, 0);
    await publish('rewards', 'period:grp.one:1', 'RewardsComputed', data, 0);
    await waitFor('the credit', () => (unclaimedOf(state().ledger, bob, 'grp.one') === 20n ? true : undefined));
    await blocksTo(13);
    await waitFor('height 13', () => (state().height === 13 ? true : undefined));
    assert.equal(unclaimedOf(state().ledger, alice, 'grp.one'), 30n);
    assert.equal(state().groups.get('grp.one')!.budget, 450n);
    assert.equal((await store.readAll(START, 1000)).filter((e) => e.type === 'RewardsCredited').length, 1);
  });

  test('an INVALID evaluation slashes the hold to the treasury; a VALID one releases it', async () => {
    await run({ type: 'PlaceHold', signer: SERVICE, holdId: 'distance:1:1', account: bob, amount: '10', purpose: 'distance-evaluation' });
    await run({ type: 'PlaceHold', signer: SERVICE, holdId: 'distance:2:2', account: bob, amount: '7', purpose: 'distance-evaluation' });
    assert.equal(balanceOf(state().ledger, bob).reserved, 17n);
    await publish(
      'distance',
      'request:1',
      'EvaluationSettled',
      { holdId: 'distance:1:1', identity: 1, requester: bob, outcome: 'INVALID', evaluationPeriod: 2 },
      0,
    );
    await publish(
      'distance',
      'request:2',
      'EvaluationSettled',
      { holdId: 'distance:2:2', identity: 2, requester: bob, outcome: 'VALID', evaluationPeriod: 2 },
      0,
    );
    await waitFor('both holds settled', () => (balanceOf(state().ledger, bob).reserved === 0n ? true : undefined));
    assert.equal(balanceOf(state().ledger, TREASURY).free, 10n);
    assert.equal(balanceOf(state().ledger, bob).free, 1000n - 10n);
  });

  test('an input recorded just before a crash is reacted to after the restart; the state is rebuilt the same', async () => {
    await instance.stop();
    // The inbox had recorded this chunk when the process died, before its reaction ran.
    await store.append(
      'inbox:rewards:period:grp.one:2',
      [
        {
          type: 'RewardsComputed',
          data: { group: 'grp.one', period: 2, chunk: 0, chunks: 1, payouts: [{ operator: alice, amount: '5' }], subtotal: '5' },
          metadata: { source: 'rewards', sourceStream: 'period:grp.one:2', sourceVersion: 0, sourcePosition: '99' },
        },
      ],
      -1,
    );
    instance = await create();
    await waitFor('the credit after restart', () => (unclaimedOf(state().ledger, alice, 'grp.one') === 35n ? true : undefined));
    assert.equal(state().groups.get('grp.one')!.budget, 445n);
    assert.equal(balanceOf(state().ledger, TREASURY).free, 10n);
    assert.equal(state().height, 13);
  });
});

describe('hold policy from configuration', () => {
  test('LEDGER_SERVICE_ACCOUNTS is validated; the embedded mode trusts DISTANCE_SERVICE_KEY too', async () => {
    const { policyFrom } = await import('../index.js');
    const { keyPairFromSeed } = await import('@ewx/platform');
    assert.throws(() => policyFrom(readEnv({ LEDGER_SERVICE_ACCOUNTS: 'nope' }), ADMIN), /LEDGER_SERVICE_ACCOUNTS/);
    assert.throws(() => policyFrom(readEnv({ LEDGER_SERVICE_ACCOUNTS: TREASURY }), ADMIN), /LEDGER_SERVICE_ACCOUNTS: expected .*keys that can sign/);
    const seed = 'ab'.repeat(32);
    const distance = keyPairFromSeed(seed).address;
    assert.deepEqual(policyFrom(readEnv({ LEDGER_SERVICE_ACCOUNTS: SERVICE, DISTANCE_SERVICE_KEY: seed }), ADMIN, 'embedded').ledgerServiceAccounts, [
      SERVICE,
      distance,
    ]);
    assert.deepEqual(policyFrom(readEnv({ DISTANCE_SERVICE_KEY: seed }), ADMIN, 'standalone').ledgerServiceAccounts, []);
  });
});
