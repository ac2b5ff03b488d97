import {
  context,
  propagation,
  trace,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  createContextKey,
  type Attributes,
  type Context,
  type Link,
  type Span,
} from '@opentelemetry/api';

/**
 * Trace context travels with the events: each appended event's metadata carries the W3C
 * `traceparent` of the span that appended it, a Kafka message carries it in its headers, and the
 * runtime runs its reactions in the context of the event that triggered them. Spans are
 * infrastructure: the domain never sees them, and no decision reads this metadata.
 */
let enabled = false;
/** Set by startTelemetry: off (OTEL_SDK_DISABLED=true), nothing is stamped and no span is made. */
export const setTracing = (on: boolean): void => {
  enabled = on;
};
export const tracingEnabled = (): boolean => enabled;

export const tracer = () => trace.getTracer('@ewx/platform');

/** The W3C trace context of `ctx` as string fields (metadata, headers), or undefined without a trace. */
export function traceCarrier(ctx: Context = context.active()): Record<string, string> | undefined {
  if (!enabled || !trace.getSpanContext(ctx)) return undefined;
  const c: Record<string, string> = {};
  propagation.inject(ctx, c);
  if (c.traceparent === undefined) return undefined;
  return c.tracestate === undefined ? { traceparent: c.traceparent } : { traceparent: c.traceparent, tracestate: c.tracestate };
}

/** The context a carrier (event metadata, message headers, gRPC metadata) continues; `base` if it has none. */
export function contextFrom(carrier: unknown, base: Context = ROOT_CONTEXT): Context {
  const c = carrier as { traceparent?: unknown; tracestate?: unknown } | null | undefined;
  if (!enabled || typeof c?.traceparent !== 'string') return base;
  return propagation.extract(
    base,
    typeof c.tracestate === 'string' ? { traceparent: c.traceparent, tracestate: c.tracestate } : { traceparent: c.traceparent },
  );
}

/** Links the next span made under this context will carry (a deadline decision links its trigger). */
const LINKS = createContextKey('ewx.links');

/**
 * Runs `fn` in a new span (child of `parent`, the active context by default), ends it with the
 * outcome; a throw marks it as an error unless `expected(e)` says the refusal is ordinary.
 */
export async function inSpan<T>(
  name: string,
  o: { kind?: SpanKind; attributes?: Attributes; parent?: Context; expected?: (e: unknown) => boolean },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  if (!enabled) return fn(NOOP);
  const parent = o.parent ?? context.active();
  const links = parent.getValue(LINKS) as Link[] | undefined;
  const span = tracer().startSpan(name, { kind: o.kind ?? SpanKind.INTERNAL, attributes: o.attributes, ...(links ? { links } : {}) }, parent);
  const ctx = trace.setSpan(links ? parent.deleteValue(LINKS) : parent, span);
  try {
    return await context.with(ctx, () => fn(span));
  } catch (e) {
    if (!o.expected?.(e)) {
      span.recordException(e as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error)?.message });
    }
    throw e;
  } finally {
    span.end();
  }
}

/** Runs `fn` with the trace of `carrier` active (a listener reacting to an event joins its trace). */
export function withTraceOf<T>(carrier: unknown, fn: () => T): T {
  if (!enabled) return fn();
  return context.with(contextFrom(carrier, context.active()), fn);
}

/**
 * Runs `fn` as the continuation of `cause` (a span context remembered earlier), linking the trace
 * active now (what made the decision due: a block). Without a cause, `fn` runs as it is.
 */
export function continueTrace<T>(cause: Context | undefined, fn: () => T): T {
  if (!enabled || cause === undefined) return fn();
  const now = trace.getSpanContext(context.active());
  const ctx = now && now.traceId !== trace.getSpanContext(cause)?.traceId ? cause.setValue(LINKS, [{ context: now }]) : cause;
  return context.with(ctx, fn);
}

/**
 * Remembers, per decision key, the trace of the latest input to a decision taken later at a
 * deadline (a round's last vote before it expires; a period's last vote metadata before it
 * closes), so that decision continues that trace: one trace from a vote to the reward it earns.
 * Bounded: forgotten once followed, oldest dropped past `max`.
 */
export function traceCauses(max = 50_000): { note(key: string): void; follow<T>(key: string, fn: () => T): T } {
  const causes = new Map<string, Context>();
  return {
    note(key) {
      if (!enabled) return;
      const sc = trace.getSpanContext(context.active());
      if (!sc) return;
      causes.delete(key);
      causes.set(key, trace.setSpanContext(ROOT_CONTEXT, sc));
      if (causes.size > max) causes.delete(causes.keys().next().value!);
    },
    follow(key, fn) {
      const c = causes.get(key);
      causes.delete(key);
      return continueTrace(c, fn);
    },
  };
}

/** The active span's ids for log lines, or undefined. */
export function logIds(): { trace_id: string; span_id: string } | undefined {
  if (!enabled) return undefined;
  const sc = trace.getSpanContext(context.active());
  return sc ? { trace_id: sc.traceId, span_id: sc.spanId } : undefined;
}

const NOOP = trace.wrapSpanContext({ traceId: '00000000000000000000000000000000', spanId: '0000000000000000', traceFlags: 0 });

export { SpanKind };
