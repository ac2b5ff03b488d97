import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  START,
  TOKEN,
  generateKeyPair,
  kafkaBus,
  nonceCounter,
  postgresEventStore,
  signCommand,
  silentLogger,
  topicOf,
  type Bus,
  type GroupConfig,
  type Json,
} from '@ewx/platform';
import {
  expectStatus,
  freePort,
  produceBlocks,
  insecureClient,
  realInfra,
  serviceEnv,
  rpc,
  startServiceProcess,
  uniqueNamespace,
  waitFor,
  type ServiceProcess,
} from '@ewx/platform/testing';
import { ConsensusClient } from '@ewx/proto/consensus';
import { RewardsClient, SetRewardPeriodLengthRequest, type OperatorRewards } from '@ewx/proto/rewards';
import { auditDecisions } from './domain/audit.js';

/**
 * Two reward periods end to end, as separate processes on real Kafka and PostgreSQL: the real
 * consensus produces the blocks and the real rewards service closes the periods. The registry's and
 * the settled rounds' events (stakes, group, withdrawals, vote metadata, a claim) are published by
 * this test onto the registry and consensus topics in the platform's envelope format, so the test
 * does not depend on those services' progress.
 */
const { infra, skip } = await realInfra();

const T = TOKEN;
const G = 'e2e-group';
const key = (): string => generateKeyPair().address;
const [A, B, C, D, E] = [key(), key(), key(), key(), key()];
const STAKE: Record<string, bigint> = { [A]: 1000n, [B]: 3000n, [C]: 2000n, [D]: 500n, [E]: 1500n };
const SUB = 1n * T;
const VOTE = 2n * T;
const SLA = 75;
const BUDGET = 50n * T;
// Periods of 10 blocks: period 0 = 1..10, period 1 = 11..20.
// Period 0: correct of 10 rounds. D is below the SLA. C unsubscribes (withdrawal delay 1: final period 1).
const CORRECT0: Record<string, number> = { [A]: 10, [B]: 8, [C]: 10, [D]: 5 };
// Period 1: E's stake is active from period 1; B falls below the SLA, D rises above it; C earns nothing whatever its votes.
const CORRECT1: Record<string, number> = { [A]: 9, [B]: 7, [C]: 10, [D]: 8, [E]: 9 };

/** The SPEC §6 arithmetic restated for the expected values: base by stake, active by correct × stake among SLA-meeting operators. */
function expected(stakes: Record<string, bigint>, correct: Record<string, number>, budget: bigint) {
  const blocks = 10n;
  const basePool = SUB * blocks;
  const activePool = VOTE * blocks;
  const totalStake = Object.values(stakes).reduce((a, b) => a + b * T, 0n);
  const meets = (op: string) => (correct[op] ?? 0) * 100 >= SLA * 10;
  const weight = (op: string) => (meets(op) ? BigInt(correct[op]!) * stakes[op]! * T : 0n);
  const weightSum = Object.keys(stakes).reduce((a, op) => a + weight(op), 0n);
  const raw = Object.fromEntries(
    Object.keys(stakes).map((op) => [op, { base: (stakes[op]! * T * basePool) / totalStake, active: (weight(op) * activePool) / weightSum }]),
  );
  const due = Object.values(raw).reduce((a, r) => a + r.base + r.active, 0n);
  const scale = (x: bigint) => (due > budget ? (x * budget) / due : x);
  const out = Object.fromEntries(Object.entries(raw).map(([op, r]) => [op, { base: scale(r.base), active: scale(r.active), slaMet: meets(op) }]));
  return { out, due, paid: Object.values(out).reduce((a, r) => a + r.base + r.active, 0n) };
}

describe('rewards end to end: two periods over Kafka and PostgreSQL', { skip }, () => {
  const admin = generateKeyPair();
  const nonce = nonceCounter();
  const ns = uniqueNamespace('rewards');
  const procs = new Map<string, ServiceProcess>();
  let ports: Record<string, number>;
  let bus: Bus;
  const versions = new Map<string, number>();
  let position = 0;
  const env = (): Record<string, string> => ({
    ...serviceEnv(infra!, ns, admin.address),
    REWARD_PERIOD_BLOCKS: '10',
    REWARDS_SETTLEMENT_DELAY: '2',
  });
  const start = async (name: string): Promise<void> => {
    procs.set(name, await startServiceProcess(name, ports[name]!, env()));
  };
  const rewards = (): RewardsClient => insecureClient(RewardsClient, `127.0.0.1:${ports.rewards}`);
  const consensus = (): ConsensusClient => insecureClient(ConsensusClient, `127.0.0.1:${ports.consensus}`);

  /** Publishes an event as `source` would: the platform's envelope, keyed by stream id. */
  const publish = async (source: 'registry' | 'consensus', streamId: string, type: string, data: object): Promise<void> => {
    const version = (versions.get(streamId) ?? -1) + 1;
    versions.set(streamId, version);
    const envelope = { source, streamId, version, position: String(++position), type, data: data as Json };
    await bus.publish(topicOf(source, ns), [{ key: streamId, value: JSON.stringify(envelope) }]);
  };
  const rounds = async (period: number, correct: Record<string, number>): Promise<void> => {
    for (let r = 0; r < 10; r++) {
      const ops = Object.keys(correct);
      await publish('consensus', `e2e-round:${period}:${r}`, 'VoteMetadata', {
        group: G,
        period,
        solution: 'e2e-solution',
        roundId: `${period}-${r}`,
        chunk: 0,
        chunks: 1,
        eligibleOperators: ops,
        correctOperators: ops.filter((op) => r < correct[op]!),
      });
    }
  };
  const blocks = (count: number): Promise<bigint> => produceBlocks(consensus(), admin, nonce, count);
  const operatorRewards = (operator: string, period: number): Promise<OperatorRewards> => rpc(rewards(), 'getOperatorRewards', { operator, group: G, period });
  const waitForOpen = (what: string, operator: string, period: number, check: (r: OperatorRewards) => boolean) =>
    waitFor(
      what,
      async () => {
        const r = await operatorRewards(operator, period);
        return check(r) ? r : undefined;
      },
      30_000,
    );
  const closedPeriods = async (): Promise<number> => (await rpc(rewards(), 'getGroupPayouts', { group: G, limit: 0 })).periods.length;

  before(async () => {
    ports = { consensus: await freePort(), rewards: await freePort() };
    bus = kafkaBus({ brokers: infra!.brokers, clientId: 'rewards-e2e', log: silentLogger });
    await Promise.all(['consensus', 'rewards'].map(start));
  });
  after(async () => {
    for (const p of procs.values()) await p.stop();
    await bus?.close();
  });

  test('operators of different stakes and accuracies, one below the SLA and one unsubscribing, are paid as SPEC §6 says', async () => {
    const cur = await waitFor('the reward calendar', () => rpc(rewards(), 'getCurrentPeriod', {}));
    assert.deepEqual([cur.period!.index, cur.period!.firstBlock, cur.period!.lastBlock, cur.period!.length], [0, 1n, 10n, 10]);

    const config: GroupConfig = {
      namespace: G,
      info: 'e2e',
      minStake: T.toString(),
      maxStake: (10_000n * T).toString(),
      maxOperators: 10,
      allowListEnabled: false,
      startBlock: 0,
      subscriptionRewardPerBlock: SUB.toString(),
      votingRewardPerBlock: VOTE.toString(),
      slaVotingThreshold: SLA,
      operationStartBlock: 1,
      operationEndBlock: 1000,
      withdrawalDelay: 1,
    };
    await publish('registry', `group:${G}`, 'GroupRegistered', { group: G, owner: key(), config, budget: BUDGET.toString(), height: 0 });
    for (const op of [A, B, C, D]) {
      await publish('registry', `operator:${op}`, 'OperatorSubscribed', {
        group: G,
        operator: op,
        stake: (STAKE[op]! * T).toString(),
        activeFromPeriod: 0,
        height: 0,
      });
    }
    await publish('registry', `operator:${E}`, 'OperatorSubscribed', {
      group: G,
      operator: E,
      stake: (STAKE[E]! * T).toString(),
      activeFromPeriod: 1,
      height: 5,
    });
    await publish('registry', `operator:${C}`, 'OperatorUnsubscribed', { group: G, operator: C, period: 0, finalPeriod: 1, height: 5 });
    await rounds(0, CORRECT0);

    // Everything recorded before period 0 ends.
    for (const op of [A, B, C, D]) await waitForOpen(`period 0 counts of ${op}`, op, 0, (r) => r.eligibleRounds === 10 && r.stake !== '0');
    await waitForOpen('C in its final period', C, 1, (r) => r.inFinalPeriod);
    await waitForOpen('E active from period 1', E, 1, (r) => r.stake === (1500n * T).toString());
    assert.equal((await operatorRewards(E, 0)).stake, '0');

    await blocks(11);
    // A position, not a duration: rewards recorded block 11 (the log order is checked below).
    await waitFor('rewards at block 11', async () => ((await rpc(rewards(), 'getStatus', {})).height === 11n ? true : undefined), 30_000);
    assert.equal(await closedPeriods(), 0, 'period 0 is not closed before last block + settlement delay');
    await blocks(1);
    await waitFor('period 0 closed', async () => ((await closedPeriods()) === 1 ? true : undefined), 30_000);

    await rounds(1, CORRECT1);
    for (const op of [A, B, C, D, E]) await waitForOpen(`period 1 counts of ${op}`, op, 1, (r) => r.eligibleRounds === 10);
    await blocks(10);
    await waitFor('period 1 closed', async () => ((await closedPeriods()) === 2 ? true : undefined), 30_000);

    // Period 0: A, B, C, D staked; D below the SLA.
    const p0 = expected({ [A]: 1000n, [B]: 3000n, [C]: 2000n, [D]: 500n }, CORRECT0, BUDGET);
    // Period 1: C in its final period earns nothing and is left out of both pools; E joined.
    const p1 = expected({ [A]: 1000n, [B]: 3000n, [D]: 500n, [E]: 1500n }, CORRECT1, BUDGET - p0.paid);
    for (const [period, exp] of [
      [0, p0],
      [1, p1],
    ] as const) {
      for (const op of [A, B, C, D, E]) {
        const r = await operatorRewards(op, period);
        const e = exp.out[op] ?? { base: 0n, active: 0n, slaMet: false };
        assert.equal(r.closed, true);
        assert.deepEqual(
          [r.base, r.active, r.total, r.slaMet],
          [e.base.toString(), e.active.toString(), (e.base + e.active).toString(), e.slaMet],
          `operator ${op === A ? 'A' : op === B ? 'B' : op === C ? 'C' : op === D ? 'D' : 'E'} in period ${period}`,
        );
      }
    }
    // Pinned literals: A's base share of period 0 is 10 tokens × 1000/6500, rounded down to the base unit.
    assert.equal((await operatorRewards(A, 0)).base, '1538461538461538461');
    assert.equal((await operatorRewards(D, 0)).active, '0');
    assert.equal((await operatorRewards(D, 0)).slaMet, false);
    const c1 = await operatorRewards(C, 1);
    assert.deepEqual([c1.inFinalPeriod, c1.total, c1.eligibleRounds, c1.correctVotes], [true, '0', 10, 10]);

    const payouts = await rpc(rewards(), 'getGroupPayouts', { group: G, limit: 0 });
    assert.deepEqual(
      payouts.periods.map((p) => [p.period, p.budgetExhausted, p.paid]),
      [
        [1, true, p1.paid.toString()],
        [0, false, p0.paid.toString()],
      ],
    );
    assert.ok(p0.paid + p1.paid <= BUDGET);
    assert.equal(payouts.budgetAvailable, (BUDGET - p0.paid - p1.paid).toString());

    // A claim recorded by the registry lowers the unclaimed total rewards reports.
    const a0 = p0.out[A]!.base + p0.out[A]!.active;
    const a1 = p1.out[A]!.base + p1.out[A]!.active;
    await publish('registry', `operator:${A}`, 'RewardsClaimed', { operator: A, groups: [{ group: G, amount: a0.toString() }] });
    const unclaimed = await waitFor('the claim recorded', async () => {
      const u = await rpc(rewards(), 'getUnclaimedRewards', { operator: A });
      return u.groups[0]?.claimed === a0.toString() ? u : undefined;
    });
    assert.deepEqual(unclaimed.groups, [{ group: G, earned: (a0 + a1).toString(), claimed: a0.toString(), unclaimed: a1.toString() }]);

    // The audit: every decision recomputed from the inputs recorded in the PostgreSQL log, byte for byte.
    const store = await postgresEventStore(infra!.databaseUrl, `${ns}_rewards`);
    try {
      const log = await store.readAll(START, 100_000);
      // Period 0's decision follows block 12 in the log: it was not taken on block 11 (whatever the timing).
      const block12 = log.findIndex((e) => e.type === 'BlockProduced' && (e.data as { height: number }).height === 12);
      const decided0 = log.findIndex((e) => e.type === 'RewardInputsRecorded' && (e.data as { rewardPeriod: number }).rewardPeriod === 0);
      assert.ok(block12 >= 0 && decided0 > block12, `period 0 decided at log index ${decided0}, block 12 at ${block12}`);
      const audited = auditDecisions(log);
      assert.deepEqual(
        audited.map((a) => a.period),
        [0, 1],
      );
      for (const a of audited) assert.equal(a.recomputed.join('\n'), a.recorded.join('\n'));
    } finally {
      await store.close();
    }
  });

  test('the admin changes the period length for the next period; anyone else is refused', async () => {
    const sign = (k: typeof admin, length: number) =>
      signCommand(k, '/ewx.v1.Rewards/SetRewardPeriodLength', { auth: undefined, length }, nonce(), (m) => SetRewardPeriodLengthRequest.encode(m).finish());
    await expectStatus(rpc(rewards(), 'setRewardPeriodLength', sign(generateKeyPair(), 5)), grpc.status.PERMISSION_DENIED);
    await expectStatus(rpc(rewards(), 'setRewardPeriodLength', sign(admin, 0)), grpc.status.INVALID_ARGUMENT);
    const height = (await rpc(rewards(), 'getStatus', {})).height;
    assert.equal(height, 22n);
    const res = await rpc(rewards(), 'setRewardPeriodLength', sign(admin, 5));
    assert.deepEqual(res.entry, { fromPeriod: 3, firstBlock: 31n, length: 5 });
    const cur = await rpc(rewards(), 'getCurrentPeriod', {});
    assert.deepEqual([cur.period!.index, cur.period!.lastBlock, cur.schedule.length], [2, 30n, 2]);
  });

  test('after kill -9 and restart, the state is rebuilt from the log and no period is closed twice', async () => {
    const before = await Promise.all([A, B, C, D, E].map((op) => operatorRewards(op, 1)));
    await procs.get('rewards')!.kill();
    await start('rewards');
    const again = await Promise.all([A, B, C, D, E].map((op) => operatorRewards(op, 1)));
    assert.deepEqual(again, before);
    await blocks(1);
    await waitFor('rewards at height 23', async () => ((await rpc(rewards(), 'getStatus', {})).height === 23n ? true : undefined));
    const store = await postgresEventStore(infra!.databaseUrl, `${ns}_rewards`);
    try {
      const log = await store.readAll(START, 100_000);
      assert.equal(log.filter((e) => e.type === 'RewardsDecided').length, 2);
      assert.equal(log.filter((e) => e.type === 'RewardPeriodScheduleChanged').length, 2);
      assert.deepEqual(
        log.filter((e) => e.type === 'RewardPeriodStarted').map((e) => (e.data as { index: number }).index),
        [0, 1, 2],
      );
    } finally {
      await store.close();
    }
  });
});
