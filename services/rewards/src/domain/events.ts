import { rewardsEvent, type RewardInputsRecordedEvent, type RewardsDecidedEvent } from '@ewx/contracts';
import type { EventData } from '@ewx/platform/domain';
import type { PeriodDecision, PeriodInputs } from './compute.js';

// The rewards log's events are the union `RewardsEvent` of @ewx/contracts.
export type { DecisionInputsHeader, RewardInputsRecordedEvent, RewardsDecidedEvent, RewardsEvent } from '@ewx/contracts';

/**
 * Rows per chunk. A row is at most ~250 bytes of JSON (a 72-character address and 40-digit
 * amounts), so 1,500 rows stay well below the 512 KiB event limit.
 */
export const CHUNK_ROWS = 1500;

export function chunked<T>(rows: readonly T[], size = CHUNK_ROWS): T[][] {
  if (rows.length === 0) return [[]];
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/**
 * The events that record a decision: its inputs (chunked), the decision, a budget-exhausted
 * notice when scaled, and the payouts the registry's ledger applies (chunked, zero payouts left out).
 */
export function decisionEvents(inputs: PeriodInputs, d: PeriodDecision): EventData[] {
  const { group, period } = inputs;
  const inputChunks = chunked(inputs.operators);
  const payouts: { operator: string; amount: string; base: string; active: string }[] = [];
  const amounts: bigint[] = [];
  for (const r of d.rewards) {
    const amount = r.base + r.active;
    if (amount <= 0n) continue;
    payouts.push({ operator: r.operator, amount: amount.toString(), base: r.base.toString(), active: r.active.toString() });
    amounts.push(amount);
  }
  const payoutChunks = chunked(payouts);
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
  if (d.budgetExhausted) {
    out.push(
      rewardsEvent({ type: 'BudgetExhausted', data: { group, rewardPeriod: period, budget: inputs.budget, due: d.due.toString(), paid: d.paid.toString() } }),
    );
  }
  payoutChunks.forEach((rows, chunk) => {
    let sum = 0n;
    for (let i = chunk * CHUNK_ROWS, end = i + rows.length; i < end; i++) sum += amounts[i]!;
    const subtotal = sum.toString();
    out.push(rewardsEvent({ type: 'RewardsComputed', data: { group, rewardPeriod: period, chunk, chunks: payoutChunks.length, payouts: rows, subtotal } }));
  });
  return out;
}

/** Reassembles a decision's inputs from its recorded events (the audit's side of `decisionEvents`). */
export function inputsFromLog(decided: RewardsDecidedEvent, chunks: readonly RewardInputsRecordedEvent[]): PeriodInputs {
  const sorted = [...chunks].sort((a, b) => a.chunk - b.chunk);
  if (sorted.length !== decided.inputs.inputChunks || sorted.some((c, i) => c.chunk !== i)) {
    throw new Error(
      `group ${decided.group} reward period ${decided.rewardPeriod}: expected ${decided.inputs.inputChunks} input chunks, found ${sorted.length}`,
    );
  }
  const h = decided.inputs;
  return {
    group: decided.group,
    period: decided.rewardPeriod,
    firstBlock: h.firstBlock,
    lastBlock: h.lastBlock,
    config: h.config,
    budget: h.budget,
    operators: sorted.flatMap((c) => c.operators),
  };
}
