import { periodAt, periodByIndex } from '@ewx/platform/domain';
import type { RewardsState } from './state.js';

/**
 * The next height above the recorded one at which a reward period falls due for closing (its last
 * block + `settlementDelay`) for some group not removed: the close of its oldest open period, or of
 * the calendar's next period when that one is due already (the reaction closes it meanwhile).
 * Undefined before the calendar starts or without such a group. Consensus does not know it, so the
 * app asks consensus to record its counted blocks once the count reaches it (@ewx/platform
 * deadlineWatch): an idle period then closes on time whatever BLOCK_RUN_MAX. A period's start
 * (RewardPeriodStarted) is no deadline of its own: it carries its blocks as data and is recorded with
 * the next run (the close of the period before it, `settlementDelay` blocks later).
 */
export function nextDeadline(s: RewardsState, settlementDelay: number): number | undefined {
  if (s.schedule.length === 0) return undefined;
  // The calendar's first close above the height: that of the period holding block height − delay + 1.
  const first = s.schedule[0]!;
  const from = Math.max(s.height - settlementDelay + 1, first.firstBlock);
  const calendar = periodAt(s.schedule, from) ?? periodByIndex(s.schedule, first.fromPeriod)!;
  let next: number | undefined;
  for (const g of s.groups.values()) {
    if (g.status === 'REMOVED') continue;
    const p = periodByIndex(s.schedule, Math.max(g.lastClosed + 1, calendar.index));
    if (!p) continue;
    const at = p.lastBlock + settlementDelay;
    if (at > s.height && (next === undefined || at < next)) next = at;
  }
  return next;
}
