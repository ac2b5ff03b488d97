import type * as grpc from '@grpc/grpc-js';
import {
  backoff,
  comparePositions,
  followLog,
  invalid,
  parsePosition,
  quote,
  serverStream,
  START,
  watchQueryOf,
  type EventStore,
  type FollowedLog,
  type LogPosition,
  type Logger,
  type WatchEventMessage,
  type WatchRequestMessage,
} from '@ewx/platform';

/**
 * The resume token of a partitioned voting's merged Watch: the position of the last event sent
 * from each partition log, "P<P>:<pos 0>,<pos 1>,…" ("" for a partition nothing was sent from).
 * Never a plain LogPosition (those are decimal components joined by '/'), so a token and a single
 * log's position cannot be mistaken for each other. With P = 1 there is no token: voting has one
 * log and its positions are what they always were.
 */
export function mergedToken(positions: readonly LogPosition[]): string {
  return `P${positions.length}:${positions.join(',')}`;
}

/** The positions a resume token names, one per partition; "" is every partition from its start. INVALID_ARGUMENT on anything else. */
export function positionsOf(token: string, partitions: number): LogPosition[] {
  if (token === '') return Array.from({ length: partitions }, () => START);
  const expected = `expected "" (the start) or a position this voting sent (a WatchEvent's or GetStatus' position: "P${partitions}:" then ${partitions} log positions joined by ',')`;
  const m = /^P([1-9][0-9]*):(.*)$/s.exec(token);
  if (!m)
    throw invalid(
      'from_position',
      `${quote(token)} is not a position of this voting, which is partitioned (VOTING_PARTITIONS=${partitions}) and merges ${partitions} logs: ${expected}`,
    );
  if (Number(m[1]) !== partitions)
    throw invalid('from_position', `${quote(token)} is a position of a voting with ${m[1]} partitions; this one has ${partitions}: ${expected}`);
  const parts = m[2]!.split(',');
  if (parts.length !== partitions) throw invalid('from_position', `${quote(token)} has ${parts.length} positions, not ${partitions}: ${expected}`);
  return parts.map((p, k) => {
    try {
      return parsePosition(p);
    } catch {
      throw invalid('from_position', `${quote(token)}: the position of partition ${k}, ${quote(p)}, is not a log position: ${expected}`);
    }
  });
}

/**
 * The partition whose copies of the inputs (registry's, consensus's and rewards' events recorded
 * by its inbox) a merged Watch with `include_inputs` sends. Every partition log records every
 * input (so each replays alone); the copies in the other logs are skipped, so a watcher gets each
 * input once, from one log in its order, and the resume token stays exact with no state beyond the
 * positions (a skipped copy is passed over like an event of a type not asked for).
 */
export const INPUTS_PARTITION = 0;

/** Resolves after `ms`, or at once when `signal` aborts; never keeps the process alive. */
const pause = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    t.unref();
    signal?.addEventListener('abort', done, { once: true });
  });

/** What the merged Watch needs of the replica: where each partition log runs and how to read it. */
export interface PartitionLogs {
  readonly partitions: number;
  /**
   * Partition k's runtime when it runs here and has replayed its log (applied events are notified
   * live), with a signal aborted when it stops here (given back, lost, or the replica stopping).
   */
  local(k: number): { runtime: FollowedLog<unknown>; gone: AbortSignal } | undefined;
  /** Partition k's log read straight from PostgreSQL (the replicas share the database; a read needs no lease). */
  reader(k: number): Pick<EventStore, 'readAll'>;
  /** The runtime name of partition k ("voting_p<k>"): the `source` of its own events. */
  name(k: number): string;
  /**
   * The position partition k's owner has applied (its own GetStatus, asked of it through the
   * router), undefined while no replica holds it. Events up to it are sent: a query made after one
   * is received reflects it, as with a single log. The owner may hold the question until it has
   * applied an event after `after` (a long poll, up to a few seconds).
   */
  applied(k: number, after: LogPosition): Promise<LogPosition | undefined>;
  /** The pause between two questions that brought nothing new (default 100 ms). */
  readonly pollMs?: number;
  readonly log: Logger;
}

/**
 * A partition held by another replica, watched from here: one poller per partition for all the
 * watchers of this replica, asking the owner every `pollMs` how far it has applied (`bound`, never
 * moving back), and waking the watchers after each answer.
 */
interface Tail {
  bound: LogPosition;
  readonly listeners: Set<() => void>;
  running: boolean;
}

/**
 * Watch of a partitioned voting (VOTING_PARTITIONS > 1) on any replica: the events of every
 * partition log merged into one stream. Each partition is followed on its own, in its log's order:
 * from its runtime when this replica holds it (`followLog`: read up to what is applied, then live
 * from the runtime's notification), otherwise from PostgreSQL up to the position its owner has
 * applied (asked every `pollMs`). When a partition moves (hand-over, take-over, this replica
 * stopping it), its follower starts again from the last event it sent, on the other path: nothing
 * missed or repeated. Inputs (`include_inputs`) are sent from partition INPUTS_PARTITION's log
 * only: once each, not once per partition. Sends are serialised; each event carries its partition, its position in its
 * partition log, and as `position` the resume token after it (`mergedToken`): a watcher that
 * reconnects with it, to any replica, gets exactly the rest of every partition.
 */
export function mergedWatch(o: PartitionLogs): { handler: grpc.handleServerStreamingCall<WatchRequestMessage, WatchEventMessage>; close(): void } {
  const pollMs = Math.max(10, o.pollMs ?? 100);
  const tails = new Map<number, Tail>();
  let closed = false;

  const pollTail = async (k: number, t: Tail): Promise<void> => {
    t.running = true;
    let failures = 0;
    try {
      while (t.listeners.size > 0 && !closed) {
        let wait = pollMs;
        if (o.local(k) === undefined) {
          try {
            const p = await o.applied(k, t.bound);
            // Something new: ask again at once (the owner holds the question until there is more).
            if (p !== undefined && comparePositions(p, t.bound) > 0) {
              t.bound = p;
              wait = 0;
            }
            failures = 0;
          } catch (e) {
            if (failures === 0)
              o.log.warn('watch: the owner of a partition did not say how far it applied; asking again', { partition: k, error: (e as Error).message });
            wait = Math.max(pollMs, backoff(failures++, 100, 1_000));
          }
        }
        for (const l of [...t.listeners]) l();
        if (wait > 0) await pause(wait);
      }
    } finally {
      t.running = false;
    }
  };
  const listen = (k: number, listener: () => void): (() => void) => {
    let t = tails.get(k);
    if (!t) {
      t = { bound: START, listeners: new Set(), running: false };
      tails.set(k, t);
    }
    t.listeners.add(listener);
    if (!t.running) void pollTail(k, t);
    const tail = t;
    return () => {
      tail.listeners.delete(listener);
    };
  };

  const handler = serverStream<WatchRequestMessage, WatchEventMessage>('/ewx.v1.Voting/Watch', o.log, async (req, out) => {
    const positions = positionsOf(req.fromPosition, o.partitions);
    const q = watchQueryOf({ ...req, fromPosition: '' });
    const stop = new AbortController();
    const onOut = (): void => stop.abort();
    out.signal.addEventListener('abort', onOut, { once: true });
    if (out.signal.aborted) stop.abort();
    // One send at a time: the token of an event is every partition's last position sent, this event included.
    let chain: Promise<unknown> = Promise.resolve();
    const emit = (k: number, e: WatchEventMessage): Promise<boolean> => {
      const run = async (): Promise<boolean> => {
        if (stop.signal.aborted) return false;
        positions[k] = e.position as LogPosition;
        // Its own events are voting's (the runtime's name, voting_p<k>, is in `partition` now); inputs keep their source.
        const source = e.source === o.name(k) ? 'voting' : e.source;
        const ok = await out.send({ ...e, source, position: mergedToken(positions), partition: k, partitionPosition: e.position });
        if (!ok) stop.abort();
        return ok;
      };
      const p = chain.then(run);
      chain = p.catch(() => undefined);
      return p;
    };

    const followPartition = async (k: number): Promise<void> => {
      /** The last event sent from partition k, and the block height known at it (carried over a switch of path). */
      let from = positions[k]!;
      let height: bigint | undefined;
      let failures = 0;
      while (!stop.signal.aborted) {
        const here = o.local(k);
        const path = new AbortController();
        const end = (): void => path.abort();
        stop.signal.addEventListener('abort', end, { once: true });
        let view: FollowedLog<unknown>;
        let unlisten = (): void => undefined;
        if (here) {
          here.gone.addEventListener('abort', end, { once: true });
          if (here.gone.aborted) path.abort();
          view = here.runtime;
        } else {
          const notified = new Set<(e: never, s: never) => void>();
          const tail = (): Tail | undefined => tails.get(k);
          unlisten = listen(k, () => {
            // The partition started here: follow its runtime instead (from the last event sent).
            if (o.local(k) !== undefined) path.abort();
            else for (const l of [...notified]) l(undefined as never, undefined as never);
          });
          view = {
            service: o.name(k),
            store: o.reader(k),
            position: () => tail()?.bound ?? START,
            onEvent: (l) => {
              notified.add(l as (e: never, s: never) => void);
              return () => notified.delete(l as (e: never, s: never) => void);
            },
          };
        }
        try {
          await followLog(
            view,
            { ...q, from, includeInputs: q.includeInputs && k === INPUTS_PARTITION },
            async (e) => {
              if (e.height !== undefined) height = e.height;
              else if (height !== undefined) e.height = height;
              const ok = await emit(k, e);
              if (ok) {
                from = e.position as LogPosition;
                failures = 0;
              }
              return ok;
            },
            path.signal,
          );
        } catch (e) {
          if (stop.signal.aborted) break;
          const wait = backoff(failures++);
          o.log.warn('watch: reading a partition log failed; resumed from the last event sent', {
            partition: k,
            position: from,
            retryInMs: wait,
            error: (e as Error).message,
          });
          await pause(wait, stop.signal);
        } finally {
          unlisten();
          stop.signal.removeEventListener('abort', end);
          here?.gone.removeEventListener('abort', end);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: o.partitions }, (_, k) => followPartition(k)));
    } finally {
      out.signal.removeEventListener('abort', onOut);
    }
  });
  return {
    handler,
    close() {
      closed = true;
    },
  };
}
