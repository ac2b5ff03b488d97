import {
  context,
  propagation,
  trace,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
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
/**
 * Whether spans are recorded: only when something takes them (an OTLP exporter, a test's
 * processor). Without one, and for a span whose parent is not sampled, only the ids are made
 * (`idsOnly`): the trace still reaches events, headers and log lines, at no SDK cost.
 */
let recording = false;
/** Set by startTelemetry: off (OTEL_SDK_DISABLED=true), nothing is stamped and no span is made. */
export const setTracing = (on: boolean, record: boolean = on): void => {
  enabled = on;
  recording = on && record;
};
export const tracingEnabled = (): boolean => enabled;
/** Whether a span under `parent` would be recorded (tracing on, a processor takes spans, the parent if any sampled). */
export const recordingUnder = (parent: Context): boolean => {
  if (!recording) return false;
  const p = trace.getSpanContext(parent);
  return p === undefined || (p.traceFlags & TraceFlags.SAMPLED) !== 0;
};

const idBytes = Buffer.alloc(16);
/** A random trace (16 bytes) or span (8 bytes) id in hex, never all zeros (as the SDK's generator). */
function randomId(bytes: 8 | 16): string {
  for (let i = 0; i < bytes; i += 4) idBytes.writeUInt32BE((Math.random() * 2 ** 32) >>> 0, i);
  if (idBytes.readUInt32BE(0) === 0) idBytes.writeUInt32BE(1, 0);
  return idBytes.toString('hex', 0, bytes);
}

/**
 * A span that is only ids: the parent's trace (a new one without a parent, sampled so a process
 * that records continues it), a new span id, the parent's flags. Nothing is recorded or exported.
 */
function idsOnly(parent: Context): Span {
  const p = trace.getSpanContext(parent);
  return trace.wrapSpanContext(
    p
      ? { traceId: p.traceId, spanId: randomId(8), traceFlags: p.traceFlags, ...(p.traceState ? { traceState: p.traceState } : {}) }
      : { traceId: randomId(16), spanId: randomId(8), traceFlags: TraceFlags.SAMPLED },
  );
}

export const tracer = () => trace.getTracer('@ewx/platform');

/** The W3C trace context of `ctx` as string fields (metadata, headers), or undefined without a trace. */
export function traceCarrier(ctx: Context = context.active()): Record<string, string> | undefined {
  if (!enabled) return undefined;
  const sc = trace.getSpanContext(ctx);
  if (!sc) return undefined;
  // The common case without a trace state, written directly (what the W3C propagator writes).
  if (sc.traceState === undefined && VALID_SPAN.test(sc.spanId) && VALID_TRACE.test(sc.traceId))
    return { traceparent: `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}` };
  const c: Record<string, string> = {};
  propagation.inject(ctx, c);
  if (c.traceparent === undefined) return undefined;
  return c.tracestate === undefined ? { traceparent: c.traceparent } : { traceparent: c.traceparent, tracestate: c.tracestate };
}

/**
 * What `traceCarrier()` gives inside spans made under `carrier` (message headers) when none of
 * them is recorded — the same trace and flags, a new span id — without making them: `{ carrier }`
 * (undefined carrier with tracing off). `undefined` when a span under it would be recorded: the
 * caller then makes its spans as usual. A batched inbox uses it per message.
 */
export function unrecordedChildCarrier(carrier: unknown): { readonly carrier: Record<string, string> | undefined } | undefined {
  if (!enabled) return { carrier: undefined };
  const parent = contextFrom(carrier);
  if (recordingUnder(parent)) return undefined;
  return { carrier: traceCarrier(trace.setSpan(parent, idsOnly(parent))) };
}

/** The context a carrier (event metadata, message headers, gRPC metadata) continues; `base` if it has none. */
export function contextFrom(carrier: unknown, base: Context = ROOT_CONTEXT): Context {
  const c = carrier as { traceparent?: unknown; tracestate?: unknown } | null | undefined;
  if (!enabled || typeof c?.traceparent !== 'string') return base;
  if (c.tracestate === undefined) {
    // The common case (version 00, no trace state) parsed directly; anything else goes to the W3C propagator.
    const m = TRACEPARENT.exec(c.traceparent);
    if (m && m[1] !== ZERO_TRACE && m[2] !== ZERO_SPAN)
      return trace.setSpanContext(base, { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16), isRemote: true });
  }
  return propagation.extract(
    base,
    typeof c.tracestate === 'string' ? { traceparent: c.traceparent, tracestate: c.tracestate } : { traceparent: c.traceparent },
  );
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const VALID_TRACE = /^[0-9a-f]{32}$/;
const VALID_SPAN = /^[0-9a-f]{16}$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

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
  if (!recordingUnder(parent)) {
    const ids = idsOnly(parent);
    return context.with(trace.setSpan(links ? parent.deleteValue(LINKS) : parent, ids), () => fn(ids));
  }
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
export function traceCauses(max = 50_000): { note(key: string, metadata?: unknown): void; follow<T>(key: string, fn: () => T): T } {
  const causes = new Map<string, Context>();
  return {
    /**
     * The trace of an input: the one its event recorded (`metadata.traceparent`: a vote appended in
     * a batch with others keeps its own caller's), else the active one.
     */
    note(key, metadata) {
      if (!enabled) return;
      const sc = trace.getSpanContext(contextFrom(metadata)) ?? trace.getSpanContext(context.active());
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
