import type { Consumer as KafkaConsumer, IHeaders } from 'kafkajs';
import type { IncomingMessage } from '../bus/types.js';
import { instruments, observe } from './metrics.js';
import { contextFrom, inSpan, SpanKind, tracingEnabled } from './trace.js';

/** The string headers of a Kafka record (only the trace context is ever read). */
export function headersOf(h: IHeaders | undefined): { headers?: Record<string, string> } {
  const tp = h?.traceparent;
  if (tp === undefined) return {};
  const ts = h?.tracestate;
  return { headers: { traceparent: tp.toString(), ...(ts !== undefined ? { tracestate: ts.toString() } : {}) } };
}

/** The embedded bus has no headers: the event's own metadata carries the trace. */
export function traceHeadersOf(metadata: unknown): { headers?: Record<string, string> } {
  const tp = (metadata as { traceparent?: unknown } | null | undefined)?.traceparent;
  return typeof tp === 'string' ? { headers: { traceparent: tp } } : {};
}

/**
 * The consumer span of one event delivered by record `m`, continuing the producer's trace: from the
 * record's headers for a single-event record, from the event's own entry (`trace`) in a run record.
 */
export function consumeSpan(service: string, m: IncomingMessage, fn: () => Promise<void>, trace: unknown = m.headers): Promise<void> {
  if (!tracingEnabled()) return fn();
  return inSpan(
    `${m.topic} process`,
    {
      kind: SpanKind.CONSUMER,
      parent: contextFrom(trace),
      attributes: {
        'messaging.system': 'kafka',
        'messaging.destination.name': m.topic,
        'messaging.kafka.message.key': m.key,
        'messaging.kafka.offset': m.offset,
        'messaging.destination.partition.id': String(m.partition),
        'ewx.service': service,
      },
    },
    () => fn(),
  );
}

/** Records each partition's lag after every batch (kafkajs' END_BATCH_PROCESS), for `ewx_consumer_lag_messages`. */
export function watchConsumerLag(consumer: KafkaConsumer, group: string): void {
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const lag = Number(payload.offsetLag);
    observe(
      instruments().consumerLag,
      `${group}|${payload.topic}|${payload.partition}`,
      { group, topic: payload.topic, partition: String(payload.partition) },
      () => lag,
    );
  });
}
