import { distanceEvent } from '@ewx/contracts';
import { alreadyExists, denied, DomainError, invalid, PERBILL, precondition, type EventData } from '@ewx/platform/domain';
import type { DistanceParams } from './params.js';
import { poolOf } from './periods.js';
import { currentPeriod, type DistanceState } from './state.js';

/** An evaluator's result for the pool of the current period: one Perbill per identity, in pool order. */
export interface PublishResult {
  readonly type: 'PublishResult';
  readonly evaluator: string;
  readonly period: number;
  readonly values: readonly number[];
}

const MAX = Number(PERBILL);

export function decidePublish(c: PublishResult, s: DistanceState, p: DistanceParams): EventData[] {
  if (!p.evaluators.has(c.evaluator))
    throw denied(`auth.signer: ${c.evaluator} is not one of the ${p.evaluators.size} configured evaluators; only they publish results`);
  const period = currentPeriod(s);
  if (c.period !== period) throw precondition(`period: results are accepted for the current period ${period} only, got ${c.period}`);
  const pool = s.pools.get(period);
  const size = pool?.entries.length ?? 0;
  if (!pool || size === 0) throw precondition(`period: pool ${poolOf(period)} of period ${period} is empty; there is nothing to evaluate`);
  if (pool.results.has(c.evaluator)) throw alreadyExists(`period: a result of ${c.evaluator} for period ${period}`);
  if (c.values.length !== size)
    throw invalid('values', `expected ${size} values (one per identity of pool ${poolOf(period)} of period ${period}, in pool order), got ${c.values.length}`);
  c.values.forEach((v, i) => {
    if (!Number.isInteger(v) || v < 0 || v > MAX) throw invalid(`values[${i}]`, `expected a Perbill from 0 to ${MAX}, got ${v}`);
  });
  if (s.lastResultHeight === s.height) {
    throw new DomainError(
      'RESOURCE_EXHAUSTED',
      `block ${s.height} already has an accepted result (one per block across evaluators); publish again in a later block`,
    );
  }
  return [
    distanceEvent({
      type: 'ResultPublished',
      data: { evaluator: c.evaluator, evaluationPeriod: period, pool: poolOf(period), height: s.height, values: [...c.values] },
    }),
  ];
}
