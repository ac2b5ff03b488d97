import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { BudgetExhaustedEvent, RewardsComputedEvent } from '@ewx/platform';
import { addr, ev, rounds } from './fixtures.js';
import { close, closeCmd, given, of, type RewardsSpec } from './spec-support.js';
import { budgetLeft } from './state.js';
import type { RewardInputsRecordedEvent, RewardsDecidedEvent } from './events.js';

// Periods of 10 blocks: period 0 = blocks 1..10, period 1 = 11..20, period 2 = 21..30.
const A = addr(1);
const B = addr(2);
const G = 'grp';

const setup = (budget = '1000000', config = { subscriptionRewardPerBlock: '10', votingRewardPerBlock: '20', slaVotingThreshold: 50 }): RewardsSpec =>
  given(ev.schedule(10), ev.group(G, config, budget));

const payoutsOf = (log: RewardsSpec, period: number): Map<string, { amount: string; base?: string; active?: string }> =>
  new Map(
    of<RewardsComputedEvent>(log, 'RewardsComputed')
      .filter((e) => e.rewardPeriod === period)
      .flatMap((e) => e.payouts.map((p) => [p.operator, p] as const)),
  );
const decided = (log: RewardsSpec, period: number): RewardsDecidedEvent =>
  of<RewardsDecidedEvent>(log, 'RewardsDecided').find((d) => d.rewardPeriod === period)!;

describe('closing a period: when and how often', () => {
  test('given period 0 ends at block 10 and a settlement delay of 2, when closing at height 11, then it is refused; at height 12 it closes', () => {
    const log = setup().given(ev.subscribed(G, A, '100', 0), ev.block(11));
    log.when(closeCmd(G, 0, 2)).thenThrows('FAILED_PRECONDITION', /closes at block 12, height is 11/);
    assert.equal(of(log, 'RewardsDecided').length, 0);
    log.given(ev.block(12));
    const out = close(log, G, 0, 2);
    assert.deepEqual(
      out.map((e) => e.type),
      ['RewardInputsRecorded', 'RewardsDecided', 'RewardsComputed'],
    );
  });

  test('given a closed period, when it is closed again, then nothing is appended (once per group and period)', () => {
    const log = setup().given(ev.subscribed(G, A, '100', 0), ev.block(10));
    close(log, G, 0);
    log.when(closeCmd(G, 0)).thenNothingChanged();
    assert.equal(of(log, 'RewardsDecided').length, 1);
  });

  test('periods close in order: period 1 cannot close before period 0', () => {
    const log = setup().given(ev.block(30));
    log.when(closeCmd(G, 1)).thenThrows('FAILED_PRECONDITION', /closes period 0 first/);
    close(log, G, 0);
    assert.equal(close(log, G, 1).length, 3);
  });

  test('every closed period publishes at least one RewardsComputed chunk, even with nothing to pay', () => {
    const log = setup().given(ev.block(10));
    close(log, G, 0);
    assert.deepEqual(of<RewardsComputedEvent>(log, 'RewardsComputed'), [{ group: G, rewardPeriod: 0, chunk: 0, chunks: 1, payouts: [], subtotal: '0' }]);
  });
});

describe('stakes: active from the next period, top-ups, withdrawals', () => {
  test('given A subscribed with activeFromPeriod 1, then A earns nothing in period 0 and its base share in period 1', () => {
    const log = setup().given(ev.subscribed(G, A, '100', 1), ev.subscribed(G, B, '100', 0), ev.block(20));
    close(log, G, 0);
    assert.equal(payoutsOf(log, 0).get(A), undefined);
    assert.equal(payoutsOf(log, 0).get(B)?.base, '100');
    close(log, G, 1);
    assert.equal(payoutsOf(log, 1).get(A)?.base, '50');
    assert.equal(payoutsOf(log, 1).get(B)?.base, '50');
  });

  test('given a top-up to 300 effective from period 1, then period 0 splits 1:1 and period 1 splits 3:1', () => {
    const log = setup().given(ev.subscribed(G, A, '100', 0), ev.subscribed(G, B, '100', 0), ev.toppedUp(G, A, '200', '300', 1), ev.block(20));
    close(log, G, 0);
    close(log, G, 1);
    assert.equal(payoutsOf(log, 0).get(A)?.base, '50');
    assert.equal(payoutsOf(log, 1).get(A)?.base, '75');
    assert.equal(payoutsOf(log, 1).get(B)?.base, '25');
  });

  test('given A unsubscribed in period 0 with delay 1 (final period 1), then A earns in period 0, nothing in period 1, and is gone in period 2', () => {
    const log = setup().given(
      ev.subscribed(G, A, '100', 0),
      ev.subscribed(G, B, '100', 0),
      ev.unsubscribed(G, A, 0, 1),
      rounds(G, 0, [
        { op: A, eligible: 2, correct: 2 },
        { op: B, eligible: 2, correct: 2 },
      ]),
      rounds(G, 1, [
        { op: A, eligible: 2, correct: 2 },
        { op: B, eligible: 2, correct: 2 },
      ]),
      ev.block(30),
    );
    close(log, G, 0);
    close(log, G, 1);
    log.given(ev.released(G, A, '100', 1));
    close(log, G, 2);
    assert.deepEqual(payoutsOf(log, 0).get(A), { operator: A, amount: '150', base: '50', active: '100' });
    assert.equal(payoutsOf(log, 1).get(A), undefined);
    assert.deepEqual(payoutsOf(log, 1).get(B), { operator: B, amount: '300', base: '100', active: '200' });
    const inputs1 = of<RewardInputsRecordedEvent>(log, 'RewardInputsRecorded').find((e) => e.rewardPeriod === 1)!.operators;
    assert.deepEqual(
      inputs1.find((o) => o.operator === A),
      { operator: A, stake: '100', eligibleRounds: 2, correctVotes: 2, inFinalPeriod: true },
    );
    const inputs2 = of<RewardInputsRecordedEvent>(log, 'RewardInputsRecorded').find((e) => e.rewardPeriod === 2)!.operators;
    assert.equal(
      inputs2.find((o) => o.operator === A),
      undefined,
    );
  });

  test('given a withdrawal with delay 2 (final period 2), then the operator still earns in period 1', () => {
    const log = setup().given(ev.subscribed(G, A, '100', 0), ev.unsubscribed(G, A, 0, 2), ev.block(30));
    close(log, G, 0);
    close(log, G, 1);
    close(log, G, 2);
    assert.equal(payoutsOf(log, 1).get(A)?.base, '100');
    assert.equal(payoutsOf(log, 2).get(A), undefined);
  });

  test('given a new subscription after a withdrawal, then the stake counts again only from its activeFromPeriod', () => {
    const log = setup().given(
      ev.subscribed(G, A, '100', 0),
      ev.subscribed(G, B, '100', 0),
      ev.unsubscribed(G, A, 0, 1),
      ev.released(G, A, '100', 1),
      ev.subscribed(G, A, '50', 3),
      ev.block(40),
    );
    for (const p of [0, 1, 2, 3]) close(log, G, p);
    assert.equal(payoutsOf(log, 2).get(A), undefined);
    assert.equal(payoutsOf(log, 3).get(A)?.base, '33');
    assert.equal(payoutsOf(log, 3).get(B)?.base, '66');
  });
});

describe('vote metadata', () => {
  test('given A below the SLA (1 of 4) and B above (3 of 4), then only B earns the active pool', () => {
    const log = setup().given(
      ev.subscribed(G, A, '100', 0),
      ev.subscribed(G, B, '100', 0),
      rounds(G, 0, [
        { op: A, eligible: 4, correct: 1 },
        { op: B, eligible: 4, correct: 3 },
      ]),
      ev.block(10),
    );
    close(log, G, 0);
    assert.equal(payoutsOf(log, 0).get(A)?.active, '0');
    assert.equal(payoutsOf(log, 0).get(B)?.active, '200');
    assert.equal(decided(log, 0).outcome.qualifying, 1);
  });

  test('the same round (solution, round id, chunk) delivered twice counts once', () => {
    const r = ev.round(G, 0, 'r1', [A, B], [A]);
    const log = setup().given(ev.subscribed(G, A, '100', 0), ev.subscribed(G, B, '100', 0), r, r, ev.block(10));
    close(log, G, 0);
    const ops = of<RewardInputsRecordedEvent>(log, 'RewardInputsRecorded')[0]!.operators;
    assert.deepEqual(
      ops.map((o) => [o.eligibleRounds, o.correctVotes]),
      [
        [1, 1],
        [1, 0],
      ],
    );
  });

  test("a chunked round adds each chunk's operators once", () => {
    const log = setup().given(
      ev.subscribed(G, A, '100', 0),
      ev.subscribed(G, B, '100', 0),
      ev.round(G, 0, 'r1', [A], [A], 0, 2),
      ev.round(G, 0, 'r1', [B], [], 1, 2),
      ev.block(10),
    );
    close(log, G, 0);
    const ops = of<RewardInputsRecordedEvent>(log, 'RewardInputsRecorded')[0]!.operators;
    assert.deepEqual(
      ops.map((o) => [o.operator, o.eligibleRounds, o.correctVotes]),
      [
        [A, 1, 1],
        [B, 1, 0],
      ],
    );
  });

  test('given metadata for period 0 arriving after period 0 closed, then it is recorded and reported as late, and paid in no period', () => {
    const log = setup().given(ev.subscribed(G, A, '100', 0), ev.block(20));
    close(log, G, 0);
    log.given(ev.round(G, 0, 'late', [A], [A]));
    close(log, G, 1);
    assert.equal(log.state.groups.get(G)!.closed.get(0)!.lateRounds, 1);
    assert.equal(payoutsOf(log, 1).get(A)?.active, '0');
    assert.equal(of(log, 'VoteMetadata').length, 1);
  });
});

describe('configuration and budget', () => {
  test('given per-block rewards raised from period 1, then period 0 pays the old rates and period 1 the new ones', () => {
    const log = setup().given(ev.subscribed(G, A, '100', 0), ev.rates(G, '1', '0', 1), ev.block(20));
    close(log, G, 0);
    close(log, G, 1);
    assert.equal(payoutsOf(log, 0).get(A)?.amount, '100');
    assert.equal(payoutsOf(log, 1).get(A)?.amount, '10');
    assert.equal(decided(log, 1).inputs.config.subscriptionRewardPerBlock, '1');
  });

  test('given a budget of 150 and 100 due per period, then period 0 pays 100, period 1 is scaled to the 50 left with BudgetExhausted, period 2 pays nothing', () => {
    const log = setup('150', { subscriptionRewardPerBlock: '10', votingRewardPerBlock: '0', slaVotingThreshold: 0 }).given(
      ev.subscribed(G, A, '1', 0),
      ev.subscribed(G, B, '3', 0),
      ev.block(30),
    );
    close(log, G, 0);
    // The registry's PAID notice may come late or early: it does not change what rewards may still pay.
    log.given(ev.budget(G, '50', 'PAID', '100'));
    close(log, G, 1);
    close(log, G, 2);
    assert.deepEqual(
      [0, 1, 2].map((p) => decided(log, p).outcome.paid),
      ['100', '49', '0'],
    );
    assert.deepEqual(payoutsOf(log, 1).get(A), { operator: A, amount: '12', base: '12', active: '0' });
    assert.deepEqual(payoutsOf(log, 1).get(B), { operator: B, amount: '37', base: '37', active: '0' });
    const ex = of<BudgetExhaustedEvent>(log, 'BudgetExhausted');
    assert.deepEqual(ex[0], { group: G, rewardPeriod: 1, budget: '50', due: '100', paid: '49' });
    assert.equal(ex.length, 2);
    assert.equal(decided(log, 1).inputs.budget, '50');
  });

  test('given a raise of the budget, then later periods may pay it', () => {
    const log = setup('50', { subscriptionRewardPerBlock: '10', votingRewardPerBlock: '0', slaVotingThreshold: 0 }).given(
      ev.subscribed(G, A, '1', 0),
      ev.block(20),
    );
    close(log, G, 0);
    log.given(ev.budget(G, '0', 'PAID', '50'), ev.budget(G, '1000', 'RAISED', '1000'));
    close(log, G, 1);
    assert.equal(decided(log, 0).outcome.paid, '50');
    assert.equal(decided(log, 1).inputs.budget, '1000');
    assert.equal(decided(log, 1).outcome.paid, '100');
  });

  test('a removed group is not closed any more', () => {
    const log = setup().given(ev.subscribed(G, A, '100', 0), { type: 'GroupStatusChanged', data: { group: G, status: 'REMOVED' } }, ev.block(10));
    log.when(closeCmd(G, 0)).thenNothingChanged();
  });

  test('unclaimed = computed − claimed, per operator and group', () => {
    const log = setup().given(ev.subscribed(G, A, '100', 0), ev.block(20));
    close(log, G, 0);
    close(log, G, 1);
    log.given(ev.claimed(A, G, '150'));
    assert.equal(log.state.earned.get(A)!.get(G), 200n);
    assert.equal(log.state.claimed.get(A)!.get(G), 150n);
  });
});

describe('large groups', () => {
  test('given 4,000 operators, then inputs and payouts come in chunks under 512 KiB whose subtotals add up to what is paid', () => {
    const ops = Array.from({ length: 4000 }, (_, i) => addr(i + 1));
    const log = setup('9'.repeat(40), { subscriptionRewardPerBlock: '9'.repeat(20), votingRewardPerBlock: '9'.repeat(20), slaVotingThreshold: 0 }).given(
      ops.map((o, i) => ev.subscribed(G, o, (10n ** 30n + BigInt(i)).toString(), 0)),
      ev.round(G, 0, 'r', ops, ops),
      ev.block(10),
    );
    const out = close(log, G, 0);
    for (const e of out) assert.ok(Buffer.byteLength(JSON.stringify(e.data)) < 512 * 1024, `${e.type} is ${JSON.stringify(e.data).length} bytes`);
    const computed = of<RewardsComputedEvent>(log, 'RewardsComputed');
    assert.ok(computed.length > 1);
    assert.deepEqual(
      computed.map((c) => c.chunk),
      computed.map((_, i) => i),
    );
    assert.ok(computed.every((c) => c.chunks === computed.length));
    assert.equal(computed.reduce((a, c) => a + BigInt(c.subtotal), 0n).toString(), decided(log, 0).outcome.paid);
    assert.equal(computed.flatMap((c) => c.payouts).length, 4000);
    assert.equal(of<RewardInputsRecordedEvent>(log, 'RewardInputsRecorded').flatMap((c) => c.operators).length, 4000);
  });
});

describe('registry confirmations', () => {
  test("given a chunk the registry refused to credit, then its payouts leave the operators' computed rewards, and a credited one is counted", () => {
    const log = setup().given(ev.subscribed(G, A, '100', 0), ev.subscribed(G, B, '300', 0), ev.block(20));
    close(log, G, 0);
    close(log, G, 1);
    log.given({ type: 'RewardsCredited', data: { group: G, period: 0, chunk: 0, total: '100', payouts: [] } });
    log.given({ type: 'RewardsCreditRefused', data: { group: G, period: 1, chunk: 0, subtotal: '100', budget: '0', reason: 'test' } });
    const c0 = log.state.groups.get(G)!.closed.get(0)!;
    const c1 = log.state.groups.get(G)!.closed.get(1)!;
    assert.deepEqual([c0.credited, c0.refused, c1.credited, c1.refused], [1, 0, 0, 1]);
    assert.equal(log.state.earned.get(A)!.get(G), 25n);
    assert.equal(log.state.earned.get(B)!.get(G), 75n);
  });
});

describe('budget across periods (property)', () => {
  test('whatever the stakes, rates and budget, the periods together never pay more than the budget, and what is left is tracked exactly', () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 1n, max: 10n ** 21n }), { minLength: 1, maxLength: 6 }),
        fc.bigInt({ min: 0n, max: 10n ** 18n }),
        fc.bigInt({ min: 0n, max: 10n ** 18n }),
        fc.bigInt({ min: 0n, max: 10n ** 20n }),
        fc.integer({ min: 1, max: 5 }),
        (stakes, sub, vote, budget, periods) => {
          const log = given(
            ev.schedule(10),
            ev.group(G, { subscriptionRewardPerBlock: sub.toString(), votingRewardPerBlock: vote.toString(), slaVotingThreshold: 50 }, budget.toString()),
            stakes.map((st, i) => ev.subscribed(G, addr(i + 1), st.toString(), 0)),
            rounds(
              G,
              0,
              stakes.map((_, i) => ({ op: addr(i + 1), eligible: 4, correct: i % 5 })),
            ),
            ev.block(periods * 10),
          );
          for (let p = 0; p < periods; p++) close(log, G, p);
          const paid = of<RewardsComputedEvent>(log, 'RewardsComputed').reduce((a, c) => a + BigInt(c.subtotal), 0n);
          assert.ok(paid <= budget);
          assert.equal(budgetLeft(log.state.groups.get(G)!), budget - paid);
          const exhausted = of<BudgetExhaustedEvent>(log, 'BudgetExhausted');
          for (const e of exhausted) assert.ok(BigInt(e.paid) <= BigInt(e.budget) && BigInt(e.due) > BigInt(e.budget));
        },
      ),
      { numRuns: 100 },
    );
  });
});
