import { withdrawalStage } from '@ewx/contracts';
import type { VotingState } from './state.js';

/**
 * SPEC §4: the workers connected to operators whose stake is active in the group in period `p` and
 * who are not in their final withdrawal period; with nominations on, only nominated workers.
 * Returns worker → operator, sorted by worker (the snapshot's canonical order).
 */
export function eligibleWorkers(s: VotingState, solution: string, group: string, p: number, nominationsEnabled: boolean): Map<string, string> {
  const out: [string, string][] = [];
  const nominated = s.nominations.get(solution);
  for (const [operator, sub] of s.subscriptions.get(group) ?? []) {
    if (sub.activeFromPeriod > p) continue;
    if (withdrawalStage(sub.finalPeriod, p) !== 'IN') continue;
    const worker = s.workerOf.get(operator);
    if (worker === undefined) continue;
    if (nominationsEnabled && !nominated?.has(worker)) continue;
    out.push([worker, operator]);
  }
  out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return new Map(out);
}
