import type { Json, RecordedEvent, RecordedEventText } from './eventstore/types.js';

/** What a service publishes on its topic: one committed event and where it sits in the source log. */
export interface Envelope {
  readonly source: string;
  readonly streamId: string;
  readonly version: number;
  /** The event's position in the source log, serialised (a LogPosition of the source's store). */
  readonly position: string;
  readonly type: string;
  readonly data: Json;
  /**
   * Version of the previous event of the same type in the same stream (-1: none), so a consumer
   * that records only some types can still tell a gap from a filtered event. Absent on events
   * written before it existed.
   */
  readonly prevOfType?: number;
}

/** Streams under this prefix hold copies of other services' events; they are never relayed. */
export const INBOX_PREFIX = 'inbox:';

export function toEnvelope(source: string, e: RecordedEvent): Envelope {
  const prev = (e.metadata as { prevOfType?: unknown } | null | undefined)?.prevOfType;
  const env: Envelope = { source, streamId: e.streamId, version: e.version, position: e.position, type: e.type, data: e.data };
  return typeof prev === 'number' ? { ...env, prevOfType: prev } : env;
}

/** A single-event record's envelope (see {@link envelopesOf} for a record of either form). */
export function parseEnvelope(value: string): Envelope {
  const v = JSON.parse(value) as Partial<Envelope> & { v?: unknown };
  if (v?.v !== undefined) throw new Error(`envelope: a record of form v=${JSON.stringify(v.v)} holds a run of events: read it with envelopesOf`);
  return checked(v);
}

function checked(v: Partial<Envelope>): Envelope {
  if (typeof v.source !== 'string' || typeof v.streamId !== 'string' || typeof v.version !== 'number' || typeof v.type !== 'string') {
    throw new Error('envelope: expected source, streamId, version and type');
  }
  if (v.prevOfType !== undefined && !Number.isInteger(v.prevOfType)) throw new Error('envelope: prevOfType must be an integer');
  return v as Envelope;
}

/**
 * Wire forms of a record on `ewx.<service>.events.v1` (the value is JSON text; the key is the
 * source log's):
 *
 * - *single* (every build): one {@link Envelope}, its trace context in the record's headers.
 * - *run* (`{"v":2,…}`, written by the relay since RELAY_RUN_RECORDS, default on): consecutive
 *   events of one source log, `{"v":2,"source":…,"events":[{streamId, version, position, type,
 *   data, prevOfType?, traceparent?, tracestate?}, …]}`, in log order. Each event carries its own
 *   trace context (the events of a run come from different calls); the record has no trace header.
 *
 * Consumers read both ({@link envelopesOf}); a build older than the run form refuses a run record
 * ("envelope: expected source, streamId, version and type") and redelivers it, never skipping it:
 * upgrade every consumer before a producer publishes runs (docs/OPERATIONS.md, "Upgrade").
 */
export const RUN_FORMAT = 2;

/** The trace context (W3C `traceparent`, `tracestate`) an event travels with. */
export type TraceCarrier = Readonly<Record<string, string>>;

/** One event read from a record, with the trace context it continues (none: untraced). */
export interface Delivered {
  readonly envelope: Envelope;
  readonly trace: TraceCarrier | undefined;
}

/**
 * The JSON text of one event in a run record (see {@link runRecord}). An event read with its data
 * as stored JSON text (`dataText`, readAll's `dataAsText`) has that text spliced in as it is: the
 * same value for every reader, without parsing and serialising it again.
 */
export function runEntry(e: RecordedEventText, trace?: TraceCarrier): string {
  const prev = (e.metadata as { prevOfType?: unknown } | null | undefined)?.prevOfType;
  if (typeof e.dataText === 'string') {
    const head = JSON.stringify({ streamId: e.streamId, version: e.version, position: e.position, type: e.type });
    const tail = JSON.stringify({
      ...(typeof prev === 'number' ? { prevOfType: prev } : {}),
      ...(trace?.traceparent !== undefined ? { traceparent: trace.traceparent } : {}),
      ...(trace?.tracestate !== undefined ? { tracestate: trace.tracestate } : {}),
    });
    return `${head.slice(0, -1)},"data":${e.dataText}${tail.length > 2 ? `,${tail.slice(1)}` : '}'}`;
  }
  return JSON.stringify({
    streamId: e.streamId,
    version: e.version,
    position: e.position,
    type: e.type,
    data: e.data,
    ...(typeof prev === 'number' ? { prevOfType: prev } : {}),
    ...(trace?.traceparent !== undefined ? { traceparent: trace.traceparent } : {}),
    ...(trace?.tracestate !== undefined ? { tracestate: trace.tracestate } : {}),
  });
}

/** Bytes a run record takes besides its entries (`{"v":2,"source":…,"events":[…]}` and the commas). */
export const runOverhead = (source: string, entries: number): number => Buffer.byteLength(runRecord(source, [])) + Math.max(0, entries - 1);

/** A run record's value from its entries ({@link runEntry}), in log order. */
export const runRecord = (source: string, entries: readonly string[]): string =>
  `{"v":${RUN_FORMAT},"source":${JSON.stringify(source)},"events":[${entries.join(',')}]}`;

/**
 * The events of one record, in order, in either form: a single envelope with the record's
 * `headers` as its trace, or a run with each event's own. Throws (the record is redelivered, never
 * skipped) on anything else, naming what is wrong.
 */
export function envelopesOf(value: string, headers?: TraceCarrier): Delivered[] {
  const v = JSON.parse(value) as { v?: unknown; source?: unknown; events?: unknown };
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('envelope: expected a JSON object');
  if (v.v === undefined) return [{ envelope: checked(v as Partial<Envelope>), trace: headers }];
  if (v.v !== RUN_FORMAT)
    throw new Error(`envelope: unknown record form v=${JSON.stringify(v.v)} (this build reads single envelopes and v=${RUN_FORMAT} runs)`);
  const source = v.source;
  if (typeof source !== 'string' || !Array.isArray(v.events)) throw new Error('envelope: a run (v=2) needs source and events');
  return (v.events as RunEvent[]).map((x, i): Delivered => {
    if (x === null || typeof x !== 'object') throw new Error(`envelope: run event ${i} is not an object`);
    const env = checked({
      source,
      streamId: x.streamId,
      version: x.version,
      position: x.position,
      type: x.type,
      data: x.data,
      ...(x.prevOfType !== undefined ? { prevOfType: x.prevOfType } : {}),
    } as Partial<Envelope>);
    if (typeof env.position !== 'string') throw new Error(`envelope: run event ${i} needs a position`);
    const tp = x.traceparent;
    if (typeof tp !== 'string') return { envelope: env, trace: undefined };
    const trace: TraceCarrier = typeof x.tracestate === 'string' ? { traceparent: tp, tracestate: x.tracestate } : { traceparent: tp };
    return { envelope: env, trace };
  });
}

interface RunEvent {
  readonly streamId?: unknown;
  readonly version?: unknown;
  readonly position?: unknown;
  readonly type?: unknown;
  readonly data?: unknown;
  readonly prevOfType?: unknown;
  readonly traceparent?: unknown;
  readonly tracestate?: unknown;
}
