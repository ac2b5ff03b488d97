import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { TOKEN, wholeTokens } from '@ewx/platform';
import { activeBlocks, computePeriodRewards, meetsSla, type OperatorInput, type PeriodInputs, type RewardConfig } from './compute.js';
import { addr, tokens } from './fixtures.js';

const config = (over: Partial<RewardConfig> = {}): RewardConfig => ({
  subscriptionRewardPerBlock: '0',
  votingRewardPerBlock: '0',
  slaVotingThreshold: 0,
  operationStartBlock: 1,
  operationEndBlock: 0,
  ...over,
});
const op = (i: number, stake: string, eligible: number, correct: number, inFinalPeriod = false): OperatorInput => ({
  operator: addr(i),
  stake,
  eligibleRounds: eligible,
  correctVotes: correct,
  inFinalPeriod,
});
const inputs = (operators: OperatorInput[], c: Partial<RewardConfig>, over: Partial<PeriodInputs> = {}): PeriodInputs => ({
  group: 'g',
  period: 0,
  firstBlock: 1,
  lastBlock: 7200,
  config: config(c),
  budget: tokens(10n ** 12n),
  operators,
  ...over,
});
const rewardOf = (d: ReturnType<typeof computePeriodRewards>, i: number) => d.rewards.find((r) => r.operator === addr(i))!;

describe('SPEC §6 worked example', () => {
  test(
    'given 100 qualifying operators with Σ(correct × stake) = 10,000,000 and A with 110 correct votes and stake 1000, ' +
      'when 1 token per block for 7200 blocks is shared, then A gets exactly 79.2 tokens, displayed as 79',
    () => {
      // A: 110 × 1000; 98 operators: 100 × 1000 each; one: 90 × 1000 → Σ = 110,000 + 9,800,000 + 90,000.
      const ops = [op(0, tokens(1000), 120, 110), ...Array.from({ length: 98 }, (_, i) => op(i + 1, tokens(1000), 120, 100)), op(99, tokens(1000), 120, 90)];
      const d = computePeriodRewards(inputs(ops, { votingRewardPerBlock: TOKEN.toString(), slaVotingThreshold: 50 }));
      assert.equal(d.qualifying, 100);
      assert.equal(d.weightSum, 10_000_000n * TOKEN);
      assert.equal(d.activeBlocks, 7200);
      const a = rewardOf(d, 0);
      assert.equal(a.active, 79_200_000_000_000_000_000n);
      assert.equal(a.base, 0n);
      assert.equal(wholeTokens(a.active + a.base), 79n);
    },
  );

  test('given a division that is not exact, then each share rounds down to the base unit and the dust is not paid', () => {
    // Active pool 10 base units over three equal weights: 3 each, 1 left; base pool 100 over three equal stakes: 33 each, 1 left.
    const ops = [op(1, '1', 1, 1), op(2, '1', 1, 1), op(3, '1', 1, 1)];
    const d = computePeriodRewards(inputs(ops, { votingRewardPerBlock: '10', subscriptionRewardPerBlock: '100' }, { lastBlock: 1 }));
    assert.deepEqual(
      d.rewards.map((r) => [r.base, r.active]),
      [
        [33n, 3n],
        [33n, 3n],
        [33n, 3n],
      ],
    );
    assert.equal(d.paid, 108n);
    assert.equal(d.due, 108n);
    // Pool 2000 base units over stakes 7000 : 2000 tokens: 1555.5… for the first, truncated at the base unit.
    const d2 = computePeriodRewards(inputs([op(1, tokens(7000), 1, 1), op(2, tokens(2000), 1, 1)], { votingRewardPerBlock: '2' }, { lastBlock: 1000 }));
    assert.equal(rewardOf(d2, 1).active, (7000n * 2000n) / 9000n);
    assert.equal(rewardOf(d2, 1).active, 1555n);
  });
});

describe('active_blocks: blocks of the period inside the operation window', () => {
  test('window covering, overlapping either end, inside, outside, and open-ended (end 0)', () => {
    assert.equal(activeBlocks(101, 200, 1, 1000), 100);
    assert.equal(activeBlocks(101, 200, 151, 1000), 50);
    assert.equal(activeBlocks(101, 200, 1, 120), 20);
    assert.equal(activeBlocks(101, 200, 110, 119), 10);
    assert.equal(activeBlocks(101, 200, 201, 300), 0);
    assert.equal(activeBlocks(101, 200, 1, 100), 0);
    assert.equal(activeBlocks(101, 200, 150, 0), 51);
    assert.equal(activeBlocks(101, 200, 200, 200), 1);
  });

  test('given a window covering half the period, then both pools are half', () => {
    const d = computePeriodRewards(inputs([op(1, '5', 2, 2)], { subscriptionRewardPerBlock: '3', votingRewardPerBlock: '7', operationStartBlock: 3601 }));
    assert.equal(d.activeBlocks, 3600);
    assert.equal(d.basePool, 3n * 3600n);
    assert.equal(d.activePool, 7n * 3600n);
    assert.equal(rewardOf(d, 1).base, 10_800n);
    assert.equal(rewardOf(d, 1).active, 25_200n);
  });
});

describe('base (subscription) reward: pool split by stake among operators with stake active in the period', () => {
  test('given stakes 1, 3 and 0 (not active), then the pool of 400 splits 100 / 300 / 0, whatever the votes', () => {
    const d = computePeriodRewards(inputs([op(1, '1', 0, 0), op(2, '3', 5, 0), op(3, '0', 5, 5)], { subscriptionRewardPerBlock: '4' }, { lastBlock: 100 }));
    assert.deepEqual(
      d.rewards.map((r) => r.base),
      [100n, 300n, 0n],
    );
    assert.equal(d.totalStake, 4n);
  });
});

describe('active reward: SLA and weights', () => {
  test('SLA: correct × 100 ≥ threshold × eligible, with eligible > 0', () => {
    assert.equal(meetsSla(8, 10, 80), true);
    assert.equal(meetsSla(7, 10, 80), false);
    assert.equal(meetsSla(0, 0, 0), false);
    assert.equal(meetsSla(0, 1, 0), true);
    assert.equal(meetsSla(10, 10, 100), true);
  });

  test('given one operator exactly at the SLA and one just below, then only the first is paid, and gets the whole pool', () => {
    const d = computePeriodRewards(
      inputs([op(1, '10', 10, 8), op(2, '1000', 10, 7)], { votingRewardPerBlock: '1', slaVotingThreshold: 80 }, { lastBlock: 1000 }),
    );
    assert.equal(rewardOf(d, 1).active, 1000n);
    assert.equal(rewardOf(d, 2).active, 0n);
    assert.equal(d.qualifying, 1);
  });

  test('given an operator with no eligible rounds, then it earns no active reward even at threshold 0', () => {
    const d = computePeriodRewards(inputs([op(1, '10', 0, 0), op(2, '10', 4, 1)], { votingRewardPerBlock: '1' }, { lastBlock: 100 }));
    assert.equal(rewardOf(d, 1).active, 0n);
    assert.equal(rewardOf(d, 2).active, 100n);
  });

  test('weights are correct × stake: (2 × 30) : (6 × 10) share equally', () => {
    const d = computePeriodRewards(inputs([op(1, '30', 6, 2), op(2, '10', 6, 6)], { votingRewardPerBlock: '1' }, { lastBlock: 100 }));
    assert.equal(rewardOf(d, 1).active, 50n);
    assert.equal(rewardOf(d, 2).active, 50n);
  });
});

describe('final withdrawal period', () => {
  test('given an operator in its final withdrawal period, then it earns nothing and its stake does not dilute the others', () => {
    const d = computePeriodRewards(
      inputs([op(1, '10', 5, 5, true), op(2, '10', 5, 5)], { subscriptionRewardPerBlock: '1', votingRewardPerBlock: '1' }, { lastBlock: 100 }),
    );
    assert.deepEqual([rewardOf(d, 1).base, rewardOf(d, 1).active], [0n, 0n]);
    assert.deepEqual([rewardOf(d, 2).base, rewardOf(d, 2).active], [100n, 100n]);
  });
});

describe('budget shortfall', () => {
  test('given due 1000 and a budget of 600, then every share is scaled by 600/1000 rounding down and the flag is set', () => {
    const d = computePeriodRewards(
      inputs([op(1, '1', 1, 1), op(2, '3', 1, 1)], { subscriptionRewardPerBlock: '5', votingRewardPerBlock: '5' }, { lastBlock: 100, budget: '600' }),
    );
    assert.equal(d.due, 1000n);
    assert.equal(d.budgetExhausted, true);
    assert.deepEqual(
      d.rewards.map((r) => [r.base, r.active]),
      [
        [75n, 75n],
        [225n, 225n],
      ],
    );
    assert.equal(d.paid, 600n);
  });

  test('given a budget that exactly covers the due amount, then nothing is scaled', () => {
    const d = computePeriodRewards(inputs([op(1, '1', 1, 1)], { subscriptionRewardPerBlock: '5' }, { lastBlock: 100, budget: '500' }));
    assert.equal(d.budgetExhausted, false);
    assert.equal(d.paid, 500n);
  });

  test('given an empty budget, then nothing is paid', () => {
    const d = computePeriodRewards(inputs([op(1, '1', 1, 1)], { subscriptionRewardPerBlock: '5' }, { lastBlock: 100, budget: '0' }));
    assert.equal(d.budgetExhausted, true);
    assert.equal(d.paid, 0n);
  });
});

describe('properties over random periods', () => {
  const operatorArb = fc.record({
    stake: fc.bigInt({ min: 0n, max: 10n ** 24n }),
    eligible: fc.integer({ min: 0, max: 50 }),
    correctShare: fc.integer({ min: 0, max: 100 }),
    fin: fc.boolean(),
  });
  test('shares round down (each is ⌊weight × pool / Σ⌋), never exceed pools or budget, and dust is below one unit per operator', () => {
    fc.assert(
      fc.property(
        fc.array(operatorArb, { maxLength: 30 }),
        fc.bigInt({ min: 0n, max: 10n ** 20n }),
        fc.bigInt({ min: 0n, max: 10n ** 20n }),
        fc.integer({ min: 0, max: 100 }),
        fc.bigInt({ min: 0n, max: 10n ** 26n }),
        (ops, sub, vote, sla, budget) => {
          const ins = inputs(
            ops.map((o, i) => op(i, o.stake.toString(), o.eligible, Math.floor((o.eligible * o.correctShare) / 100), o.fin)),
            { subscriptionRewardPerBlock: sub.toString(), votingRewardPerBlock: vote.toString(), slaVotingThreshold: sla },
            { lastBlock: 10, budget: budget.toString() },
          );
          const d = computePeriodRewards(ins);
          const base = d.rewards.reduce((a, r) => a + r.base, 0n);
          const active = d.rewards.reduce((a, r) => a + r.active, 0n);
          assert.ok(d.paid <= budget);
          assert.equal(d.paid, base + active);
          assert.ok(base <= d.basePool && active <= d.activePool);
          if (!d.budgetExhausted) {
            const n = BigInt(ops.length);
            if (d.totalStake > 0n) assert.ok(d.basePool - base < n);
            if (d.weightSum > 0n) assert.ok(d.activePool - active < n);
            ins.operators.forEach((o, i) => {
              const s = o.inFinalPeriod ? 0n : BigInt(o.stake);
              assert.equal(d.rewards[i]!.base, d.totalStake > 0n ? (s * d.basePool) / d.totalStake : 0n);
              if (o.inFinalPeriod) assert.equal(d.rewards[i]!.active, 0n);
            });
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('stakes passed as bigints (the close) give the decision of stakes parsed from the inputs (the audit)', () => {
  test('same decision on random operators, budgets and SLAs', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ stake: fc.bigInt({ min: 0n, max: 10n ** 30n }), eligible: fc.nat(20), correct: fc.nat(20), final: fc.boolean() }), {
          maxLength: 300,
        }),
        fc.bigInt({ min: 0n, max: 10n ** 33n }),
        fc.integer({ min: 0, max: 100 }),
        (rows, budget, sla) => {
          const i = inputs(
            rows.map((r, k) => op(k, r.stake.toString(), r.eligible, Math.min(r.correct, r.eligible), r.final)),
            { subscriptionRewardPerBlock: '1000000007', votingRewardPerBlock: '999999937', slaVotingThreshold: sla },
            { budget: budget.toString() },
          );
          assert.deepEqual(
            computePeriodRewards(
              i,
              rows.map((r) => r.stake),
            ),
            computePeriodRewards(i),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
