import { periodByIndex } from '@ewx/platform/domain';
import type { RegistryState } from './state.js';

/**
 * The next height above the recorded one at which the block reaction (SettleGroup) has work no
 * command brings: a reward period's first block that releases a stake (its final period closed,
 * `releaseDue`), or that ends a retiring group's grace period (`settleGroup` removes it then if
 * nothing else is owed). Undefined when nothing waits for a height (no schedule, no unsubscribed
 * stake, no retiring group). Consensus does not know it, so the app asks consensus to record its
 * counted blocks once the count reaches it (@ewx/platform deadlineWatch). Everything else the
 * registry decides at a height is decided by a command, which syncs the height first (heightSync).
 */
export function nextDeadline(s: RegistryState): number | undefined {
  if (s.schedule.length === 0) return undefined;
  let next: number | undefined;
  const startOf = (period: number): void => {
    const first = periodByIndex(s.schedule, period)?.firstBlock;
    if (first !== undefined && first > s.height && (next === undefined || first < next)) next = first;
  };
  for (const g of s.groups.values()) {
    if (g.status === 'REMOVED') continue;
    let lastFinal = g.lastFinalPeriod;
    for (const sub of g.subscriptions.values()) {
      if (sub.finalPeriod === undefined) continue;
      startOf(sub.finalPeriod + 1);
      lastFinal = Math.max(lastFinal, sub.finalPeriod);
    }
    // Removed once one full period has passed since its last final period (settleGroup: now > lastFinal + 1).
    if (g.status === 'RETIRING') startOf(lastFinal + 2);
  }
  return next;
}
