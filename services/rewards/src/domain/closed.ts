import { decodeRewardsLog } from '@ewx/contracts';
import type { RecordedEvent } from '@ewx/platform/domain';
import { inputRows, payoutRows } from './evolve.js';
import type { ClosedPeriod, OperatorRow } from './state.js';

/**
 * A closed period's per-operator rows folded back from its decision events (the versions
 * `c.fromVersion`..`c.toVersion` of `c.stream`): exactly the rows the state held before they left
 * it (the same fold: inputs, then each payout chunk's amounts). Throws on an event of another
 * group or period (the wrong slice of the stream).
 */
export function periodRows(group: string, c: ClosedPeriod, events: readonly RecordedEvent[]): Map<string, OperatorRow> {
  const rows = new Map<string, OperatorRow>();
  const expected = c.toVersion - c.fromVersion + 1;
  const slice = events.filter((e) => e.version >= c.fromVersion && e.version <= c.toVersion);
  if (slice.length !== expected) {
    throw new Error(
      `group ${group} period ${c.period}: expected ${expected} decision events at ${c.stream}@${c.fromVersion}..${c.toVersion}, read ${slice.length}`,
    );
  }
  for (const e of slice) {
    const ev = decodeRewardsLog(e);
    if (!ev) continue;
    if (ev.type !== 'RewardInputsRecorded' && ev.type !== 'RewardsComputed' && ev.type !== 'RewardsDecided' && ev.type !== 'BudgetExhausted') {
      throw new Error(`group ${group} period ${c.period}: ${c.stream}@${e.version} is ${ev.type}, not one of its decision events`);
    }
    if (ev.data.group !== group || ev.data.rewardPeriod !== c.period) {
      throw new Error(`group ${group} period ${c.period}: ${c.stream}@${e.version} belongs to group ${ev.data.group} period ${ev.data.rewardPeriod}`);
    }
    if (ev.type === 'RewardInputsRecorded') inputRows(rows, ev.data.operators);
    else if (ev.type === 'RewardsComputed') payoutRows(rows, ev.data.payouts);
  }
  return rows;
}
