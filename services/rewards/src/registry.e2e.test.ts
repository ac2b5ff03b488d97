import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { REGISTRY_TREASURY, TOKEN, generateKeyPair, kafkaBus, nonceCounter, silentLogger, topicOf, type Bus } from '@ewx/platform';
import {
  freePort,
  produceBlocks,
  insecureClient,
  realInfra,
  serviceEnv,
  rpc,
  signedFor,
  startServiceProcess,
  testGroupConfig,
  uniqueNamespace,
  waitFor,
  type ServiceProcess,
} from '@ewx/platform/testing';
import { ConsensusClient } from '@ewx/proto/consensus';
import {
  ClaimRewardsRequest,
  DepositRequest,
  RegisterGroupRequest,
  RegistryClient,
  SignUpRegistrarRequest,
  SubscribeRequest,
  UnsubscribeRequest,
} from '@ewx/proto/registry';
import { RewardsClient } from '@ewx/proto/rewards';

/**
 * Rewards with the real registry and consensus, as separate processes over Kafka and PostgreSQL:
 * the registrar registers a group with a budget, operators subscribe through the registry, rewards
 * closes the periods, the registry's ledger credits the payouts (RewardsCredited), releases the
 * withdrawing operator's stake, and an operator claims with Registry.ClaimRewards. The settled
 * rounds' vote metadata is published by the test on the consensus topic (running real rounds is
 * the consensus service's own end-to-end test). The ledger invariant is checked through GetAccount.
 */
const { infra, skip } = await realInfra();

const T = TOKEN;
const G = 'e2e.rewards';
const SLA = 75;

describe('rewards with the real registry: credits, withdrawal, claim, ledger invariant', { skip }, () => {
  const admin = generateKeyPair();
  const nonce = nonceCounter();
  const ns = uniqueNamespace('rwdreg');
  const procs = new Map<string, ServiceProcess>();
  const [R, A, B, C] = [generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const names = new Map([
    [A.address, 'A'],
    [B.address, 'B'],
    [C.address, 'C'],
  ]);
  const DEPOSITS = { [R.address]: 1000n * T, [A.address]: 5000n * T, [B.address]: 5000n * T, [C.address]: 5000n * T };
  let ports: Record<string, number>;
  let bus: Bus;
  let position = 0;
  const env = (): Record<string, string> => ({
    ...serviceEnv(infra!, ns, admin.address),
    REWARD_PERIOD_BLOCKS: '10',
    REWARDS_SETTLEMENT_DELAY: '2',
  });
  const registry = (): RegistryClient => insecureClient(RegistryClient, `127.0.0.1:${ports.registry}`);
  const rewards = (): RewardsClient => insecureClient(RewardsClient, `127.0.0.1:${ports.rewards}`);
  const signed = signedFor(nonce);

  const blocks = (count: number): Promise<bigint> => produceBlocks(insecureClient(ConsensusClient, `127.0.0.1:${ports.consensus}`), admin, nonce, count);
  const atHeight = async (h: number): Promise<void> => {
    await waitFor(
      `registry and rewards at height ${h}`,
      async () => {
        const [r, w] = await Promise.all([rpc(registry(), 'getStatus', {}), rpc(rewards(), 'getStatus', {})]);
        return r.height === BigInt(h) && w.height === BigInt(h) ? true : undefined;
      },
      30_000,
    );
  };
  const rounds = async (period: number, correct: Record<string, number>): Promise<void> => {
    for (let r = 0; r < 10; r++) {
      const ops = Object.keys(correct);
      const data = {
        group: G,
        period,
        solution: 'e2e-solution',
        roundId: `${period}-${r}`,
        chunk: 0,
        chunks: 1,
        eligibleOperators: ops,
        correctOperators: ops.filter((op) => r < correct[op]!),
      };
      const envelope = { source: 'consensus', streamId: `e2e-round:${period}:${r}`, version: 0, position: String(++position), type: 'VoteMetadata', data };
      await bus.publish(topicOf('consensus', ns), [{ key: envelope.streamId, value: JSON.stringify(envelope) }]);
    }
    for (const op of Object.keys(correct)) {
      await waitFor(
        `period ${period} counts of ${names.get(op)}`,
        async () => ((await rpc(rewards(), 'getOperatorRewards', { operator: op, group: G, period })).eligibleRounds === 10 ? true : undefined),
        30_000,
      );
    }
  };
  /** SPEC §6 restated: base by stake among stakers; active by correct × stake among SLA-meeting operators (10 blocks, 10 rounds). */
  const expected = (stakes: Record<string, bigint>, correct: Record<string, number>): Record<string, bigint> => {
    const total = Object.values(stakes).reduce((a, b) => a + b, 0n);
    const w = (op: string) => (correct[op]! * 100 >= SLA * 10 ? BigInt(correct[op]!) * stakes[op]! : 0n);
    const wsum = Object.keys(stakes).reduce((a, op) => a + w(op), 0n);
    return Object.fromEntries(Object.keys(stakes).map((op) => [op, (stakes[op]! * 10n * T) / total + (w(op) * 20n * T) / wsum]));
  };
  const ledgerTotal = async (): Promise<bigint> => {
    let sum = 0n;
    for (const a of [R.address, A.address, B.address, C.address, REGISTRY_TREASURY]) {
      const x = await rpc(registry(), 'getAccount', { address: a });
      sum += BigInt(x.free) + BigInt(x.reserved) + BigInt(x.unclaimed);
    }
    return sum;
  };

  before(async () => {
    ports = { consensus: await freePort(), registry: await freePort(), rewards: await freePort() };
    bus = kafkaBus({ brokers: infra!.brokers, clientId: 'rewards-registry-e2e', log: silentLogger });
    for (const name of ['consensus', 'registry', 'rewards']) procs.set(name, await startServiceProcess(name, ports[name]!, env()));
  });
  after(async () => {
    for (const p of procs.values()) await p.stop();
    await bus?.close();
  });

  test('two paid periods through the registry ledger, a withdrawal and a claim; deposits = Σ(free + reserved + unclaimed) throughout', async () => {
    await waitFor('the reward calendar', () => rpc(rewards(), 'getCurrentPeriod', {}));
    await blocks(1);
    await atHeight(1);
    for (const [account, amount] of Object.entries(DEPOSITS)) {
      await rpc(registry(), 'deposit', signed(admin, 'Registry/Deposit', { auth: undefined, account, amount: amount.toString() }, DepositRequest.encode));
    }
    const deposits = Object.values(DEPOSITS).reduce((a, b) => a + b, 0n);
    await rpc(
      registry(),
      'signUpRegistrar',
      signed(R, 'Registry/SignUpRegistrar', { auth: undefined, friendlyName: 'e2e', legalLocation: 'DE' }, SignUpRegistrarRequest.encode),
    );
    const config = testGroupConfig(G, {
      info: 'rewards e2e',
      maxStake: (10_000n * T).toString(),
      votingRewardPerBlock: (2n * T).toString(),
      slaVotingThreshold: SLA,
    });
    // The registry needs the reward calendar (from rewards' topic) before it accepts a group; retry until it has it.
    await waitFor(
      'the group registered',
      async () => {
        await rpc(
          registry(),
          'registerGroup',
          signed(R, 'Registry/RegisterGroup', { auth: undefined, config, budget: (100n * T).toString(), allowList: [] }, RegisterGroupRequest.encode),
        );
        return true;
      },
      30_000,
    );
    const stakes = { [A.address]: 1000n * T, [B.address]: 3000n * T, [C.address]: 2000n * T };
    for (const op of [A, B, C]) {
      await rpc(
        registry(),
        'subscribe',
        signed(op, 'Registry/Subscribe', { auth: undefined, group: G, stake: stakes[op.address]!.toString() }, SubscribeRequest.encode),
      );
    }
    assert.equal(await ledgerTotal(), deposits);
    // Subscribed in period 0: the stakes count from period 1.
    await waitFor(
      'stakes recorded by rewards',
      async () =>
        (await rpc(rewards(), 'getOperatorRewards', { operator: C.address, group: G, period: 1 })).stake === stakes[C.address]!.toString() ? true : undefined,
      30_000,
    );
    assert.equal((await rpc(rewards(), 'getOperatorRewards', { operator: A.address, group: G, period: 0 })).stake, '0');

    // Period 1 (blocks 11..20): C unsubscribes (delay 1: final period 2); B stays below the SLA.
    await blocks(10);
    await atHeight(11);
    await rpc(registry(), 'unsubscribe', signed(C, 'Registry/Unsubscribe', { auth: undefined, group: G }, UnsubscribeRequest.encode));
    await waitFor(
      'C in its final period',
      async () => ((await rpc(rewards(), 'getOperatorRewards', { operator: C.address, group: G, period: 2 })).inFinalPeriod ? true : undefined),
      30_000,
    );
    const correct1 = { [A.address]: 10, [B.address]: 5, [C.address]: 9 };
    await rounds(1, correct1);
    await blocks(11);
    await atHeight(22);

    const e1 = expected(stakes, correct1);
    await waitFor(
      'period 1 credited by the registry',
      async () => ((await rpc(registry(), 'getAccount', { address: A.address })).unclaimed === e1[A.address]!.toString() ? true : undefined),
      30_000,
    );
    for (const op of [A, B, C]) {
      const r = await rpc(rewards(), 'getOperatorRewards', { operator: op.address, group: G, period: 1 });
      assert.equal(r.total, e1[op.address]!.toString(), `${names.get(op.address)} in period 1`);
      assert.equal((await rpc(registry(), 'getAccount', { address: op.address })).unclaimed, e1[op.address]!.toString());
    }
    assert.equal((await rpc(rewards(), 'getOperatorRewards', { operator: B.address, group: G, period: 1 })).slaMet, false);
    assert.equal(await ledgerTotal(), deposits);

    // Period 2 (21..30): C's final period, it earns nothing; its stake is released when period 2 closes.
    const correct2 = { [A.address]: 10, [B.address]: 10, [C.address]: 10 };
    await rounds(2, correct2);
    await blocks(10);
    await atHeight(32);
    const e2 = expected({ [A.address]: stakes[A.address]!, [B.address]: stakes[B.address]! }, correct2);
    await waitFor(
      'period 2 credited',
      async () => ((await rpc(registry(), 'getAccount', { address: B.address })).unclaimed === (e1[B.address]! + e2[B.address]!).toString() ? true : undefined),
      30_000,
    );
    assert.equal((await rpc(rewards(), 'getOperatorRewards', { operator: C.address, group: G, period: 2 })).total, '0');
    await waitFor(
      "C's stake released",
      async () => {
        const c = await rpc(registry(), 'getAccount', { address: C.address });
        return c.reserved === '0' && c.free === DEPOSITS[C.address]!.toString() ? c : undefined;
      },
      30_000,
    );
    assert.equal((await rpc(registry(), 'getAccount', { address: C.address })).unclaimed, e1[C.address]!.toString());
    // The registry's RewardsCredited confirmations reach rewards too.
    const payouts = await waitFor(
      'credits confirmed to rewards',
      async () => {
        const p = await rpc(rewards(), 'getGroupPayouts', { group: G, limit: 0 });
        return p.periods.every((x) => x.creditedChunks === 1) ? p : undefined;
      },
      30_000,
    );
    assert.deepEqual(
      payouts.periods.map((p) => [p.period, p.creditedChunks, p.refusedChunks, p.payoutChunks]),
      [
        [2, 1, 0, 1],
        [1, 1, 0, 1],
        [0, 1, 0, 1],
      ],
    );
    const paid = payouts.periods.reduce((a, p) => a + BigInt(p.paid), 0n);
    assert.equal(paid, e1[A.address]! + e1[B.address]! + e1[C.address]! + e2[A.address]! + e2[B.address]!);
    assert.equal((await rpc(registry(), 'getGroup', { namespace: G })).budget, (100n * T - paid).toString());
    assert.equal(payouts.budgetAvailable, (100n * T - paid).toString());

    // A claims through the registry: unclaimed → free; rewards sees the claim.
    const a = e1[A.address]! + e2[A.address]!;
    const claim = await rpc(registry(), 'claimRewards', signed(A, 'Registry/ClaimRewards', { auth: undefined, groups: [G] }, ClaimRewardsRequest.encode));
    assert.equal(claim.total, a.toString());
    const acct = await rpc(registry(), 'getAccount', { address: A.address });
    assert.deepEqual([acct.free, acct.unclaimed], [(DEPOSITS[A.address]! - stakes[A.address]! + a).toString(), '0']);
    await waitFor('rewards sees the claim', async () => {
      const u = await rpc(rewards(), 'getUnclaimedRewards', { operator: A.address });
      return u.total === '0' && u.groups[0]?.claimed === a.toString() ? true : undefined;
    });
    assert.equal(await ledgerTotal(), deposits);
  });
});
