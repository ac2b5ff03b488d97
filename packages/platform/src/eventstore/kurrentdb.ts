import type { ResolvedEvent } from '@kurrent/kurrentdb-client';
import { WrongExpectedVersionError } from '../errors.js';
import type { AppendResult, EventData, EventStore, ExpectedVersion, Json, RecordedEvent } from './types.js';

/**
 * KurrentDB/EventStoreDB adapter. A service's log is the set of streams named `<category>.<id>`,
 * read from $all with a prefix filter; the global position is KurrentDB's commit position.
 * Checkpoints are kept as the last event of stream `<category>.$checkpoint-<name>`.
 */
export async function kurrentEventStore(url: string, category: string): Promise<EventStore> {
  // Loaded only when used: the client takes a second or more to import, which every start of a
  // PostgreSQL-backed process would pay otherwise.
  const { ANY, BACKWARDS, END, FORWARDS, KurrentDBClient, NO_STREAM, START, jsonEvent, streamNameFilter } = await import('@kurrent/kurrentdb-client');
  const client = KurrentDBClient.connectionString`${url}`;
  const prefix = `${category}.`;
  const cpStream = (name: string): string => `${category}$checkpoint-${name}`;
  const waiters = new Set<() => void>();
  const toEvent = (r: ResolvedEvent): RecordedEvent | undefined => {
    const e = r.event;
    if (!e || !e.streamId.startsWith(prefix)) return undefined;
    return {
      streamId: e.streamId.slice(prefix.length),
      version: Number(e.revision),
      position: e.position?.commit ?? 0n,
      type: e.type,
      data: e.data as Json,
      ...(e.metadata && Object.keys(e.metadata as object).length > 0 ? { metadata: e.metadata as Json } : {}),
    };
  };
  return {
    async append(streamId: string, events: readonly EventData[], expected: ExpectedVersion): Promise<AppendResult> {
      const streamState = expected === 'any' ? ANY : expected === -1 ? NO_STREAM : BigInt(expected);
      try {
        const r = await client.appendToStream(prefix + streamId,
          events.map((e) => jsonEvent({ type: e.type, data: e.data as never, metadata: (e.metadata ?? {}) as never })),
          { streamState });
        for (const w of [...waiters]) w();
        return { nextVersion: Number(r.nextExpectedRevision), lastPosition: r.position?.commit ?? 0n };
      } catch (e) {
        const err = e as { type?: string; actualState?: bigint | string };
        if (err.type === 'wrong-expected-version' || (e as Error).name === 'WrongExpectedVersionError') {
          const actual = typeof err.actualState === 'bigint' ? Number(err.actualState) : -1;
          throw new WrongExpectedVersionError(streamId, expected === 'any' ? -2 : expected, actual);
        }
        throw e;
      }
    },
    async readStream(streamId: string, fromVersion = 0): Promise<RecordedEvent[]> {
      const out: RecordedEvent[] = [];
      try {
        for await (const r of client.readStream(prefix + streamId, { fromRevision: BigInt(fromVersion), direction: FORWARDS })) {
          const e = toEvent(r);
          if (e) out.push(e);
        }
      } catch (e) {
        if ((e as { type?: string }).type === 'stream-not-found') return [];
        throw e;
      }
      return out;
    },
    async readAll(after: bigint, limit: number): Promise<RecordedEvent[]> {
      const out: RecordedEvent[] = [];
      const fromPosition = after === 0n ? START : { commit: after, prepare: after };
      for await (const r of client.readAll({ fromPosition, maxCount: limit + 1, direction: FORWARDS,
        filter: streamNameFilter({ prefixes: [prefix] }) })) {
        const e = toEvent(r);
        if (e && e.position > after) out.push(e);
        if (out.length >= limit) break;
      }
      return out;
    },
    async getCheckpoint(name: string): Promise<bigint> {
      try {
        for await (const r of client.readStream(cpStream(name), { fromRevision: END, direction: BACKWARDS, maxCount: 1 })) {
          return BigInt((r.event?.data as { position: string }).position);
        }
      } catch (e) {
        if ((e as { type?: string }).type === 'stream-not-found') return 0n;
        throw e;
      }
      return 0n;
    },
    async saveCheckpoint(name: string, position: bigint): Promise<void> {
      await client.appendToStream(cpStream(name), jsonEvent({ type: 'Checkpoint', data: { position: position.toString() } }));
    },
    waitForAppend(ms: number): Promise<void> {
      return new Promise((resolve) => {
        const done = (): void => { clearTimeout(t); waiters.delete(done); resolve(); };
        const t = setTimeout(done, ms);
        waiters.add(done);
      });
    },
    close: () => client.dispose(),
  };
}
