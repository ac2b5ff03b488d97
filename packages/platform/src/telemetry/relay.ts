import { ROOT_CONTEXT, type Span } from '@opentelemetry/api';
import type { OutgoingMessage } from '../bus/types.js';
import type { RecordedEvent } from '../eventstore/types.js';
import { contextFrom, recordingUnder, SpanKind, tracer, tracingEnabled } from './trace.js';

const spans = new WeakMap<OutgoingMessage, Span>();

/**
 * The relay's producer spans: one per traced event, a child of the span that appended it, ended
 * when the broker acknowledged the send; its context goes out in the message's headers. When no
 * span is recorded (no exporter, or the event's trace is not sampled) the event's own trace context
 * goes out as it is: no span, no parse.
 */
export const publishSpans = {
  message(e: RecordedEvent, topic: string, m: OutgoingMessage): OutgoingMessage {
    if (!tracingEnabled()) return m;
    const md = e.metadata as { traceparent?: unknown; tracestate?: unknown } | null | undefined;
    const tp = md?.traceparent;
    if (typeof tp !== 'string') return m;
    const ts = md?.tracestate;
    const asIs = (): OutgoingMessage => ({ ...m, headers: typeof ts === 'string' ? { traceparent: tp, tracestate: ts } : { traceparent: tp } });
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
        },
      },
      parent,
    );
    const c = span.spanContext();
    const flags = c.traceFlags.toString(16).padStart(2, '0');
    const out: OutgoingMessage = { ...m, headers: { traceparent: `00-${c.traceId}-${c.spanId}-${flags}` } };
    spans.set(out, span);
    return out;
  },
  async sent(messages: readonly OutgoingMessage[], send: () => Promise<void>): Promise<void> {
    try {
      await send();
    } catch (e) {
      for (const m of messages) spans.get(m)?.recordException(e as Error);
      throw e;
    } finally {
      for (const m of messages) {
        spans.get(m)?.end();
        spans.delete(m);
      }
    }
  },
};
