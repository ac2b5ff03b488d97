import { distanceEvent } from '@ewx/contracts';
import type { EventData } from '@ewx/platform/domain';
import type { EvaluationSettled } from './events.js';
import { median } from './median.js';
import type { DistanceParams } from './params.js';
import { poolOf } from './periods.js';
import { currentPeriod, type DistanceState } from './state.js';

/** The next evaluation period due for settlement: its successor has begun. */
export function dueForSettlement(s: DistanceState): number | undefined {
  const next = s.settledThrough + 1;
  return currentPeriod(s) >= next + 1 ? next : undefined;
}

/**
 * Settles evaluation period E when E + 1 has begun: first the validities that end with period E
 * expire, then every request of pool E mod 3 gets its outcome from the median of the accepted
 * values, then PoolSettled closes the period. Nothing due: no events (the reaction is idempotent).
 */
export function decideSettle(s: DistanceState, p: DistanceParams): EventData[] {
  const period = dueForSettlement(s);
  if (period === undefined) return [];
  const startingPeriod = period + 1;
  const events: EventData[] = [];
  const expiring = [...s.validUntil].filter(([, until]) => until < startingPeriod).sort(([a], [b]) => a - b);
  for (const [identity, validUntilPeriod] of expiring)
    events.push(distanceEvent({ type: 'ValidityExpired', data: { identity, validUntilPeriod, evaluationPeriod: startingPeriod } }));

  const pool = s.pools.get(period);
  const evaluators = pool ? [...pool.results.keys()] : [];
  const counts = { VALID: 0, INVALID: 0, NOT_EVALUATED: 0 };
  for (const [i, entry] of (pool?.entries ?? []).entries()) {
    const values = evaluators.map((e) => pool!.results.get(e)![i]!);
    const m = median(values);
    const outcome: EvaluationSettled['outcome'] = m === undefined ? 'NOT_EVALUATED' : m >= p.minPerbill ? 'VALID' : 'INVALID';
    counts[outcome]++;
    const settled: EvaluationSettled = {
      holdId: entry.holdId,
      identity: entry.identity,
      requester: entry.requester,
      outcome,
      evaluationPeriod: period,
      amount: entry.amount,
      values,
      minimum: p.minPerbill,
      ...(m === undefined ? {} : { median: m }),
      ...(outcome === 'VALID' ? { validUntilPeriod: startingPeriod + p.validityPeriods - 1 } : {}),
    };
    events.push(distanceEvent({ type: 'EvaluationSettled', data: settled }));
  }
  events.push(
    distanceEvent({
      type: 'PoolSettled',
      data: {
        evaluationPeriod: period,
        pool: poolOf(period),
        height: s.height,
        entries: pool?.entries.length ?? 0,
        evaluators,
        wotVersion: pool?.wotVersion ?? -1,
        snapshotPosition: pool?.snapshotPosition ?? '',
        valid: counts.VALID,
        invalid: counts.INVALID,
        notEvaluated: counts.NOT_EVALUATED,
        expired: expiring.length,
      },
    }),
  );
  return events;
}
