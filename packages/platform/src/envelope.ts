import type { Json, RecordedEvent } from './eventstore/types.js';

/** What a service publishes on its topic: one committed event and where it sits in the source log. */
export interface Envelope {
  readonly source: string;
  readonly streamId: string;
  readonly version: number;
  readonly position: string;
  readonly type: string;
  readonly data: Json;
}

/** Streams under this prefix hold copies of other services' events; they are never relayed. */
export const INBOX_PREFIX = 'inbox:';

export const toEnvelope = (source: string, e: RecordedEvent): Envelope => ({
  source, streamId: e.streamId, version: e.version, position: e.position.toString(), type: e.type, data: e.data,
});

export function parseEnvelope(value: string): Envelope {
  const v = JSON.parse(value) as Partial<Envelope>;
  if (typeof v.source !== 'string' || typeof v.streamId !== 'string' || typeof v.version !== 'number' || typeof v.type !== 'string') {
    throw new Error('envelope: expected source, streamId, version and type');
  }
  return v as Envelope;
}
