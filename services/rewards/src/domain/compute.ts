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
export const meetsSla = (correct: number, eligible: number, sla: number): boolean => eligible > 0 && meetsPercent(correct, eligible, sla);

/**
 * `stakes`, when given, holds `BigInt(operators[i].stake)` for each operator (closingInputs fills it
 * as it spells them), so the close does not parse 100,000 decimal strings back; without it the
 * stakes are parsed from the inputs (the audit, what-if).
 */
export function computePeriodRewards(inputs: PeriodInputs, stakes?: readonly bigint[]): PeriodDecision {
  const c = inputs.config;
  const blocks = activeBlocks(inputs.firstBlock, inputs.lastBlock, c.operationStartBlock, c.operationEndBlock);
  const basePool = BigInt(c.subscriptionRewardPerBlock) * BigInt(blocks);
  const activePool = BigInt(c.votingRewardPerBlock) * BigInt(blocks);
  const ops = inputs.operators;
  const n = ops.length;
  // One pass for the per-operator bigints and the two sums. Earns base rewards: stake active in the
  // period and not in the final withdrawal period; earns active rewards: that, and meets the SLA.
  const parsed = stakes !== undefined && stakes.length === n ? stakes : undefined;
  const earning: bigint[] = new Array<bigint>(n);
  const weights: bigint[] = new Array<bigint>(n);
  let totalStake = 0n;
  let weightSum = 0n;
  let qualifying = 0;
  for (let i = 0; i < n; i++) {
    const o = ops[i]!;
    const stake = o.inFinalPeriod ? 0n : parsed ? parsed[i]! : BigInt(o.stake);
    const st = stake > 0n ? stake : 0n;
    earning[i] = st;
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
    const st = earning[i]!;
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
    activeBlocks: blocks,
    basePool,
    activePool,
    totalStake,
    weightSum,
    qualifying,
    due,
    paid,
    budgetExhausted,
    rewards,
  };
}
