import { blockHeightOf } from '../blocks.js';
import { INBOX_PREFIX } from '../envelope.js';
import { invalid, quote } from '../errors.js';
import { comparePositions, parsePosition, START, type EventStore, type LogPosition, type RecordedEvent } from '../eventstore/types.js';
import type { Logger } from '../log.js';
import type { Runtime } from '../runtime.js';
import { serverStream } from './server.js';

/** `ewx.v1.WatchRequest` (common.proto), as ts-proto generates it. */
export interface WatchRequestMessage {
  readonly fromPosition: string;
  readonly types: readonly string[];
  readonly includeInputs: boolean;
}

/** `ewx.v1.WatchEvent` (common.proto), as ts-proto generates it. */
export interface WatchEventMessage {
  position: string;
  streamId: string;
  type: string;
  version: bigint;
  dataJson: string;
  height?: bigint | undefined;
  source: string;
  sourceStreamId: string;
  /** Set by a partitioned voting's merged Watch only: the event's partition and its position there. */
  partition?: number | undefined;
  partitionPosition?: string | undefined;
}

export const MAX_WATCH_TYPES = 64;
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_.]{0,127}$/;
/** Events read from the store per query while catching up. */
const WATCH_BATCH = 500;

export interface WatchQuery {
  readonly from: LogPosition;
  /** Empty: every type. */
  readonly types: ReadonlySet<string>;
  readonly includeInputs: boolean;
}

/** Checks a WatchRequest: INVALID_ARGUMENT naming the field. */
export function watchQueryOf(req: WatchRequestMessage): WatchQuery {
  let from: LogPosition;
  try {
    from = parsePosition(req.fromPosition);
  } catch {
    throw invalid(
      'from_position',
      `${quote(req.fromPosition)} is not a log position: expected "" (the start) or a position received from this service (decimal components joined by '/')`,
    );
  }
  if (req.types.length > MAX_WATCH_TYPES) throw invalid('types', `at most ${MAX_WATCH_TYPES} event types, got ${req.types.length}`);
  req.types.forEach((t, i) => {
    if (!TYPE_NAME.test(t)) throw invalid(`types[${i}]`, `${quote(t)} is not an event type name ([A-Za-z][A-Za-z0-9_.]*, at most 128 characters)`);
  });
  return { from, types: new Set(req.types), includeInputs: req.includeInputs };
}

interface InputMetadata {
  readonly source?: string;
  readonly sourceStream?: string;
}

function toWatchEvent(service: string, e: RecordedEvent, height: bigint | undefined): WatchEventMessage {
  const input = e.streamId.startsWith(INBOX_PREFIX);
  const m = (input ? e.metadata : undefined) as InputMetadata | null | undefined;
  return {
    position: e.position,
    streamId: e.streamId,
    type: e.type,
    version: BigInt(e.version),
    dataJson: JSON.stringify(e.data),
    ...(height === undefined ? {} : { height }),
    source: input ? (m?.source ?? '') : service,
    sourceStreamId: input ? (m?.sourceStream ?? '') : '',
  };
}

/**
 * Most applied events held for one watcher that is live (see followLog): past it, the watcher
 * drops them and reads the store again from the last event it sent.
 */
export const WATCH_MAX_QUEUED = 10_000;

export interface FollowOptions {
  /**
   * `live` (the default): once caught up with the store, serve newly applied events from the
   * runtime's notification without reading the store again. `store`: read the store for every new
   * event (the behaviour before `live`; kept as the baseline of watch.bench.ts).
   */
  readonly mode?: 'live' | 'store';
  /** Bound of a live watcher's queue (default WATCH_MAX_QUEUED). */
  readonly maxQueued?: number;
  /** Events per store read while catching up (default 500). */
  readonly readBatch?: number;
}

/** What one followLog did (tests and the bench read it). */
export interface FollowStats {
  /** `store.readAll` calls made for this watcher. */
  storeReads: number;
  /** Events read from the store (sent or filtered out). */
  fromStore: number;
  /** Events taken from the runtime's notification (sent or filtered out). */
  fromLive: number;
  /** Times the queue went past its bound (or lost track) and the watcher went back to the store. */
  fallbacks: number;
}

/**
 * What followLog reads of a runtime. A reader without a runtime of its own (a replica of a
 * partitioned voting following a partition another replica holds) passes a view of that log: its
 * store, the position known to be applied, a notification when it moves, and no `isLive` (so every
 * event is read from the store, up to `position()`).
 */
export interface FollowedLog<S> extends Pick<Runtime<S>, 'service' | 'position' | 'onEvent' | 'isLive'> {
  readonly store: Pick<EventStore, 'readAll'>;
}

/**
 * Follows a service's log for one Watch call: reads the store from `q.from` in batches, and only
 * up to what the runtime has applied (a client that receives an event can query its effect at
 * once); when caught up, serves the events the runtime applies next from its notification
 * (`onEvent`, which also fires for events other processes sharing the store appended, once the
 * runtime followed them), without reading the store again. No polling. Stops when `signal` aborts
 * or `send` says the stream is over.
 *
 * Hand-over from the store to the notification, by positions: once the runtime is live, the
 * watcher notes `base`, the position applied at that instant, and queues every event applied
 * after it (`onEvent` is called synchronously, in log order, for each applied event of a live
 * runtime). It reads the store up to what is applied until its position reaches `base`, then takes
 * the queue, skipping what the store already gave (positions at or before the last one sent): no
 * event is missed or repeated, events applied while a read was in flight included. A queue past
 * `maxQueued` (a slow client) is dropped, and the watcher starts over from its last sent position
 * with a new `base`: memory stays bounded, the order and positions are the same.
 */
export async function followLog<S>(
  runtime: FollowedLog<S>,
  q: WatchQuery,
  send: (e: WatchEventMessage) => Promise<boolean>,
  signal: AbortSignal,
  opts: FollowOptions = {},
): Promise<FollowStats> {
  const stats: FollowStats = { storeReads: 0, fromStore: 0, fromLive: 0, fallbacks: 0 };
  const useLive = (opts.mode ?? 'live') === 'live' && runtime.isLive !== undefined;
  const maxQueued = Math.max(1, opts.maxQueued ?? WATCH_MAX_QUEUED);
  let pos = q.from;
  let height: bigint | undefined = pos === START ? 0n : undefined;
  let dirty = false;
  let wake: (() => void) | undefined;
  /** While `covering`: `queue[head..]` are exactly the events applied after `base`, in log order. */
  let covering = false;
  let base: LogPosition = START;
  let queue: (RecordedEvent | undefined)[] = [];
  let head = 0;
  let lastQueued: LogPosition = START;
  const drop = (): void => {
    covering = false;
    queue = [];
    head = 0;
    stats.fallbacks++;
  };
  const off = runtime.onEvent((e) => {
    dirty = true;
    if (covering) {
      if (queue.length - head >= maxQueued) drop();
      else {
        queue.push(e);
        lastQueued = e.position;
      }
    }
    wake?.();
  });
  const onAbort = (): void => wake?.();
  signal.addEventListener('abort', onAbort, { once: true });
  /** Moves past one applied event; false when the stream is over. */
  const pass = async (e: RecordedEvent): Promise<boolean> => {
    pos = e.position;
    const h = blockHeightOf(e);
    if (h !== undefined) height = BigInt(h);
    if (!q.includeInputs && e.streamId.startsWith(INBOX_PREFIX)) return true;
    if (q.types.size > 0 && !q.types.has(e.type)) return true;
    return send(toWatchEvent(runtime.service, e, height));
  };
  try {
    while (!signal.aborted) {
      dirty = false;
      if (useLive && !covering && runtime.isLive?.() === true) {
        // Synchronous with the runtime's applies: every event after `base` will be queued.
        covering = true;
        base = runtime.position();
        lastQueued = base;
        queue = [];
        head = 0;
      }
      if (covering && comparePositions(pos, base) >= 0) {
        if (head < queue.length) {
          const e = queue[head]!;
          queue[head++] = undefined;
          if (head > 1024 && head * 2 > queue.length) {
            queue = queue.slice(head);
            head = 0;
          }
          if (comparePositions(e.position, pos) <= 0) continue; // the store already gave it
          stats.fromLive++;
          if (!(await pass(e))) return stats;
          continue;
        }
        queue = [];
        head = 0;
        // Defence: a live runtime's position is the last event it notified; anything else means a
        // notification did not reach this watcher, so read the store again from `pos`.
        if (lastQueued !== runtime.position()) {
          drop();
          continue;
        }
        if (signal.aborted) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
        continue;
      }
      const applied = runtime.position();
      let progressed = false;
      if (comparePositions(pos, applied) < 0) {
        stats.storeReads++;
        const batch = await runtime.store.readAll(pos, opts.readBatch ?? WATCH_BATCH);
        for (const e of batch) {
          if (comparePositions(e.position, applied) > 0) break;
          progressed = true;
          stats.fromStore++;
          if (!(await pass(e))) return stats;
        }
      }
      if (progressed || dirty || signal.aborted) continue;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    off();
    signal.removeEventListener('abort', onAbort);
  }
  return stats;
}

/** The Watch handler every service serves (`watch: watchHandler('/ewx.v1.<Service>/Watch', runtime, log)`). */
export const watchHandler = <S>(method: string, runtime: Runtime<S>, log: Logger, opts: FollowOptions = {}) =>
  serverStream<WatchRequestMessage, WatchEventMessage>(method, log, async (req, out) => {
    const q = watchQueryOf(req);
    await followLog(runtime, q, (e) => out.send(e), out.signal, opts);
  });
