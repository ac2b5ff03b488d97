import { decodeConsensusLog, roundClosedV1 } from '@ewx/contracts';
import { positionProgress, type LogPosition } from '../eventstore/types.js';
import type { RecordedEvent } from '../eventstore/types.js';
import { instruments, observe, observeEach, unobserve } from './metrics.js';

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
    const ev = decodeConsensusLog(e);
    if (ev?.type !== 'RoundClosed' && ev?.type !== 'RoundSettled' && ev?.type !== 'RoundUnresolved') return;
    const key = `${ev.data.solution}|${ev.data.roundId}`;
    if (ev.type === 'RoundClosed') {
      // A v1 close came in chunks: the first one is the expiry.
      if ((roundClosedV1(ev.data)?.chunk ?? 0) === 0 && !closedAt.has(key)) closedAt.set(key, Date.now());
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

/**
 * Gauges a service reads from its own state at each collection (so they are right after a replay
 * or a snapshot, not only after live events): a service names what it knows.
 */
export interface ServiceGauges {
  /** Reward budget still reserved, per group (base units): `ewx_group_budget_remaining{service,group}`. */
  budgets?(): Iterable<readonly [group: string, budget: bigint]>;
  /**
   * Rounds past their deadline and not yet settled or unresolved, and the blocks since the oldest
   * one's deadline: `ewx_rounds_overdue{service}`, `ewx_rounds_overdue_oldest_blocks{service}`.
   */
  overdue?(): { readonly rounds: number; readonly oldestBlocks: number };
}

/** Serves a service's gauges on /metrics until the returned function is called. */
export function observeServiceGauges(service: string, g: ServiceGauges): () => void {
  const i = instruments();
  const { budgets, overdue } = g;
  if (budgets)
    observeEach(i.groupBudget, service, function* () {
      for (const [group, b] of budgets()) yield [Number(b), { service, group }] as const;
    });
  if (overdue) {
    observe(i.roundsOverdue, service, { service }, () => overdue().rounds);
    observe(i.roundsOverdueBlocks, service, { service }, () => overdue().oldestBlocks);
  }
  return () => {
    unobserve(i.groupBudget, service);
    unobserve(i.roundsOverdue, service);
    unobserve(i.roundsOverdueBlocks, service);
  };
}

/**
 * `ewx_consumer_lag_messages{group,topic,partition="0"}` in the embedded mode, where a consumer
 * group tails the producer's log: log positions between the producer's last applied event and the
 * group's checkpoint (inbox copies in the producer's log count too, as for the relay lag).
 */
export function observeLogTailLag(group: string, topic: string, head: () => LogPosition, consumed: () => LogPosition): () => void {
  const key = `${group}|${topic}|0`;
  observe(instruments().consumerLag, key, { group, topic, partition: '0' }, () => {
    const n = positionProgress(head()) - positionProgress(consumed());
    return Number(n > 0n ? n : 0n);
  });
  return () => unobserve(instruments().consumerLag, key);
}
