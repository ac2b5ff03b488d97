import { isDomainError } from '../errors.js';
import type { Envelope } from '../envelope.js';
import type { AppendResult, EventData, Json } from '../eventstore/types.js';
import { count, instruments } from './metrics.js';
import { inSpan, SpanKind, traceCarrier, tracingEnabled } from './trace.js';

/** The stream's kind (`round`, `group`, `inbox`): span names stay few, the full id is an attribute. */
const kindOf = (streamId: string): string => streamId.slice(0, Math.max(0, streamId.indexOf(':'))) || streamId;

/** One command through the runtime: catch-up, decide, append (conflicts retried inside). */
export const commandSpan = <T>(service: string, streamId: string, fn: () => Promise<T>): Promise<T> =>
  tracingEnabled()
    ? inSpan(`${service} execute ${kindOf(streamId)}`, { attributes: { 'ewx.service': service, 'ewx.stream': streamId }, expected: isDomainError }, () => fn())
    : fn();

/** Recording another service's event in this log (child of the consume span). */
export const ingestSpan = <T>(service: string, env: Envelope, fn: () => Promise<T>): Promise<T> =>
  tracingEnabled()
    ? inSpan(
        `${service} inbox record ${env.type}`,
        { attributes: { 'ewx.service': service, 'ewx.source': env.source, 'ewx.source_stream': env.streamId, 'ewx.source_version': env.version } },
        async (span) => {
          const r = await fn();
          span.setAttribute('ewx.duplicate', r === false);
          return r;
        },
      )
    : fn();

/** The event store append, as a client span. */
export const appendSpan = (service: string, streamId: string, events: readonly EventData[], fn: () => Promise<AppendResult>): Promise<AppendResult> =>
  tracingEnabled()
    ? inSpan(
        'eventstore append',
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'ewx.service': service,
            'ewx.stream': streamId,
            'ewx.events': events.length,
            'ewx.event_types': [...new Set(events.map((e) => e.type))].join(','),
          },
        },
        () => fn(),
      )
    : fn();

/**
 * Each event records the trace that appended it (`traceparent`, W3C): the relay puts it in the
 * Kafka headers, and reactions to the event continue it. An event that already names its own
 * (a vote decided in a batch with others keeps its caller's) is left as it is. Metadata only: no
 * decision reads it.
 */
export function stampTrace(events: readonly EventData[]): readonly EventData[] {
  const c = traceCarrier();
  if (!c) return events;
  return events.map((e) => {
    const m = e.metadata as Record<string, Json> | null | undefined;
    return m?.traceparent !== undefined ? e : { ...e, metadata: { ...(m ?? {}), ...c } };
  });
}

/** Votes in an appended event: a VoteCast is one, a VotesCast (several votes appended together) its `votes`. */
const votesIn = (e: EventData): number =>
  e.type === 'VoteCast' ? 1 : e.type === 'VotesCast' ? ((e.data as { votes?: unknown[] } | null)?.votes?.length ?? 0) : 0;
export function countAppended(service: string, events: readonly EventData[]): void {
  const byType = new Map<string, number>();
  for (const e of events) byType.set(e.type, (byType.get(e.type) ?? 0) + 1);
  const i = instruments();
  for (const [type, n] of byType) count(i.appended, n, { service, type });
  // Votes where they are cast: consensus's inbox records each VoteCast and VotesCast too (votes carried once), not new votes.
  let cast = 0;
  if (byType.has('VoteCast') || byType.has('VotesCast'))
    for (const e of events) if ((e.metadata as { source?: unknown } | null | undefined)?.source === undefined) cast += votesIn(e);
  count(i.votes, cast, { service });
}

export function recordReplay(service: string, events: number, ms: number): void {
  const i = instruments();
  i.replay.record(ms / 1000, { service });
  i.replayEvents.add(events, { service });
}
