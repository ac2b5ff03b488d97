import { positionProgress, type LogPosition } from '../eventstore/types.js';
import type { RecordedEvent } from '../eventstore/types.js';
import { instruments, observe, unobserve } from './metrics.js';

/** `ewx_relay_lag_events{service}`: log positions applied but not yet published by the relay. */
export function observeRelayLag(service: string, applied: () => LogPosition, published: () => LogPosition): () => void {
  observe(instruments().relayLag, service, { service }, () => {
    const n = positionProgress(applied()) - positionProgress(published());
    return Number(n > 0n ? n : 0n);
  });
  return () => unobserve(instruments().relayLag, service);
}

/**
 * `ewx_round_settle_latency`: wall time from a round's expiry recorded here (RoundClosed) to its
 * settlement or unresolution here; only consensus sees both. Live events only, bounded.
 */
export function settleLatencyListener(): (e: RecordedEvent) => void {
  const closedAt = new Map<string, number>();
  return (e) => {
    if (e.type !== 'RoundClosed' && e.type !== 'RoundSettled' && e.type !== 'RoundUnresolved') return;
    const d = e.data as { solution?: string; roundId?: string; chunk?: number };
    const key = `${d.solution}|${d.roundId}`;
    if (e.type === 'RoundClosed') {
      if ((d.chunk ?? 0) === 0 && !closedAt.has(key)) closedAt.set(key, Date.now());
      if (closedAt.size > 100_000) closedAt.delete(closedAt.keys().next().value!);
      return;
    }
    const t = closedAt.get(key);
    if (t === undefined) return;
    closedAt.delete(key);
    instruments().settleLatency.record((Date.now() - t) / 1000, { outcome: e.type === 'RoundSettled' ? 'settled' : 'unresolved' });
  };
}

/** `ewx_period_close_duration`, observed by the rewards service around each period's close. */
export const recordPeriodClose = (ms: number): void => instruments().periodClose.record(ms / 1000);
