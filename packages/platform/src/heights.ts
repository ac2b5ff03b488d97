import * as grpc from '@grpc/grpc-js';
import { ConsensusClient, type RecordCountedBlocksResponse } from '@ewx/proto/consensus';
import type { Env } from './config.js';
import { ConfigError } from './errors.js';
import { channelCredentials, clientTlsFrom } from './grpc/tls.js';
import type { Logger } from './log.js';
import type { Runtime } from './runtime.js';

/**
 * Consensus's RecordCountedBlocks: records the blocks its timer counted but did not record yet
 * (BLOCK_RUN_MAX > 1 records idle blocks in runs) and answers consensus's recorded height.
 * `atLeast` (at_least, a service's own deadline): nothing is recorded while the count is below it,
 * nor once the recorded height reached it; 0 or absent: whatever is counted.
 */
export type RecordCountedBlocks = (atLeast?: number) => Promise<number>;

/** One validator's answer over gRPC: its recorded height, and whether it records the blocks now (the producer). */
export interface CountedHeight {
  readonly height: number;
  readonly producing: boolean;
  /** The height its timer counted in memory (equal to `height` when nothing waits to be recorded). */
  readonly counted?: number;
}

/**
 * What a command's height sync (and a deadline watch, with `atLeast`) asks: in process, the
 * producer itself (a height); over gRPC, the validators at CONSENSUS_ADDRESS (an answer saying
 * whether a producer gave it).
 */
export type HeightSource = ((atLeast?: number) => Promise<number | CountedHeight>) & { close?(): void };

/**
 * Calls between the services of one embedded process, instead of gRPC (the same path: consensus
 * sets what it serves once its clock runs; the others read it at call time).
 */
export interface InProcessCalls {
  recordCountedBlocks?: RecordCountedBlocks | undefined;
}

/** How long a command waits for consensus's answer, then for its inbox to hold that height. */
export const HEIGHT_SYNC_CALL_MS = 2_000;
export const HEIGHT_SYNC_WAIT_MS = 5_000;

/**
 * CONSENSUS_ADDRESS (standalone): host:port of each validator, comma-separated, in place order (the
 * producer at place 0 first), or one host:port; unset: commands read the recorded height as it is.
 */
export function consensusAddressFrom(env: Env): readonly string[] | undefined {
  const raw = env.optional('CONSENSUS_ADDRESS');
  if (raw === undefined) return undefined;
  const list = env.list('CONSENSUS_ADDRESS');
  const rule = 'host:port, or a comma-separated host:port per validator in place order';
  if (list.length === 0) throw new ConfigError('CONSENSUS_ADDRESS', rule, raw);
  for (const a of list) if (!/^[^:\s,]+:\d{1,5}$/.test(a)) throw new ConfigError('CONSENSUS_ADDRESS', rule, a);
  if (new Set(list).size !== list.length) throw new ConfigError('CONSENSUS_ADDRESS', 'distinct addresses (one per validator)', raw);
  return list;
}

/** RecordCountedBlocks of one validator over gRPC (GRPC_CLIENT_TLS… for TLS, as distance → registry). */
export function grpcRecordCountedBlocks(
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  deadlineMs = HEIGHT_SYNC_CALL_MS,
): ((atLeast?: number) => Promise<CountedHeight>) & { close(): void } {
  const client = new ConsensusClient(address, credentials);
  const call = (atLeast = 0): Promise<CountedHeight> =>
    new Promise((resolve, reject) => {
      client.recordCountedBlocks(
        { atLeast: BigInt(atLeast) },
        new grpc.Metadata(),
        { deadline: Date.now() + deadlineMs },
        (err: grpc.ServiceError | null, r: RecordCountedBlocksResponse) =>
          err
            ? reject(new Error(`consensus at ${address}: ${err.details || err.message}`))
            : // A validator before at_least answers no count (0): its height is all it counted.
              resolve({ height: Number(r.height), producing: r.producing, counted: Math.max(Number(r.counted), Number(r.height)) }),
      );
    });
  return Object.assign(call, { close: () => client.close() });
}

/**
 * RecordCountedBlocks of whichever validator produces now, among `addresses` (CONSENSUS_ADDRESS, in
 * place order). Asks first the one that produced last time (at first, place 0: one call while the
 * producer is up); if it does not answer or answers that it does not produce (a standby, or a
 * producer that was replaced by a standby that took over), asks all the others at once and takes the
 * first producer's answer. No producer among those that answered (the producer is down and no
 * standby took over yet): the highest recorded height answered, `producing: false`. None answered:
 * fails (consensus unreachable). At most two call deadlines.
 */
export function validatorsRecordCountedBlocks(
  addresses: readonly string[],
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  deadlineMs = HEIGHT_SYNC_CALL_MS,
): ((atLeast?: number) => Promise<CountedHeight>) & { close(): void } {
  if (addresses.length === 0) throw new Error('validatorsRecordCountedBlocks: no address');
  const calls = addresses.map((a) => grpcRecordCountedBlocks(a, credentials, deadlineMs));
  /** The place of the validator that answered as the producer last. */
  let last = 0;
  const ask = async (atLeast = 0): Promise<CountedHeight> => {
    const errors: string[] = [];
    const answers: CountedHeight[] = [];
    try {
      const first = await calls[last]!(atLeast);
      if (first.producing) return first;
      answers.push(first);
    } catch (e) {
      errors.push((e as Error).message);
    }
    const others = calls.map((c, i) => ({ c, i })).filter(({ i }) => i !== last);
    const producer = await new Promise<CountedHeight | undefined>((resolve) => {
      let left = others.length;
      const done = (): void => {
        if (--left === 0) resolve(undefined);
      };
      if (left === 0) resolve(undefined);
      for (const { c, i } of others)
        c(atLeast).then(
          (r) => {
            if (r.producing) {
              last = i;
              resolve(r);
            } else answers.push(r);
            done();
          },
          (e: Error) => {
            errors.push(e.message);
            done();
          },
        );
    });
    if (producer) return producer;
    if (answers.length === 0) throw new Error(errors.join('; '));
    return { height: Math.max(...answers.map((a) => a.height)), producing: false };
  };
  return Object.assign(ask, {
    close: () => {
      for (const c of calls) c.close();
    },
  });
}

/** Where a service's commands get consensus's counted blocks: in process (embedded), CONSENSUS_ADDRESS, or nowhere. */
export function recordCountedBlocksFrom(ctx: {
  readonly env: Env;
  readonly mode: 'embedded' | 'standalone';
  readonly inProcess?: InProcessCalls;
}): HeightSource | undefined {
  if (ctx.mode === 'embedded' && ctx.inProcess) {
    const calls = ctx.inProcess;
    // Before consensus's clock runs (start-up) or with manual blocks: nothing is counted.
    return async (atLeast?: number) => (calls.recordCountedBlocks ? calls.recordCountedBlocks(atLeast) : 0);
  }
  const addresses = consensusAddressFrom(ctx.env);
  return addresses === undefined ? undefined : validatorsRecordCountedBlocks(addresses, channelCredentials(clientTlsFrom(ctx.env)));
}

export interface HeightSync {
  /**
   * Before a command whose decision reads the current height: asks consensus to record the blocks
   * it counted, then waits until this service's log holds that height (its inbox). Never fails: if
   * consensus is unreachable or the inbox is late, it warns and the command goes on with the height
   * in the log (decisions stay replayable: they read what the log holds).
   */
  sync(runtime: HeightOf): Promise<void>;
  close(): void;
}

/** The part of a service's runtime the sync reads: its height (from its log) and its events. */
export type HeightOf = Pick<Runtime<{ readonly height: number }>, 'state' | 'onEvent'>;

/**
 * The app-layer hook that makes BLOCK_RUN_MAX's lag harmless for commands (docs/SCALING.md, "The
 * clock"): domain code reads the height from the state as always; this only makes sure the state
 * holds the wall-clock height first. One event at most in consensus's log (and one inbox event per
 * service) when blocks were counted, none otherwise.
 */
export function heightSync(record: HeightSource | undefined, log: Logger, opts: { waitMs?: number } = {}): HeightSync {
  const { waitMs = HEIGHT_SYNC_WAIT_MS } = opts;
  /** Consensus unreachable since the last warning (one warning per outage, not one per command). */
  let down = false;
  /** Only standbys answered since the last warning (no validator produces: the producer is down, no standby took over yet). */
  let standbys = false;
  return {
    async sync(runtime) {
      if (record === undefined) return;
      let height: number;
      try {
        const answer = await record();
        const producing = typeof answer === 'number' || answer.producing;
        height = typeof answer === 'number' ? answer : answer.height;
        if (!producing && !standbys)
          log.warn(
            'height sync: no validator at CONSENSUS_ADDRESS produces (only standbys answered: the producer is down and no standby took over yet); the command reads the recorded height',
            { height },
          );
        else if (producing && standbys) log.info('height sync: a validator produces again');
        standbys = !producing;
      } catch (e) {
        if (!down)
          log.warn('height sync: consensus unreachable; the command reads the recorded height (up to BLOCK_RUN_MAX − 1 blocks behind the wall clock)', {
            error: (e as Error).message,
          });
        down = true;
        return;
      }
      if (down) log.info('height sync: consensus answers again');
      down = false;
      if (runtime.state().height >= height) return;
      const reached = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          off();
          resolve(false);
        }, waitMs);
        const off = runtime.onEvent((_e, s) => {
          if (s.height < height) return;
          clearTimeout(timer);
          off();
          resolve(true);
        });
        // The event may have arrived between the answer and the subscription.
        if (runtime.state().height >= height) {
          clearTimeout(timer);
          off();
          resolve(true);
        }
      });
      if (!reached)
        log.warn('height sync: the inbox did not reach consensus height in time; the command reads the recorded height', {
          consensusHeight: height,
          height: runtime.state().height,
          waitMs,
        });
    },
    close: () => record?.close?.(),
  };
}

/** The service's height sync: in process (embedded), over CONSENSUS_ADDRESS, or none (commands read the recorded height). */
export const heightSyncFrom = (ctx: Parameters<typeof recordCountedBlocksFrom>[0], log: Logger): HeightSync => heightSync(recordCountedBlocksFrom(ctx), log);

/** How often a deadline watch looks at its service's next deadline when BLOCK_TIME_MS is not set. */
export const DEADLINE_POLL_MS = 1_000;

/** What a service's next deadline reads: the height its log holds. */
export type DeadlineOf<S extends { readonly height: number }> = (state: S) => number | undefined;

/**
 * What drives a periodic task (a deadline watch, consensus's block timer): injected in tests, the
 * real one is `setInterval` (`intervalTimer`).
 */
export interface WatchTimer {
  /** Calls `tick` every `ms` until the returned function is called. */
  every(ms: number, tick: () => void): () => void;
}

export const intervalTimer: WatchTimer = {
  every(ms, tick) {
    const t = setInterval(tick, ms);
    return () => clearInterval(t);
  },
};

export interface DeadlineWatch {
  /** Stops asking; resolves once no call is in flight. */
  stop(): Promise<void>;
}

/**
 * A service's own deadlines, which consensus does not know (a reward period's close, an evaluation
 * period's settlement): consensus's timer records idle blocks in runs (BLOCK_RUN_MAX), so without
 * this a reaction due at a height would fire only once a run went past it, up to BLOCK_RUN_MAX − 1
 * blocks late. Every `everyMs`, while `next(state)` is a height above the height the service's log
 * holds, asks consensus to record its counted blocks once the count reaches it (RecordCountedBlocks
 * with at_least = that height): consensus answers at once, recording nothing, until its count
 * reaches the deadline, then records the run; the service's reaction then fires from its inbox, as
 * for any block. So an idle stretch costs each log one run per deadline, whatever BLOCK_RUN_MAX.
 *
 * At most one call in flight (a tick meanwhile is skipped). Never throws: a failing source (consensus
 * unreachable) warns once per outage and is asked again at the next tick; a failing `next` too.
 */
export function deadlineWatch<S extends { readonly height: number }>(
  source: HeightSource,
  runtime: Pick<Runtime<S>, 'state'>,
  next: DeadlineOf<S>,
  opts: { readonly everyMs: number; readonly log: Logger; readonly timer?: WatchTimer },
): DeadlineWatch {
  const { everyMs, log, timer = intervalTimer } = opts;
  let inFlight: Promise<void> | undefined;
  /** Consensus unreachable (or `next` failing) since the last warning. */
  let down = false;
  let stopped = false;
  const failed = (what: string, e: unknown): void => {
    if (!down)
      log.warn(`deadline watch: ${what}; asked again next time (a reaction due at a height may fire up to BLOCK_RUN_MAX − 1 blocks late)`, {
        error: (e as Error).message,
      });
    down = true;
  };
  const tick = (): void => {
    if (stopped || inFlight) return;
    let deadline: number | undefined;
    try {
      const s = runtime.state();
      deadline = next(s);
      if (deadline === undefined || deadline <= s.height) return;
    } catch (e) {
      failed('reading the next deadline failed', e);
      return;
    }
    const asked = deadline;
    inFlight = (async () => {
      try {
        await source(asked);
        if (down) log.info('deadline watch: consensus answers again');
        down = false;
      } catch (e) {
        failed('consensus unreachable', e);
      } finally {
        inFlight = undefined;
      }
    })();
  };
  const cancel = timer.every(everyMs, tick);
  return {
    async stop() {
      stopped = true;
      cancel();
      await inFlight;
    },
  };
}

/**
 * BLOCK_TIME_MS as a deadline watch reads it: `manual` (blocks only by command: nothing to watch),
 * milliseconds (10 to 3600000: polled once per block time, as often as the count can move), or unset
 * (DEADLINE_POLL_MS: a standalone service that is not told the block time polls every second).
 */
export const deadlinePollMsFrom = (env: Env): number | 'manual' => blockTimeMsFrom(env, DEADLINE_POLL_MS);

/** BLOCK_TIME_MS: `manual`, or milliseconds from 10 to 3600000; `fallback` when unset (consensus: 6000). */
export function blockTimeMsFrom(env: Env, fallback: number): number | 'manual' {
  const v = env.optional('BLOCK_TIME_MS') ?? String(fallback);
  if (v === 'manual') return 'manual';
  if (!/^\d+$/.test(v) || Number(v) < 10 || Number(v) > 3_600_000) throw new ConfigError('BLOCK_TIME_MS', '`manual` or milliseconds from 10 to 3600000', v);
  return Number(v);
}

/**
 * The service's deadline watch: in process (embedded), over CONSENSUS_ADDRESS (standalone, as its
 * height sync), or none (no CONSENSUS_ADDRESS, or manual blocks: `everyMs` undefined). Polled every
 * BLOCK_TIME_MS (`deadlinePollMsFrom`). Its stop closes its gRPC clients.
 */
export function deadlineWatchFrom<S extends { readonly height: number }>(
  ctx: Parameters<typeof recordCountedBlocksFrom>[0],
  runtime: Pick<Runtime<S>, 'state'>,
  next: DeadlineOf<S>,
  log: Logger,
): DeadlineWatch & { readonly everyMs: number | undefined } {
  const poll = deadlinePollMsFrom(ctx.env);
  const source = poll === 'manual' ? undefined : recordCountedBlocksFrom(ctx);
  if (source === undefined || poll === 'manual') return { everyMs: undefined, stop: async () => {} };
  const watch = deadlineWatch(source, runtime, next, { everyMs: poll, log });
  return {
    everyMs: poll,
    async stop() {
      await watch.stop();
      source.close?.();
    },
  };
}
