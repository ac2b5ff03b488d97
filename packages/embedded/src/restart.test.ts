import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { generateKeyPair, inboxGroupOf, nonceCounter, QUERIES_HEALTH, signCommand, topicOf } from '@ewx/platform';
import {
  describeGroup,
  expectStatus,
  freePort,
  healthStatus,
  insecureClient,
  isServing,
  realInfra,
  rpc,
  spawnServiceProcess,
  startServiceProcess,
  topicEvents,
  uniqueNamespace,
  waitFor,
  type ServiceProcess,
} from '@ewx/platform/testing';
import { DepositRequest, RegistryClient } from '@ewx/proto/registry';
import { RewardsClient, SetRewardPeriodLengthRequest } from '@ewx/proto/rewards';

/**
 * Restarts in the production mode (separate processes, real Kafka and PostgreSQL): a stopped
 * service leaves its consumer group, and a killed one answers queries while its inbox waits for
 * the group, refusing commands until it is consistent (health SERVING).
 */
const { infra, skip } = await realInfra();

describe('restarts: leaving the consumer group, queries before commands', { skip }, () => {
  const procs: ServiceProcess[] = [];
  after(async () => {
    for (const p of procs) await p.stop();
  });

  test('SIGTERM: the inbox member leaves its group at once (a kill -9 leaves it behind); each start wait is logged', async () => {
    const ns = uniqueNamespace('leave');
    const brokers = infra!.brokers;
    const group = inboxGroupOf('rewards', ns);
    // A session far longer than the waits below: only a LeaveGroup can empty the group in time.
    const env = {
      DATABASE_URL: infra!.databaseUrl,
      KAFKA_BROKERS: brokers.join(','),
      EWX_NAMESPACE: ns,
      ADMIN_ADDRESS: generateKeyPair().address,
      KAFKA_SESSION_TIMEOUT_MS: '60000',
      LOG_LEVEL: 'info',
    };
    const first = await startServiceProcess('rewards', await freePort(), env);
    procs.push(first);
    const member = await waitFor(
      `one member in ${group}`,
      async () => {
        const g = await describeGroup(brokers, group);
        return g.state === 'Stable' && g.members.length === 1 ? g.members[0] : undefined;
      },
      30_000,
    );
    for (const what of ['the event store', `the inbox to join consumer group ${group}`, 'the inbox to catch up']) {
      assert.match(first.output(), new RegExp(`"msg":"start: waiting for ${what}`), `logged: waiting for ${what}`);
      assert.match(first.output(), new RegExp(`"msg":"start: ${what}[^"]*: done","[^}]*"ms":\\d+`), `logged: ${what} done, with its duration`);
    }

    const exited = new Promise<number | null>((r) => first.child.once('exit', (code) => r(code)));
    first.child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(first.output(), /"msg":"stopped"/);
    const left = await waitFor(
      `${group} to be empty after SIGTERM`,
      async () => {
        const g = await describeGroup(brokers, group);
        return g.members.length === 0 ? g : undefined;
      },
      20_000,
      100,
    );
    assert.equal(left.state, 'Empty');

    // The control: without a LeaveGroup the killed process's member stays until its session ends.
    const second = await startServiceProcess('rewards', await freePort(), env);
    procs.push(second);
    const again = await waitFor(
      `a member in ${group} again`,
      async () => {
        const g = await describeGroup(brokers, group);
        return g.members.length === 1 ? g.members[0] : undefined;
      },
      30_000,
    );
    assert.notEqual(again, member);
    await second.kill();
    assert.deepEqual((await describeGroup(brokers, group)).members, [again]);
  });

  test('kill -9: the restarted service answers queries before it is SERVING, refuses commands until then, and has lost nothing', async () => {
    const admin = generateKeyPair();
    const nonce = nonceCounter();
    const ns = uniqueNamespace('restart');
    const brokers = infra!.brokers;
    const base = {
      DATABASE_URL: infra!.databaseUrl,
      KAFKA_BROKERS: brokers.join(','),
      EWX_NAMESPACE: ns,
      ADMIN_ADDRESS: admin.address,
      BLOCK_TIME_MS: 'manual',
    };
    // rewards' members live 20 s after a kill: the restarted process waits that long for its group,
    // which makes the window between "queries answered" and "SERVING" certain, not a race.
    const rewardsEnv = { ...base, KAFKA_SESSION_TIMEOUT_MS: '20000' };
    const registryProc = await startServiceProcess('registry', await freePort(), base);
    procs.push(registryProc);
    const registry = insecureClient(RegistryClient, registryProc.address);
    let rewardsProc = await startServiceProcess('rewards', await freePort(), rewardsEnv);
    procs.push(rewardsProc);
    const account = generateKeyPair().address;
    const deposit = (amount: number) =>
      rpc(
        registry,
        'deposit',
        signCommand(admin, '/ewx.v1.Registry/Deposit', { auth: undefined, account, amount: String(amount) }, nonce(), (m) => DepositRequest.encode(m).finish()),
      );
    let expected = 0;
    for (let i = 1; i <= 20; i++) {
      await deposit(i);
      expected += i;
    }
    let rewards = insecureClient(RewardsClient, rewardsProc.address);
    await waitFor(
      'rewards to record 20 deposits',
      async () => ((await rpc(rewards, 'getAccountView', { address: account })).deposits >= 20 ? true : undefined),
      60_000,
    );

    await rewardsProc.kill();
    // While rewards is down: ten more deposits, in Kafka before it restarts (so it must catch up on them).
    const published = await topicEvents(brokers, topicOf('registry', ns));
    for (let i = 21; i <= 30; i++) {
      await deposit(i);
      expected += i;
    }
    await waitFor(
      'the registry relay to publish 10 more events',
      async () => ((await topicEvents(brokers, topicOf('registry', ns))) >= published + 10 ? true : undefined),
      60_000,
      500,
    );

    const restarted = spawnServiceProcess('rewards', await freePort(), rewardsEnv);
    procs.push(restarted);
    rewards = insecureClient(RewardsClient, restarted.address);
    const early = await waitFor('the restarted rewards to answer a query', () => rpc(rewards, 'getAccountView', { address: account }), 60_000, 50);
    // Order, not timing: a query was answered, and after that the service still says NOT_SERVING.
    const overall = await healthStatus(restarted.address, '');
    assert.ok(overall !== undefined && !isServing(overall), `health '' after the first answered query: ${String(overall)}`);
    assert.ok(isServing((await healthStatus(restarted.address, QUERIES_HEALTH))!), 'health `queries` is SERVING');
    assert.ok(early.deposits >= 20, 'the state was rebuilt from the log before the first answer');
    const setLength = (length: number) =>
      rpc(
        rewards,
        'setRewardPeriodLength',
        signCommand(admin, '/ewx.v1.Rewards/SetRewardPeriodLength', { auth: undefined, length }, nonce(), (m) =>
          SetRewardPeriodLengthRequest.encode(m).finish(),
        ),
      );
    const refusal = await expectStatus(setLength(50), grpc.status.UNAVAILABLE);
    assert.match(refusal, /rewards is starting \((joining its Kafka consumer group|catching up on its inbox)[^)]*\): commands are accepted in a moment, retry/);

    await restarted.serving();
    rewardsProc = restarted;
    // SERVING means caught up: the deposits published while it was down are there without waiting.
    const view = await rpc(rewards, 'getAccountView', { address: account });
    assert.equal(view.deposits, 30);
    assert.equal(view.deposited, String(expected));
    const res = await setLength(50);
    assert.equal(res.entry?.length, 50);
    assert.equal((await rpc(registry, 'getAccount', { address: account })).free, String(expected));
  });
});
