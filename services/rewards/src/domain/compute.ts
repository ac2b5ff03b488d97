import type { OperatorInput, RewardConfig } from '@ewx/contracts';
import { meetsPercent } from '@ewx/platform/domain';

/**
 * The rule of SPEC §6 as one pure function: a group's rewards for one closed reward period, from
 * inputs that are recorded verbatim in the log (amounts as decimal strings, as on the wire), so
 * anyone can recompute a decision from the log alone.
 */

export type { OperatorInput, RewardConfig } from '@ewx/contracts';

export interface PeriodInputs {
  readonly group: string;
  readonly period: number;
  readonly firstBlock: number;
  readonly lastBlock: number;
  readonly config: RewardConfig;
  /** What is left of the group's reward budget when the period closes, base units. */
  readonly budget: string;
  /** Sorted by address, each operator once. */
  readonly operators: readonly OperatorInput[];
}

export interface OperatorReward {
  readonly operator: string;
  readonly base: bigint;
  readonly active: bigint;
}

export interface PeriodDecision {
  readonly activeBlocks: number;
  readonly basePool: bigint;
  readonly activePool: bigint;
  /** Σ stake over operators earning base rewards. */
  readonly totalStake: bigint;
  /** Σ correct × stake over operators meeting the SLA. */
  readonly weightSum: bigint;
  readonly qualifying: number;
  /** Before any budget scaling. */
  readonly due: bigint;
  /** What leaves the budget: Σ (base + active) after scaling; ≤ budget. */
  readonly paid: bigint;
  readonly budgetExhausted: boolean;
  /** Every operator of the inputs, in input order (zeros included). */
  readonly rewards: readonly OperatorReward[];
}

/** Blocks of [firstBlock, lastBlock] inside the operation window [start, end] (end 0 = open). */
export function activeBlocks(firstBlock: number, lastBlock: number, opStart: number, opEnd: number): number {
  const from = Math.max(firstBlock, opStart);
  const to = opEnd === 0 ? lastBlock : Math.min(lastBlock, opEnd);
  return to >= from ? to - from + 1 : 0;
}

/** correct × 100 ≥ sla × eligible, with eligible > 0. */
export const meetsSla = (correct: number, eligible: number, sla: number): boolean =>
  eligible > 0 && meetsPercent(correct, eligible, sla);

/** Earns base rewards: stake active in the period and not in the final withdrawal period. */
const earnsBase = (o: OperatorInput): boolean => !o.inFinalPeriod && BigInt(o.stake) > 0n;

export function computePeriodRewards(inputs: PeriodInputs): PeriodDecision {
  const c = inputs.config;
  const blocks = activeBlocks(inputs.firstBlock, inputs.lastBlock, c.operationStartBlock, c.operationEndBlock);
  const basePool = BigInt(c.subscriptionRewardPerBlock) * BigInt(blocks);
  const activePool = BigInt(c.votingRewardPerBlock) * BigInt(blocks);
  const stakes = inputs.operators.map((o) => (earnsBase(o) ? BigInt(o.stake) : 0n));
  const qualifies = inputs.operators.map((o, i) => stakes[i]! > 0n && meetsSla(o.correct, o.eligible, c.slaVotingThreshold));
  const weights = inputs.operators.map((o, i) => (qualifies[i] ? BigInt(o.correct) * stakes[i]! : 0n));
  const totalStake = stakes.reduce((a, b) => a + b, 0n);
  const weightSum = weights.reduce((a, b) => a + b, 0n);
  // Each share rounds down on its own; the fractions (dust) are never paid and stay in the budget.
  let rewards = inputs.operators.map((o, i): OperatorReward => ({
    operator: o.operator,
    base: totalStake > 0n ? (stakes[i]! * basePool) / totalStake : 0n,
    active: weightSum > 0n ? (weights[i]! * activePool) / weightSum : 0n,
  }));
  const due = rewards.reduce((a, r) => a + r.base + r.active, 0n);
  const budget = BigInt(inputs.budget);
  const budgetExhausted = due > budget;
  if (budgetExhausted) {
    // Every share scaled by budget / due, rounded down, so the sum never exceeds the budget.
    rewards = rewards.map((r) => ({ operator: r.operator, base: (r.base * budget) / due, active: (r.active * budget) / due }));
  }
  const paid = rewards.reduce((a, r) => a + r.base + r.active, 0n);
  return {
    activeBlocks: blocks, basePool, activePool, totalStake, weightSum,
    qualifying: qualifies.filter((q) => q).length,
    due, paid, budgetExhausted, rewards,
  };
}
