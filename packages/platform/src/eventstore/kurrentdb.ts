import { createRequire } from 'node:module';
import type {
  AllStreamResolvedEvent,
  AppendResult as KurrentAppendResult,
  AppendToStreamOptions,
  EventData as KurrentEventData,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { WrongExpectedVersionError } from '../errors.js';
import {
  START,
  comparePositions,
  decodePosition,
  encodePosition,
  parsePosition,
  type AppendResult,
  type EventData,
  type EventStore,
  type ExpectedVersion,
  type Json,
  type LogPosition,
  type RecordedEvent,
} from './types.js';

/**
 * KurrentDB (formerly EventStoreDB) adapter. What it relies on, with KurrentDB's documentation:
 *
 * - **Stream naming.** A service's log is the set of streams named `<category>.<id>` (the port's
 *   stream id after the dot). Checkpoints live in `<category>$checkpoint-<name>`, which the log's
 *   prefix does not match; neither starts with `$`, which KurrentDB reserves for its own streams
 *   ("Metadata and reserved names", docs/server/features/streams.md in kurrent-io/KurrentDB).
 * - **`$all` and filtering.** `readAll` reads `$all` forwards with a server-side stream-name prefix
 *   filter `<category>.` (https://docs.kurrent.io/clients/node/v1.2/reading-events.html, "Read from
 *   $all"; server-side filtering: https://kurrent.io/blog/server-side-filtering).
 *   Events of other categories and system streams (`$…`) are filtered out by the server; the adapter
 *   checks the prefix again.
 * - **Positions.** A `$all` position is the pair (commit, prepare) (same reading-events page: "the
 *   commit position (where the transaction was committed in the log) and the prepare position
 *   (where the transaction was initially prepared)"), ordered by commit, then prepare. The events of
 *   one append can share the commit part and differ by prepare; a reader that keeps only the commit
 *   and resumes with `commit > c` skips the rest of an append cut by its page (KurrentDB issue #627,
 *   https://github.com/kurrent-io/KurrentDB/issues/627; the same hole for filtered subscriptions
 *   resumed from a commit alone: issue #4970 / PR #4975). So an event's LogPosition here is
 *   `<commit>/<prepare>`, exactly as the server gave it, and `readAll(after)` starts the server read
 *   at that very pair and drops every event at or before it: correct whether the server's
 *   `fromPosition` is inclusive or exclusive. Nothing assumes the components are dense or unique.
 * - **Checkpoints** store the serialised pair (`{ position: "<commit>/<prepare>" }`), the last
 *   event of the checkpoint stream being the current one. A bare commit (as an earlier version of
 *   this adapter would have written) is refused with a clear error rather than resumed from.
 * - **Expected versions.** The port's versions are KurrentDB stream revisions (both 0-based):
 *   `-1` → `NO_STREAM`, `n` → revision `n`, `'any'` → `ANY`
 *   (https://docs.kurrent.io/clients/node/v1.2/appending-events.html, "Handling concurrency").
 *   A conflict becomes the port's WrongExpectedVersionError with the actual revision (-1: none).
 * - **GetStatus** reports `positionProgress`, i.e. the commit part: non-decreasing, shared by the
 *   events of one append.
 *
 * Not verified against a server (none can run on the machines this was written on): whether
 * `fromPosition` is inclusive (handled either way); that a filtered `readAll` returns `maxCount`
 * events whenever that many exist past the position (the adapter takes a shorter page for the end
 * of the log, as the port's contract says: the runtime relies on it to know it has caught up); that the append result's position is the last appended event's (the contract suite's first
 * case checks it); that stream reads carry positions (documented for servers after 22.6.0; an event
 * without one is refused loudly); error shapes (`type` of `wrong-expected-version`,
 * `stream-not-found`). The contract suite runs against a server when `KURRENTDB_URL` is set, or
 * through `@testcontainers/kurrentdb` where a Docker engine exists. The paging logic is unit-tested
 * over a fake client yielding the client's `ResolvedEvent` shapes (kurrentdb.test.ts).
 */

/** The part of the KurrentDB client this adapter uses (a `KurrentDBClient` is one; tests pass a fake). */
export interface KurrentClient {
  appendToStream(streamName: string, events: KurrentEventData | KurrentEventData[], options?: AppendToStreamOptions): Promise<KurrentAppendResult>;
  readStream(streamName: string, options?: ReadStreamOptions): AsyncIterableIterator<ResolvedEvent>;
  readAll(options?: ReadAllOptions): AsyncIterableIterator<AllStreamResolvedEvent>;
  dispose(): Promise<void>;
}

/** `<commit>/<prepare>`: the LogPosition of a `$all` position. */
export const kurrentPosition = (p: Position): LogPosition => encodePosition([p.commit, p.prepare]);

/** The `$all` position to read after; refuses anything but a pair (a bare commit cannot be resumed from safely). */
export function kurrentPair(p: LogPosition): Position {
  const c = decodePosition(p);
  if (c.length !== 2) {
    throw new Error(
      `KurrentDB: ${JSON.stringify(p)} is not a $all position (commit/prepare); a commit position alone cannot be resumed from without skipping events (KurrentDB issue #627)`,
    );
  }
  return { commit: c[0]!, prepare: c[1]! };
}

/** The client library, loaded when a KurrentDB store is made (~100 files and a native bridge, which other stores never need). */
const kurrentdb = (): typeof import('@kurrent/kurrentdb-client') =>
  createRequire(import.meta.url)('@kurrent/kurrentdb-client') as typeof import('@kurrent/kurrentdb-client');

export async function kurrentEventStore(url: string, category: string): Promise<EventStore> {
  return kurrentEventStoreOn(kurrentdb().KurrentDBClient.connectionString`${url}`, category);
}

export function kurrentEventStoreOn(client: KurrentClient, category: string): EventStore {
  const { ANY, BACKWARDS, END, FORWARDS, NO_STREAM, START: KURRENT_START, jsonEvent, streamNameFilter } = kurrentdb();
  const prefix = `${category}.`;
  const cpStream = (name: string): string => `${category}$checkpoint-${name}`;
  const waiters = new Set<() => void>();
  const toEvent = (r: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent | undefined => {
    const e = r.event;
    if (!e?.streamId.startsWith(prefix)) return undefined;
    if (!e.position) {
      throw new Error(`KurrentDB returned ${e.streamId}@${e.revision} without a log position (positions on stream reads need a server after 22.6.0)`);
    }
    return {
      streamId: e.streamId.slice(prefix.length),
      version: Number(e.revision),
      position: kurrentPosition(e.position),
      type: e.type,
      data: e.data as Json,
      ...(e.metadata && Object.keys(e.metadata as object).length > 0 ? { metadata: e.metadata as Json } : {}),
    };
  };
  const readStream = async (streamId: string, fromVersion = 0, maxCount?: number): Promise<RecordedEvent[]> => {
    const out: RecordedEvent[] = [];
    try {
      const options: ReadStreamOptions = { fromRevision: BigInt(fromVersion), direction: FORWARDS, ...(maxCount === undefined ? {} : { maxCount }) };
      for await (const r of client.readStream(prefix + streamId, options)) {
        const e = toEvent(r);
        if (e) out.push(e);
      }
    } catch (e) {
      if ((e as { type?: string }).type === 'stream-not-found') return [];
      throw e;
    }
    return out;
  };
  return {
    async append(streamId: string, events: readonly EventData[], expected: ExpectedVersion): Promise<AppendResult> {
      const streamState = expected === 'any' ? ANY : expected === -1 ? NO_STREAM : BigInt(expected);
      let r: KurrentAppendResult;
      try {
        r = await client.appendToStream(
          prefix + streamId,
          events.map((e) => jsonEvent({ type: e.type, data: e.data as never, metadata: (e.metadata ?? {}) as never })),
          { streamState },
        );
      } catch (e) {
        const err = e as { type?: string; actualState?: bigint | string };
        if (err.type === 'wrong-expected-version' || (e as Error).name === 'WrongExpectedVersionError') {
          const actual = typeof err.actualState === 'bigint' ? Number(err.actualState) : -1;
          throw new WrongExpectedVersionError(streamId, expected === 'any' ? -2 : expected, actual);
        }
        throw e;
      }
      for (const w of [...waiters]) w();
      const nextVersion = Number(r.nextExpectedRevision);
      // The position of the last event written; without one in the reply, read that event back.
      // No `written`: KurrentDB does not say what precedes the append in $all, so readers read.
      const lastPosition = r.position ? kurrentPosition(r.position) : (await readStream(streamId, nextVersion))[0]?.position;
      if (lastPosition === undefined) throw new Error(`KurrentDB: appended to ${prefix + streamId} but cannot read back revision ${nextVersion}`);
      return { nextVersion, lastPosition };
    },
    readStream,
    async readAll(after: LogPosition, limit: number): Promise<RecordedEvent[]> {
      const out: RecordedEvent[] = [];
      let from = after;
      while (out.length < limit) {
        // One more than still wanted: the server may return the event at `fromPosition` itself.
        const want = limit - out.length + 1;
        let got = 0;
        let last: LogPosition | undefined;
        for await (const r of client.readAll({
          fromPosition: from === START ? KURRENT_START : kurrentPair(from),
          maxCount: want,
          direction: FORWARDS,
          filter: streamNameFilter({ prefixes: [prefix] }),
        })) {
          got++;
          if (r.event?.position) last = kurrentPosition(r.event.position);
          const e = toEvent(r);
          if (!e || comparePositions(e.position, from) <= 0) continue;
          out.push(e);
          if (out.length >= limit) break;
        }
        // A page shorter than asked is the end of the log; a full one that gave fewer of our events
        // than wanted (the event at `from`, anything the filter let through) is read on from its last.
        if (out.length >= limit || got < want || last === undefined || comparePositions(last, from) <= 0) break;
        from = last;
      }
      return out;
    },
    async getCheckpoint(name: string): Promise<LogPosition> {
      try {
        for await (const r of client.readStream(cpStream(name), { fromRevision: END, direction: BACKWARDS, maxCount: 1 })) {
          const p = parsePosition(String((r.event?.data as { position?: unknown } | undefined)?.position ?? ''));
          if (p !== START) kurrentPair(p);
          return p;
        }
      } catch (e) {
        if ((e as { type?: string }).type === 'stream-not-found') return START;
        throw e;
      }
      return START;
    },
    async saveCheckpoint(name: string, position: LogPosition): Promise<void> {
      if (position !== START) kurrentPair(position);
      await client.appendToStream(cpStream(name), jsonEvent({ type: 'Checkpoint', data: { position } }));
    },
    waitForAppend(ms: number): Promise<void> {
      return new Promise((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, ms);
        waiters.add(done);
      });
    },
    close: () => client.dispose(),
  };
}
