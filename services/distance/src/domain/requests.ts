import { distanceEvent } from '@ewx/contracts';
import { DomainError, notFound, precondition, type EventData } from '@ewx/platform/domain';
import type { DistanceParams } from './params.js';
import { poolOf } from './periods.js';
import { currentPeriod, type DistanceState } from './state.js';

/**
 * A request's life: RequestEvaluation checks and records HoldRequested; the application then places
 * the hold at the registry and records the outcome with ConfirmHold (the request joins the pool of
 * the period the hold was confirmed in) or FailHold.
 */
export type RequestCommand =
  | { readonly type: 'RequestEvaluation'; readonly requester: string; readonly identity: number }
  | { readonly type: 'ConfirmHold'; readonly holdId: string }
  | { readonly type: 'FailHold'; readonly holdId: string; readonly reason: string };

/** Deterministic, so a retried hold after a crash is the same hold at the registry. */
export const holdIdOf = (identity: number, sequence: number): string => `distance:${identity}:${sequence}`;

/** Requests in or entering the pool of `evaluationPeriod` (made in the period before). */
const poolLoad = (s: DistanceState, evaluationPeriod: number): number =>
  (s.pools.get(evaluationPeriod)?.entries.length ?? 0) + (s.holding.get(evaluationPeriod - 1) ?? 0);

const poolFull = (p: DistanceParams, evaluationPeriod: number): DomainError =>
  new DomainError(
    'RESOURCE_EXHAUSTED',
    `pool ${poolOf(evaluationPeriod)} (evaluated in period ${evaluationPeriod}) is full: at most ${p.maxPoolSize} requests per pool`,
  );

export function decideRequest(c: RequestCommand, s: DistanceState, p: DistanceParams): EventData[] {
  switch (c.type) {
    case 'RequestEvaluation': {
      if (!Number.isInteger(c.identity) || c.identity < 0 || !s.wot.has(c.identity)) throw notFound(`identity: identity ${c.identity} in the web of trust`);
      const pending = s.pendingByIdentity.get(c.identity);
      if (pending !== undefined) {
        const r = s.requests.get(pending);
        throw precondition(
          `identity: an evaluation of identity ${c.identity} is already pending (hold ${pending}${r?.evaluationPeriod !== undefined ? `, evaluated in period ${r.evaluationPeriod}` : ''})`,
        );
      }
      const period = currentPeriod(s);
      if (poolLoad(s, period + 1) >= p.maxPoolSize) throw poolFull(p, period + 1);
      const holdId = holdIdOf(c.identity, s.requestSeq + 1);
      return [
        distanceEvent({
          type: 'HoldRequested',
          data: { holdId, identity: c.identity, requester: c.requester, amount: p.price.toString(), requestPeriod: period, height: s.height },
        }),
      ];
    }
    case 'ConfirmHold': {
      const r = s.requests.get(c.holdId);
      if (r?.stage !== 'HOLDING') return [];
      const period = currentPeriod(s);
      const evaluationPeriod = period + 1;
      const entries = s.pools.get(evaluationPeriod)?.entries.length ?? 0;
      if (entries >= p.maxPoolSize) {
        // Filled while the hold was being placed (a slow registry across a period boundary): give it back.
        return [
          distanceEvent({
            type: 'EvaluationSettled',
            data: {
              holdId: r.holdId,
              identity: r.identity,
              requester: r.requester,
              outcome: 'NOT_EVALUATED',
              evaluationPeriod,
              amount: r.amount,
              values: [],
              minimum: p.minPerbill,
              reason: 'POOL_FULL',
            },
          }),
        ];
      }
      return [
        distanceEvent({
          type: 'EvaluationRequested',
          data: {
            holdId: r.holdId,
            identity: r.identity,
            requester: r.requester,
            amount: r.amount,
            requestPeriod: period,
            evaluationPeriod,
            pool: poolOf(evaluationPeriod),
            index: entries,
          },
        }),
      ];
    }
    case 'FailHold': {
      const r = s.requests.get(c.holdId);
      if (r?.stage !== 'HOLDING') return [];
      return [distanceEvent({ type: 'HoldFailed', data: { holdId: r.holdId, identity: r.identity, reason: c.reason } })];
    }
    default: {
      const never: never = c;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
}
