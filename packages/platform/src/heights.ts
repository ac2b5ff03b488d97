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
 */
export type RecordCountedBlocks = () => Promise<number>;

/** One validator's answer over gRPC: its recorded height, and whether it records the blocks now (the producer). */
export interface CountedHeight {
  readonly height: number;
  readonly producing: boolean;
}

/**
 * What a command's height sync asks: in process, the producer itself (a height); over gRPC, the
 * validators at CONSENSUS_ADDRESS (an answer saying whether a producer gave it).
 */
export type HeightSource = (() => Promise<number | CountedHeight>) & { close?(): void };

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
): (() => Promise<CountedHeight>) & { close(): void } {
  const client = new ConsensusClient(address, credentials);
  const call = (): Promise<CountedHeight> =>
    new Promise((resolve, reject) => {
      client.recordCountedBlocks(
        {},
        new grpc.Metadata(),
        { deadline: Date.now() + deadlineMs },
        (err: grpc.ServiceError | null, r: RecordCountedBlocksResponse) =>
          err ? reject(new Error(`consensus at ${address}: ${err.details || err.message}`)) : resolve({ height: Number(r.height), producing: r.producing }),
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
): (() => Promise<CountedHeight>) & { close(): void } {
  if (addresses.length === 0) throw new Error('validatorsRecordCountedBlocks: no address');
  const calls = addresses.map((a) => grpcRecordCountedBlocks(a, credentials, deadlineMs));
  /** The place of the validator that answered as the producer last. */
  let last = 0;
  const ask = async (): Promise<CountedHeight> => {
    const errors: string[] = [];
    const answers: CountedHeight[] = [];
    try {
      const first = await calls[last]!();
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
        c().then(
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
    return async () => (calls.recordCountedBlocks ? calls.recordCountedBlocks() : 0);
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
