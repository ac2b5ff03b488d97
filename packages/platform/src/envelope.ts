import type { Json, RecordedEvent } from './eventstore/types.js';

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

export function parseEnvelope(value: string): Envelope {
  const v = JSON.parse(value) as Partial<Envelope>;
  if (typeof v.source !== 'string' || typeof v.streamId !== 'string' || typeof v.version !== 'number' || typeof v.type !== 'string') {
    throw new Error('envelope: expected source, streamId, version and type');
  }
  if (v.prevOfType !== undefined && !Number.isInteger(v.prevOfType)) throw new Error('envelope: prevOfType must be an integer');
  return v as Envelope;
}
