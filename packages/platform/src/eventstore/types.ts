/**
 * The event store port. Every service owns one log (its "category"); versions count from 0 within
 * a stream, positions are global within the log and strictly increasing in commit order.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * A global position in one log, opaque to the code above the port: ordered (`comparePositions`),
 * serialised (it *is* its canonical serialised form, so `===` is equality and it can be stored in a
 * checkpoint, a message or JSON as it is), never computed with. Each adapter says what its
 * components are: the SQL adapters one (the identity column), KurrentDB two (commit/prepare of
 * `$all`). Nothing may assume that positions are dense, start anywhere, or that any one component
 * is unique: events of one append may share a component (KurrentDB's commit position).
 *
 * Serialised form: decimal components without leading zeros joined by '/' ("42", "1234/1230"), or
 * "" for `START`. Compared component by component, numerically; a prefix sorts first.
 */
export type LogPosition = string & { readonly __logPosition: true };

/**
 * `withoutBodiesUnder`: events of streams whose id starts with this prefix may come back with
 * `data` null and no metadata (a reader that skips them, like the relay skipping inbox copies,
 * then does not read their bodies). A store may ignore it and return them whole.
 *
 * `dataAsText`: an event may come back with `dataText`, its data's JSON text as stored (not
 * parsed), and `data` null — for a reader that only passes the data on as JSON (the relay's run
 * records). A store may ignore it and return `data` parsed.
 */
export interface LogReadOptions {
  readonly withoutBodiesUnder?: string;
  readonly dataAsText?: boolean;
}

/** An event from `readAll` with `dataAsText`: when `dataText` is set it is the data (JSON text) and `data` is null. */
export interface RecordedEventText extends RecordedEvent {
  readonly dataText?: string;
}

/** Before the first event of every log: `readAll(START, n)` reads from the beginning. */
export const START = '' as LogPosition;

const COMPONENT = /^(0|[1-9][0-9]*)$/;

/** Builds a position from its components (each a non-negative integer). Adapters only. */
export function encodePosition(components: readonly bigint[]): LogPosition {
  if (components.length === 0) throw new Error('encodePosition: a position has at least one component');
  for (const c of components) if (c < 0n) throw new Error(`encodePosition: component ${c} is negative`);
  return components.join('/') as LogPosition;
}

/** The components of a position (none for `START`). Adapters only. */
export function decodePosition(p: LogPosition): bigint[] {
  return p === START ? [] : p.split('/').map((c) => BigInt(c));
}

/**
 * Checks a serialised position read from outside (a checkpoint row, a message): throws a clear
 * error on anything that is not one. Every position the port hands out already passes.
 */
export function parsePosition(s: string): LogPosition {
  if (s !== '' && !s.split('/').every((c) => COMPONENT.test(c))) {
    throw new Error(`log position ${JSON.stringify(s)}: expected decimal components joined by '/' (or "" for the start)`);
  }
  return s as LogPosition;
}

/** Total order of positions: negative when a comes first, 0 when equal, positive when b comes first. */
export function comparePositions(a: LogPosition, b: LogPosition): number {
  if (a === b) return 0;
  const x = decodePosition(a);
  const y = decodePosition(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i]! !== y[i]!) return x[i]! < y[i]! ? -1 : 1;
  }
  return x.length - y.length;
}

/**
 * A single non-decreasing number for a position, for reports that carry a uint64 (GetStatus
 * `log_position`, the registry's `CommandReply.log_position`): its first component, 0 for `START`.
 * For the SQL adapters that is the position itself; for KurrentDB the commit position, which the
 * events of one append may share. It orders progress; it is not a position to resume from.
 */
export function positionProgress(p: LogPosition): bigint {
  return p === START ? 0n : decodePosition(p)[0]!;
}

export interface EventData {
  readonly type: string;
  readonly data: Json;
  readonly metadata?: Json;
}

export interface RecordedEvent extends EventData {
  readonly streamId: string;
  /** 0-based index within the stream. */
  readonly version: number;
  /** Global position within this log, strictly increasing in log order; compare, never compute. */
  readonly position: LogPosition;
}

/** -1: the stream must not exist yet. 'any': no check (used by nothing that decides). */
export type ExpectedVersion = number | 'any';
export const NO_STREAM = -1;

export interface AppendResult {
  readonly nextVersion: number;
  /** Position of the last event appended. */
  readonly lastPosition: LogPosition;
  /**
   * Only from an adapter that knows it for certain: the position of each appended event, and of the
   * event just before them in the log (`START` if none). A reader that had read up to `preceding`
   * can then apply these events without reading them back; any other reader must read.
   */
  readonly written?: { readonly preceding: LogPosition; readonly positions: readonly LogPosition[] };
}

export interface EventStore {
  /** Appends atomically; throws WrongExpectedVersionError when the stream is elsewhere. */
  append(streamId: string, events: readonly EventData[], expected: ExpectedVersion): Promise<AppendResult>;
  /**
   * The stream's events from `fromVersion` on, in version order; at most `maxCount` when given (a
   * slice of a long stream, e.g. one period's decision events). A wrapper may ignore `maxCount`
   * and return more: a caller that wants a slice cuts the answer itself.
   */
  readStream(streamId: string, fromVersion?: number, maxCount?: number): Promise<RecordedEvent[]>;
  /**
   * Events with position > after, in global order, at most `limit`; fewer only at the end of the
   * log. Reading on from the last event's position never skips nor repeats an event, wherever
   * `limit` cut (also inside one append).
   */
  readAll(after: LogPosition, limit: number, opts?: LogReadOptions): Promise<RecordedEvent[]>;
  /** The position saved under `name`, or `START`. */
  getCheckpoint(name: string): Promise<LogPosition>;
  saveCheckpoint(name: string, position: LogPosition): Promise<void>;
  /** Resolves on the next local append (or after `ms`); lets subscriptions avoid busy polling. */
  waitForAppend(ms: number): Promise<void>;
  close(): Promise<void>;
}
