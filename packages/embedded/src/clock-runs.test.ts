import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestNetwork, type TestNetwork } from './test-network.js';
import { waitFor } from '@ewx/platform/testing';
import { untilHeight, type Ewx, type KeyPair, type Signer } from '@ewx/client';

const T = 10n ** 18n;

/**
 * The clock in runs (issue 13): one ProduceBlocks of 100 blocks goes past a round's end, its reward
 * period's end and the settlement delay at once. Consensus cuts the run at the round's end and
 * waits for its outcome, so rewards closes the period with the round counted — the same payout as
 * block by block (SPEC §6), not the base reward alone. Then: the run is one event in each log.
 */
describe('blocks as runs through the embedded system', () => {
  let net: TestNetwork;
  let ewx: Ewx;
  let registrar: KeyPair;
  let operators: readonly KeyPair[];
  let workers: readonly KeyPair[];
  let as: (k: KeyPair) => Signer;

  before(async () => {
    net = await startTestNetwork('runs');
    ({ ewx, registrar, operators, workers, as } = net);
  });
  after(async () => {
    await net?.close();
  });

  test('one call of 100 blocks past a round end and its period close pays the round as block by block would (SPEC §6)', async () => {
    await ewx.withSigner(as(registrar)).voting.startRound({ solution: 'runs.solution', roundId: 'r1' }); // at 11, ends at 14
    await waitFor(
      'consensus knows the round',
      async () =>
        await ewx.consensus.getSettlement({ solution: 'runs.solution', roundId: 'r1' }).then(
          () => true,
          () => undefined,
        ),
      30_000,
      10,
    );
    const results = ['c0ffee', 'c0ffee', 'beef'];
    for (let i = 0; i < workers.length; i++) {
      await ewx.withSigner(as(workers[i]!)).voting.submitVote({ solution: 'runs.solution', roundId: 'r1', result: Buffer.from(results[i]!, 'hex') });
    }
    const positions = async (): Promise<bigint[]> =>
      Promise.all((['registry', 'voting', 'rewards', 'distance'] as const).map(async (s) => BigInt((await ewx[s].getStatus({})).logPosition)));
    const before = await positions();
    assert.equal((await ewx.consensus.produceBlocks({ count: 100 })).height, 111n);
    await untilHeight(ewx, 111, { timeoutMs: 60_000 });
    const op0 = await waitFor(
      'period 1 closed',
      async () => {
        const r = await ewx.rewards.getOperatorRewards({ operator: operators[0]!.address, group: 'runs.group', period: 1 });
        return r.closed ? r : undefined;
      },
      60_000,
      20,
    );
    // Base: 10 tokens over three equal stakes; active: 10 tokens to the two operators that voted the result (the third missed the SLA).
    const base = (10n * T) / 3n;
    assert.deepEqual(
      [op0.eligibleRounds, op0.correctVotes, op0.base, op0.active, op0.total],
      [1, 1, base.toString(), (5n * T).toString(), (base + 5n * T).toString()],
    );
    const op2 = await ewx.rewards.getOperatorRewards({ operator: operators[2]!.address, group: 'runs.group', period: 1 });
    assert.deepEqual([op2.eligibleRounds, op2.correctVotes, op2.active, op2.slaMet], [1, 0, '0', false]);
    // The voting round closed at its end block (the run was cut there), not at the end of the call.
    let closedAt: number | undefined;
    for await (const e of ewx.watch('voting', { types: ['RoundClosed'] })) {
      closedAt = (e.data as { height: number }).height;
      break;
    }
    assert.equal(closedAt, 14);
    // 100 blocks cost the other logs what happened in them (runs cut at 14, the round, ten period starts and closes), not an event per block.
    const after = await positions();
    const added = after.map((a, i) => Number(a - before[i]!));
    console.log('events added by 100 blocks (registry, voting, rewards, distance):', added.join(', '));
    for (const d of added) assert.ok(d > 0 && d < 100, `${added.join(', ')} events for 100 blocks`);
    // Voting and distance record the runs only (two here) and the round's close: no period work.
    assert.ok(added[1]! < 10 && added[3]! < 10, `${added.join(', ')} events for 100 blocks`);
  });

  test('an idle reward period adds the same events to each log whatever its length (10 blocks, then 200)', async () => {
    const services = ['registry', 'voting', 'rewards', 'distance'] as const;
    const positions = async (): Promise<number[]> => Promise.all(services.map(async (s) => Number((await ewx[s].getStatus({})).logPosition)));
    const produce = async (count: number): Promise<bigint> => {
      const { height } = await ewx.consensus.produceBlocks({ count });
      await untilHeight(ewx, height, { timeoutMs: 60_000 });
      return height;
    };
    /** Period `p` closed and its payout credited by the registry (the last step of a close, as rewards records it). */
    const credited = (p: number) =>
      waitFor(
        `period ${p} closed and credited`,
        async () => {
          const { periods } = await ewx.rewards.getGroupPayouts({ group: 'runs.group', limit: 500 });
          const x = periods.find((q) => q.period === p);
          return x && x.payoutChunks > 0 && x.creditedChunks === x.payoutChunks ? true : undefined;
        },
        60_000,
        20,
      );
    /** From period p − 1 credited to period p credited: its blocks in two calls (no vote, no round). */
    const idlePeriod = async (p: number, length: number): Promise<number[]> => {
      const before = await positions();
      await produce(length / 2);
      await produce(length / 2);
      await credited(p);
      const after = await positions();
      return after.map((a, i) => a - before[i]!);
    };
    // Periods of 10 blocks: period 10 (101..110) closes at 112, period 11 (111..120) at 122.
    assert.equal(await produce(1), 112n);
    await credited(10);
    const ten = await idlePeriod(11, 10);
    // From period 13 on, periods of 200 blocks (131..330, closed at 332); the budget (500 tokens, about 370 left) still covers one.
    await ewx.rewards.setRewardPeriodLength({ length: 200 });
    assert.equal(await produce(10), 132n);
    await credited(12);
    let schedules = 0;
    for await (const _ of ewx.watch('voting', { types: ['RewardPeriodScheduleChanged'], includeInputs: true })) if (++schedules === 2) break;
    const longer = await idlePeriod(13, 200);
    console.log(`events added by an idle period of 10 and of 200 blocks (${services.join(', ')}): ${ten.join(', ')} / ${longer.join(', ')}`);
    assert.deepEqual(longer, ten);
    assert.ok(
      ten.every((n) => n > 0 && n < 20),
      ten.join(', '),
    );
  });
});
