import { ROOT_CONTEXT, type Span } from '@opentelemetry/api';
import type { OutgoingMessage } from '../bus/types.js';
import type { RecordedEvent } from '../eventstore/types.js';
import { contextFrom, recordingUnder, SpanKind, tracer, tracingEnabled } from './trace.js';

const spans = new WeakMap<OutgoingMessage, readonly Span[]>();

/**
 * The relay's producer spans: one per traced event, a child of the span that appended it, ended
 * when the broker acknowledged the send. Its context goes out with the event: in the record's
 * headers for a single-event record, in the event's own entry of a run record (the events of a run
 * come from different traces, so a run has no record-level span or header). When no span is
 * recorded (no exporter, or the event's trace is not sampled) the event's own trace context goes
 * out as it is: no span, no parse.
 */
export const publishSpans = {
  /**
   * The trace context event `e` goes out with (undefined: untraced); a producer span started for it
   * is pushed to `started`, to be ended by {@link publishSpans.sent} through {@link publishSpans.attach}.
   */
  carrier(e: RecordedEvent, topic: string, started: Span[], run = false): Record<string, string> | undefined {
    if (!tracingEnabled()) return undefined;
    const md = e.metadata as { traceparent?: unknown; tracestate?: unknown } | null | undefined;
    const tp = md?.traceparent;
    if (typeof tp !== 'string') return undefined;
    const ts = md?.tracestate;
    const asIs = (): Record<string, string> => (typeof ts === 'string' ? { traceparent: tp, tracestate: ts } : { traceparent: tp });
    if (!recordingUnder(ROOT_CONTEXT) || tp.endsWith('-00')) return asIs();
    const parent = contextFrom(md);
    if (!recordingUnder(parent)) return asIs();
    const span = tracer().startSpan(
      `${topic} publish`,
      {
        kind: SpanKind.PRODUCER,
        attributes: {
          'messaging.system': 'kafka',
          'messaging.destination.name': topic,
          'messaging.kafka.message.key': e.streamId,
          'ewx.event_type': e.type,
          'ewx.position': e.position,
          ...(run ? { 'ewx.run_record': true } : {}),
        },
      },
      parent,
    );
    started.push(span);
    const c = span.spanContext();
    const flags = c.traceFlags.toString(16).padStart(2, '0');
    return { traceparent: `00-${c.traceId}-${c.spanId}-${flags}` };
  },
  /** A single-event record of `e`, its trace context in the headers. */
  message(e: RecordedEvent, topic: string, m: OutgoingMessage): OutgoingMessage {
    const started: Span[] = [];
    const headers = publishSpans.carrier(e, topic, started);
    return headers ? publishSpans.attach({ ...m, headers }, started) : m;
  },
  /** Ties the producer spans of a record's events to the record, so that `sent` ends them. */
  attach(m: OutgoingMessage, started: readonly Span[]): OutgoingMessage {
    if (started.length > 0) spans.set(m, started);
    return m;
  },
  async sent(messages: readonly OutgoingMessage[], send: () => Promise<void>): Promise<void> {
    try {
      await send();
    } catch (e) {
      for (const m of messages) for (const s of spans.get(m) ?? []) s.recordException(e as Error);
      throw e;
    } finally {
      for (const m of messages) {
        for (const s of spans.get(m) ?? []) s.end();
        spans.delete(m);
      }
    }
  },
};
