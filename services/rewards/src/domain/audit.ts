import type { RecordedEvent } from '@ewx/platform';
import { computePeriodRewards } from './compute.js';
import { decisionEvents, inputsFromLog, type RewardInputsRecordedEvent, type RewardsDecidedEvent } from './events.js';

/** One decision as recorded and as recomputed from its recorded inputs, each event as canonical JSON. */
export interface AuditedDecision {
  readonly group: string;
  readonly period: number;
  readonly recorded: readonly string[];
  readonly recomputed: readonly string[];
}

const DECISION_TYPES = new Set(['RewardInputsRecorded', 'RewardsDecided', 'BudgetExhausted', 'RewardsComputed']);
const canonical = (type: string, data: unknown): string => JSON.stringify({ type, data });

/**
 * The audit of rewards: from the log alone, recompute every period decision from the inputs it
 * recorded and return both, so a caller can compare them byte for byte.
 */
export function auditDecisions(log: readonly RecordedEvent[]): AuditedDecision[] {
  const byDecision = new Map<string, RecordedEvent[]>();
  for (const e of log) {
    if (!DECISION_TYPES.has(e.type)) continue;
    const d = e.data as { group: string; period: number };
    const key = `${d.group}|${d.period}`;
    let list = byDecision.get(key);
    if (!list) byDecision.set(key, (list = []));
    list.push(e);
  }
  const out: AuditedDecision[] = [];
  for (const events of byDecision.values()) {
    const decided = events.find((e) => e.type === 'RewardsDecided');
    if (!decided) continue;
    const d = decided.data as unknown as RewardsDecidedEvent;
    const chunks = events.filter((e) => e.type === 'RewardInputsRecorded').map((e) => e.data as unknown as RewardInputsRecordedEvent);
    const inputs = inputsFromLog(d, chunks);
    out.push({
      group: d.group, period: d.period,
      recorded: events.map((e) => canonical(e.type, e.data)),
      recomputed: decisionEvents(inputs, computePeriodRewards(inputs)).map((e) => canonical(e.type, e.data)),
    });
  }
  return out;
}
