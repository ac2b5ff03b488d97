import { decodeRewardsLog, type RewardsLogEvent } from '@ewx/contracts';
import type { RecordedEvent } from '@ewx/platform/domain';
import { computePeriodRewards } from './compute.js';
import { decisionEvents, inputsFromLog } from './events.js';

/** One decision as recorded and as recomputed from its recorded inputs, each event as canonical JSON. */
export interface AuditedDecision {
  readonly group: string;
  readonly period: number;
  readonly recorded: readonly string[];
  readonly recomputed: readonly string[];
}

const DECISION_TYPES: ReadonlySet<string> = new Set(['RewardInputsRecorded', 'RewardsDecided', 'BudgetExhausted', 'RewardsComputed']);
type DecisionEvent = Extract<RewardsLogEvent, { type: 'RewardInputsRecorded' | 'RewardsDecided' | 'BudgetExhausted' | 'RewardsComputed' }>;
const isDecision = (e: RewardsLogEvent | undefined): e is DecisionEvent => e !== undefined && DECISION_TYPES.has(e.type);
const canonical = (type: string, data: unknown): string => JSON.stringify({ type, data });

/**
 * The audit of rewards: from the log alone, recompute every period decision from the inputs it
 * recorded and return both, so a caller can compare them byte for byte.
 */
export function auditDecisions(log: readonly RecordedEvent[]): AuditedDecision[] {
  const byDecision = new Map<string, RecordedEvent[]>();
  for (const e of log) {
    const d = decodeRewardsLog(e);
    if (!isDecision(d)) continue;
    const key = `${d.data.group}|${d.data.rewardPeriod}`;
    let list = byDecision.get(key);
    if (!list) {
      list = [];
      byDecision.set(key, list);
    }
    list.push(e);
  }
  const out: AuditedDecision[] = [];
  for (const events of byDecision.values()) {
    const decoded = events.map((e) => decodeRewardsLog(e));
    const d = decoded.find((e) => e?.type === 'RewardsDecided')?.data;
    if (!d) continue;
    const chunks = decoded.flatMap((e) => (e?.type === 'RewardInputsRecorded' ? [e.data] : []));
    const inputs = inputsFromLog(d, chunks);
    out.push({
      group: d.group,
      period: d.rewardPeriod,
      // Old versions upcast: the recorded decision in today's shape.
      recorded: decoded.map((e) => canonical(e!.type, e!.data)),
      recomputed: decisionEvents(inputs, computePeriodRewards(inputs)).map((e) => canonical(e.type, e.data)),
    });
  }
  return out;
}
