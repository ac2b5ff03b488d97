import type {
  BudgetExhaustedEvent, EventData, RewardPeriodScheduleChangedEvent, RewardPeriodStartedEvent, RewardsComputedEvent,
} from '@ewx/platform';
import type { OperatorInput, PeriodDecision, PeriodInputs, RewardConfig } from './compute.js';

/** The inputs of one period's decision that are not per operator. */
export interface DecisionInputsHeader {
  readonly firstBlock: number;
  readonly lastBlock: number;
  readonly config: RewardConfig;
  readonly budget: string;
  readonly operators: number;
  readonly inputChunks: number;
}

/** Per-operator inputs of a decision, in chunks (chunk 0..chunks-1), recorded before the decision. */
export interface RewardInputsRecordedEvent {
  readonly group: string;
  readonly period: number;
  readonly chunk: number;
  readonly chunks: number;
  readonly operators: readonly OperatorInput[];
}

/** One group's period decision: its non-operator inputs and the pools and totals it came to. */
export interface RewardsDecidedEvent {
  readonly group: string;
  readonly period: number;
  readonly inputs: DecisionInputsHeader;
  readonly outcome: {
    readonly activeBlocks: number;
    readonly basePool: string;
    readonly activePool: string;
    readonly totalStake: string;
    readonly weightSum: string;
    readonly qualifying: number;
    readonly due: string;
    readonly paid: string;
    readonly budgetExhausted: boolean;
    readonly payoutChunks: number;
  };
}

export type RewardsEvent =
  | { readonly type: 'RewardPeriodScheduleChanged'; readonly data: RewardPeriodScheduleChangedEvent }
  | { readonly type: 'RewardPeriodStarted'; readonly data: RewardPeriodStartedEvent }
  | { readonly type: 'RewardInputsRecorded'; readonly data: RewardInputsRecordedEvent }
  | { readonly type: 'RewardsDecided'; readonly data: RewardsDecidedEvent }
  | { readonly type: 'BudgetExhausted'; readonly data: BudgetExhaustedEvent }
  | { readonly type: 'RewardsComputed'; readonly data: RewardsComputedEvent };

export const event = (e: RewardsEvent): EventData => e as unknown as EventData;

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
  const payouts = d.rewards.filter((r) => r.base + r.active > 0n)
    .map((r) => ({ operator: r.operator, amount: (r.base + r.active).toString(), base: r.base.toString(), active: r.active.toString() }));
  const payoutChunks = chunked(payouts);
  const out: EventData[] = inputChunks.map((operators, chunk) =>
    event({ type: 'RewardInputsRecorded', data: { group, period, chunk, chunks: inputChunks.length, operators } }));
  out.push(event({
    type: 'RewardsDecided',
    data: {
      group, period,
      inputs: {
        firstBlock: inputs.firstBlock, lastBlock: inputs.lastBlock, config: inputs.config, budget: inputs.budget,
        operators: inputs.operators.length, inputChunks: inputChunks.length,
      },
      outcome: {
        activeBlocks: d.activeBlocks, basePool: d.basePool.toString(), activePool: d.activePool.toString(),
        totalStake: d.totalStake.toString(), weightSum: d.weightSum.toString(), qualifying: d.qualifying,
        due: d.due.toString(), paid: d.paid.toString(), budgetExhausted: d.budgetExhausted, payoutChunks: payoutChunks.length,
      },
    },
  }));
  if (d.budgetExhausted) {
    out.push(event({ type: 'BudgetExhausted', data: { group, period, budget: inputs.budget, due: d.due.toString(), paid: d.paid.toString() } }));
  }
  payoutChunks.forEach((rows, chunk) => {
    const subtotal = rows.reduce((a, r) => a + BigInt(r.amount), 0n).toString();
    out.push(event({ type: 'RewardsComputed', data: { group, period, chunk, chunks: payoutChunks.length, payouts: rows, subtotal } }));
  });
  return out;
}

/** Reassembles a decision's inputs from its recorded events (the audit's side of `decisionEvents`). */
export function inputsFromLog(decided: RewardsDecidedEvent, chunks: readonly RewardInputsRecordedEvent[]): PeriodInputs {
  const sorted = [...chunks].sort((a, b) => a.chunk - b.chunk);
  if (sorted.length !== decided.inputs.inputChunks || sorted.some((c, i) => c.chunk !== i)) {
    throw new Error(`group ${decided.group} period ${decided.period}: expected ${decided.inputs.inputChunks} input chunks, found ${sorted.length}`);
  }
  const h = decided.inputs;
  return {
    group: decided.group, period: decided.period, firstBlock: h.firstBlock, lastBlock: h.lastBlock,
    config: h.config, budget: h.budget, operators: sorted.flatMap((c) => c.operators),
  };
}
