import { firstBlockOf } from './periods.js';
import { currentPeriod, DEFAULT_PERIOD_BLOCKS, type DistanceState } from './state.js';

/**
 * The next height above the recorded one at which distance has work no command brings:
 *   - an evaluation period with a pool begins (its first block): evaluators read the pool of the
 *     current period (GetEvaluationWork) and publish during it, so it must become current on time;
 *   - an evaluation period with something to settle ends (the next period's first block: the
 *     settlement reaction, `dueForSettlement`): a pool with requests or results, holds being placed
 *     for it, or a validity ending with it;
 *   - before the log's first run of blocks (no `passIdle`), every period's end: each is settled then.
 * Idle periods are passed without events (`passIdle`) and are no deadline. Undefined when nothing
 * waits for a height. Consensus does not know these heights, so the app asks consensus to record
 * its counted blocks once the count reaches them (@ewx/platform deadlineWatch).
 */
export function nextDeadline(s: DistanceState): number | undefined {
  const length = s.periodBlocks ?? DEFAULT_PERIOD_BLOCKS;
  let next: number | undefined;
  /** The first block of evaluation period `period`, if above the height and the earliest so far. */
  const begins = (period: number): void => {
    const h = firstBlockOf(period, length);
    if (h > s.height && (next === undefined || h < next)) next = h;
  };
  if (!s.passIdle) begins(currentPeriod(s) + 1);
  for (const [period, pool] of s.pools) {
    if (period <= s.settledThrough || pool.settled) continue;
    if (pool.entries.length > 0) begins(period);
    if (pool.entries.length > 0 || pool.results.size > 0) begins(period + 1);
  }
  // Holds being placed in period r: their requests join the pool of r + 1.
  for (const [r, n] of s.holding)
    if (n > 0) {
      begins(r + 1);
      begins(r + 2);
    }
  // A validity ending with period u expires when u is settled (or the first period not settled yet).
  for (const u of s.validUntil.values()) begins(Math.max(u, s.settledThrough + 1) + 1);
  return next;
}
