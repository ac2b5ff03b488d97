import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { rewardsEvent } from '@ewx/contracts';
import { encodePosition, type EventData, type RecordedEvent } from '@ewx/platform';
import { meetsPercent, periodByIndex } from '@ewx/platform/domain';
import { decide } from './decide.js';
import { evolve } from './evolve.js';
import { addr, ev } from './fixtures.js';
import { budgetLeft, initialState, periodStake, ratesAt, type RewardsState } from './state.js';
import { chunked } from './events.js';
import type { OperatorInput, PeriodInputs } from './compute.js';

/*
 * Differential test: closing a period was made faster (one pass over the operators, a string sort of
 * the keys, sums kept as bigints). Below is the implementation before that change, kept verbatim as
 * the reference (closingInputs, computePeriodRewards, decisionEvents); the decision events of the new
 * one must be the same, byte for byte, on random groups.
 */
function refClosingInputs(s: RewardsState, group: string, period: number): PeriodInputs {
  const g = s.groups.get(group)!;
  const p = periodByIndex(s.schedule, period)!;
  const rates = ratesAt(g, period);
  const stakes = s.stakes.get(group) ?? new Map();
  const votes = s.votes.get(group)?.get(period)?.operators ?? new Map();
  const operators: OperatorInput[] = [];
  for (const op of new Set([...stakes.keys(), ...votes.keys()])) {
    const { stake, inFinalPeriod } = periodStake(stakes.get(op), period);
    const counts = votes.get(op) ?? { eligible: 0, correct: 0 };
    if (stake === 0n && counts.eligible === 0 && counts.correct === 0 && !inFinalPeriod) continue;
    operators.push({ operator: op, stake: stake.toString(), eligibleRounds: counts.eligible, correctVotes: counts.correct, inFinalPeriod });
  }
  operators.sort((a, b) => (a.operator < b.operator ? -1 : a.operator > b.operator ? 1 : 0));
  return {
    group,
    period,
    firstBlock: p.firstBlock,
    lastBlock: p.lastBlock,
    config: {
      subscriptionRewardPerBlock: rates.subscription.toString(),
      votingRewardPerBlock: rates.voting.toString(),
      slaVotingThreshold: g.config.slaVotingThreshold,
      operationStartBlock: g.config.operationStartBlock,
      operationEndBlock: g.config.operationEndBlock,
    },
    budget: budgetLeft(g).toString(),
    operators,
  };
}
function refActiveBlocks(firstBlock: number, lastBlock: number, opStart: number, opEnd: number): number {
  const from = Math.max(firstBlock, opStart);
  const to = opEnd === 0 ? lastBlock : Math.min(lastBlock, opEnd);
  return to >= from ? to - from + 1 : 0;
}
const refMeetsSla = (correct: number, eligible: number, sla: number): boolean => eligible > 0 && meetsPercent(correct, eligible, sla);
const refEarnsBase = (o: OperatorInput): boolean => !o.inFinalPeriod && BigInt(o.stake) > 0n;
function refCompute(inputs: PeriodInputs) {
  const c = inputs.config;
  const blocks = refActiveBlocks(inputs.firstBlock, inputs.lastBlock, c.operationStartBlock, c.operationEndBlock);
  const basePool = BigInt(c.subscriptionRewardPerBlock) * BigInt(blocks);
  const activePool = BigInt(c.votingRewardPerBlock) * BigInt(blocks);
  const stakes = inputs.operators.map((o) => (refEarnsBase(o) ? BigInt(o.stake) : 0n));
  const qualifies = inputs.operators.map((o, i) => stakes[i]! > 0n && refMeetsSla(o.correctVotes, o.eligibleRounds, c.slaVotingThreshold));
  const weights = inputs.operators.map((o, i) => (qualifies[i] ? BigInt(o.correctVotes) * stakes[i]! : 0n));
  const totalStake = stakes.reduce((a, b) => a + b, 0n);
  const weightSum = weights.reduce((a, b) => a + b, 0n);
  let rewards = inputs.operators.map((o, i) => ({
    operator: o.operator,
    base: totalStake > 0n ? (stakes[i]! * basePool) / totalStake : 0n,
    active: weightSum > 0n ? (weights[i]! * activePool) / weightSum : 0n,
  }));
  const due = rewards.reduce((a, r) => a + r.base + r.active, 0n);
  const budget = BigInt(inputs.budget);
  const budgetExhausted = due > budget;
  if (budgetExhausted) rewards = rewards.map((r) => ({ operator: r.operator, base: (r.base * budget) / due, active: (r.active * budget) / due }));
  const paid = rewards.reduce((a, r) => a + r.base + r.active, 0n);
  return {
    activeBlocks: blocks,
    basePool,
    activePool,
    totalStake,
    weightSum,
    qualifying: qualifies.filter((q) => q).length,
    due,
    paid,
    budgetExhausted,
    rewards,
  };
}
function refDecisionEvents(inputs: PeriodInputs, d: ReturnType<typeof refCompute>, rows: number): EventData[] {
  const { group, period } = inputs;
  const inputChunks = chunked(inputs.operators, rows);
  const payouts = d.rewards
    .filter((r) => r.base + r.active > 0n)
    .map((r) => ({ operator: r.operator, amount: (r.base + r.active).toString(), base: r.base.toString(), active: r.active.toString() }));
  const payoutChunks = chunked(payouts, rows);
  const out: EventData[] = inputChunks.map((operators, chunk) =>
    rewardsEvent({ type: 'RewardInputsRecorded', data: { group, rewardPeriod: period, chunk, chunks: inputChunks.length, operators } }),
  );
  out.push(
    rewardsEvent({
      type: 'RewardsDecided',
      data: {
        group,
        rewardPeriod: period,
        inputs: {
          firstBlock: inputs.firstBlock,
          lastBlock: inputs.lastBlock,
          config: inputs.config,
          budget: inputs.budget,
          operators: inputs.operators.length,
          inputChunks: inputChunks.length,
        },
        outcome: {
          activeBlocks: d.activeBlocks,
          basePool: d.basePool.toString(),
          activePool: d.activePool.toString(),
          totalStake: d.totalStake.toString(),
          weightSum: d.weightSum.toString(),
          qualifying: d.qualifying,
          due: d.due.toString(),
          paid: d.paid.toString(),
          budgetExhausted: d.budgetExhausted,
          payoutChunks: payoutChunks.length,
        },
      },
    }),
  );
  if (d.budgetExhausted)
    out.push(
      rewardsEvent({ type: 'BudgetExhausted', data: { group, rewardPeriod: period, budget: inputs.budget, due: d.due.toString(), paid: d.paid.toString() } }),
    );
  payoutChunks.forEach((rows, chunk) => {
    const subtotal = rows.reduce((a, r) => a + BigInt(r.amount), 0n).toString();
    out.push(rewardsEvent({ type: 'RewardsComputed', data: { group, rewardPeriod: period, chunk, chunks: payoutChunks.length, payouts: rows, subtotal } }));
  });
  return out;
}

let position = 0n;
const apply = (s: RewardsState, e: EventData): RewardsState =>
  evolve(s, { ...e, streamId: 'inbox:test', version: 0, position: encodePosition([++position]) } as RecordedEvent);

const G = 'grp';
const operatorArb = fc.record({
  id: fc.integer({ min: 0, max: 5000 }),
  stake: fc.bigInt({ min: 0n, max: 10n ** 30n }),
  from: fc.integer({ min: 0, max: 2 }),
  unsubscribe: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }),
  subscribed: fc.boolean(),
  eligible: fc.integer({ min: 0, max: 6 }),
  correct: fc.integer({ min: 0, max: 6 }),
});

type Operator = { id: number; stake: bigint; from: number; unsubscribe: number | undefined; subscribed: boolean; eligible: number; correct: number };

function closeMatchesReference(ops: Operator[], budget: bigint, sla: number, sub: number, vote: number, period: number): void {
  let s = initialState();
  s = apply(s, ev.schedule(10));
  s = apply(s, ev.group(G, { subscriptionRewardPerBlock: String(sub), votingRewardPerBlock: String(vote), slaVotingThreshold: sla }, budget.toString()));
  for (const o of ops) {
    if (o.subscribed) s = apply(s, ev.subscribed(G, addr(o.id), o.stake.toString(), o.from));
    if (o.unsubscribe !== undefined) s = apply(s, ev.unsubscribed(G, addr(o.id), o.unsubscribe, o.unsubscribe));
  }
  // Vote metadata per period for `period` (rounds r0..r5), eligible/correct per operator.
  for (let r = 0; r < 6; r++) {
    const eligible = ops.filter((o) => o.eligible > r).map((o) => addr(o.id));
    const correct = ops.filter((o) => o.correct > r).map((o) => addr(o.id));
    for (let p = 0; p <= period; p++) s = apply(s, ev.round(G, p, `r${r}`, eligible, correct));
  }
  s = apply(s, ev.block(100));
  for (let p = 0; p <= period; p++) {
    const expected = refDecisionEvents(refClosingInputs(s, G, p), refCompute(refClosingInputs(s, G, p)), 1500);
    const got = decide({ type: 'ClosePeriod', group: G, period: p, settlementDelay: 0 }, s);
    assert.deepEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(expected)));
    for (const e of got) s = apply(s, e);
  }
}

describe('closing a period equals the reference implementation', () => {
  test('same decision events (inputs, outcome, payouts, subtotals; bigint, rounded down) on random groups, budgets and SLAs', () => {
    fc.assert(
      fc.property(
        fc.array(operatorArb, { maxLength: 120 }),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 10 ** 6 }),
        fc.integer({ min: 0, max: 10 ** 6 }),
        fc.integer({ min: 0, max: 2 }),
        closeMatchesReference,
      ),
      { numRuns: 150 },
    );
  });

  test('same decision events on a few hundred random operators (radix-sorted addresses, stakes passed as bigints)', () => {
    fc.assert(
      fc.property(
        fc.array(operatorArb, { minLength: 200, maxLength: 500 }),
        fc.bigInt({ min: 0n, max: 10n ** 30n }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 10 ** 9 }),
        fc.integer({ min: 0, max: 10 ** 9 }),
        fc.integer({ min: 0, max: 1 }),
        closeMatchesReference,
      ),
      { numRuns: 25 },
    );
  });

  test('same decision events at 5,000 operators (several input and payout chunks), budget exhausted and not', () => {
    for (const budget of [10n ** 30n, 123_456_789n]) {
      let s = initialState();
      s = apply(s, ev.schedule(10));
      s = apply(s, ev.group(G, { subscriptionRewardPerBlock: '1000000007', votingRewardPerBlock: '999999937', slaVotingThreshold: 60 }, budget.toString()));
      const n = 5000;
      for (let i = 0; i < n; i++) s = apply(s, ev.subscribed(G, addr((i * 7919) % 100_003), String(1 + ((i * 104_729) % 99_991)), 0));
      for (let r = 0; r < 5; r++) {
        const eligible = Array.from({ length: n }, (_, i) => addr((i * 7919) % 100_003));
        s = apply(
          s,
          ev.round(
            G,
            0,
            `r${r}`,
            eligible,
            eligible.filter((_, i) => (i * 31 + r) % 7 < 5),
          ),
        );
      }
      s = apply(s, ev.block(20));
      const expected = refDecisionEvents(refClosingInputs(s, G, 0), refCompute(refClosingInputs(s, G, 0)), 1500);
      const got = decide({ type: 'ClosePeriod', group: G, period: 0, settlementDelay: 0 }, s);
      assert.ok(got.length > 4);
      assert.deepEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(expected)));
    }
  });
});
