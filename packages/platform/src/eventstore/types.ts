/**
 * The event store port. Every service owns one log (its "category"); versions count from 0 within
 * a stream, positions are global within the log and strictly increasing in commit order.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface EventData {
  readonly type: string;
  readonly data: Json;
  readonly metadata?: Json;
}

export interface RecordedEvent extends EventData {
  readonly streamId: string;
  /** 0-based index within the stream. */
  readonly version: number;
  /** Global position within this log, strictly increasing, starting at 1. */
  readonly position: bigint;
}

/** -1: the stream must not exist yet. 'any': no check (used by nothing that decides). */
export type ExpectedVersion = number | 'any';
export const NO_STREAM = -1;

export interface AppendResult {
  readonly nextVersion: number;
  readonly lastPosition: bigint;
}

export interface EventStore {
  /** Appends atomically; throws WrongExpectedVersionError when the stream is elsewhere. */
  append(streamId: string, events: readonly EventData[], expected: ExpectedVersion): Promise<AppendResult>;
  readStream(streamId: string, fromVersion?: number): Promise<RecordedEvent[]>;
  /** Events with position > after, in global order, at most `limit`. */
  readAll(after: bigint, limit: number): Promise<RecordedEvent[]>;
  getCheckpoint(name: string): Promise<bigint>;
  saveCheckpoint(name: string, position: bigint): Promise<void>;
  /** Resolves on the next local append (or after `ms`); lets subscriptions avoid busy polling. */
  waitForAppend(ms: number): Promise<void>;
  close(): Promise<void>;
}
