/**
 * The period close as it was before the radix sort and the pre-parsed stakes (commit 773aba0),
 * kept verbatim as the same-run baseline of close-period.bench.ts: closingInputs sorting the
 * addresses with a comparator, computePeriodRewards parsing every stake back from its string.
 * decisionEvents and evolve are shared (unchanged).
 */
import { precondition, periodByIndex } from '@ewx/platform/domain';
import { activeBlocks, meetsSla, type OperatorInput, type OperatorReward, type PeriodDecision, type PeriodInputs } from '../src/domain/compute.js';
import { decisionEvents } from '../src/domain/events.js';
import { budgetLeft, periodStake, ratesAt, type RewardsState } from '../src/domain/state.js';
import type { EventData } from '@ewx/platform';

export function referenceClose(s: RewardsState, group: string, period: number, settlementDelay: number): EventData[] {
  const inputs = closingInputs(s, group, period, settlementDelay);
  return inputs ? decisionEvents(inputs, computePeriodRewards(inputs)) : [];
}

export function closingInputs(s: RewardsState, group: string, period: number, settlementDelay: number): PeriodInputs | undefined {
  const g = s.groups.get(group);
  if (!g) throw precondition(`ClosePeriod: group ${group} is not known to rewards`);
  if (period <= g.lastClosed || g.status === 'REMOVED') return undefined;
  if (period !== g.lastClosed + 1) throw precondition(`ClosePeriod: group ${group} closes period ${g.lastClosed + 1} first`);
  const p = periodByIndex(s.schedule, period);
  if (!p) throw precondition('ClosePeriod: the reward period calendar has not started yet');
  if (s.height < p.lastBlock + settlementDelay) {
    throw precondition(`ClosePeriod: period ${period} ends at block ${p.lastBlock}; it closes at block ${p.lastBlock + settlementDelay}, height is ${s.height}`);
  }
  const rates = ratesAt(g, period);
  const stakes = s.stakes.get(group) ?? new Map();
  const votes = s.votes.get(group)?.get(period)?.operators ?? new Map();
  // Every operator once, sorted by address: the keys are distinct strings, and the default sort
  // compares strings by UTF-16 code units, as `<` does, without a comparator call per comparison.
  const keys = [...stakes.keys()];
  for (const op of votes.keys()) if (!stakes.has(op)) keys.push(op);
  keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const operators: OperatorInput[] = [];
  for (const op of keys) {
    const { stake, inFinalPeriod } = periodStake(stakes.get(op), period);
    const counts = votes.get(op);
    const eligible = counts?.eligible ?? 0;
    const correct = counts?.correct ?? 0;
    if (stake === 0n && eligible === 0 && correct === 0 && !inFinalPeriod) continue;
    operators.push({ operator: op, stake: stake.toString(), eligibleRounds: eligible, correctVotes: correct, inFinalPeriod });
  }
  return {
    group, period, firstBlock: p.firstBlock, lastBlock: p.lastBlock,
    config: {
      subscriptionRewardPerBlock: rates.subscription.toString(), votingRewardPerBlock: rates.voting.toString(),
      slaVotingThreshold: g.config.slaVotingThreshold,
      operationStartBlock: g.config.operationStartBlock, operationEndBlock: g.config.operationEndBlock,
    },
    budget: budgetLeft(g).toString(),
    operators,
  };
}

export function computePeriodRewards(inputs: PeriodInputs): PeriodDecision {
  const c = inputs.config;
  const blocks = activeBlocks(inputs.firstBlock, inputs.lastBlock, c.operationStartBlock, c.operationEndBlock);
  const basePool = BigInt(c.subscriptionRewardPerBlock) * BigInt(blocks);
  const activePool = BigInt(c.votingRewardPerBlock) * BigInt(blocks);
  const ops = inputs.operators;
  const n = ops.length;
  // One pass for the per-operator bigints and the two sums. Earns base rewards: stake active in the
  // period and not in the final withdrawal period; earns active rewards: that, and meets the SLA.
  const stakes: bigint[] = new Array<bigint>(n);
  const weights: bigint[] = new Array<bigint>(n);
  let totalStake = 0n;
  let weightSum = 0n;
  let qualifying = 0;
  for (let i = 0; i < n; i++) {
    const o = ops[i]!;
    const stake = o.inFinalPeriod ? 0n : BigInt(o.stake);
    const st = stake > 0n ? stake : 0n;
    stakes[i] = st;
    totalStake += st;
    if (st > 0n && meetsSla(o.correctVotes, o.eligibleRounds, c.slaVotingThreshold)) {
      qualifying++;
      const w = BigInt(o.correctVotes) * st;
      weights[i] = w;
      weightSum += w;
    } else weights[i] = 0n;
  }
  // Each share rounds down on its own; the fractions (dust) are never paid and stay in the budget.
  // A zero numerator gives a zero share, so the division is skipped for it.
  let rewards: OperatorReward[] = new Array<OperatorReward>(n);
  let due = 0n;
  for (let i = 0; i < n; i++) {
    const st = stakes[i]!;
    const w = weights[i]!;
    const base = st > 0n && totalStake > 0n ? (st * basePool) / totalStake : 0n;
    const active = w > 0n && weightSum > 0n ? (w * activePool) / weightSum : 0n;
    rewards[i] = { operator: ops[i]!.operator, base, active };
    due += base + active;
  }
  const budget = BigInt(inputs.budget);
  const budgetExhausted = due > budget;
  let paid = due;
  if (budgetExhausted) {
    // Every share scaled by budget / due, rounded down, so the sum never exceeds the budget.
    paid = 0n;
    rewards = rewards.map((r) => {
      const x = { operator: r.operator, base: (r.base * budget) / due, active: (r.active * budget) / due };
      paid += x.base + x.active;
      return x;
    });
  }
  return {
    activeBlocks: blocks, basePool, activePool, totalStake, weightSum,
    qualifying, due, paid, budgetExhausted, rewards,
  };
}
