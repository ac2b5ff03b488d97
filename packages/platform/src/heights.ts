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

/** CONSENSUS_ADDRESS host:port (standalone); unset: commands read the recorded height as it is. */
export function consensusAddressFrom(env: Env): string | undefined {
  const a = env.optional('CONSENSUS_ADDRESS');
  if (a !== undefined && !/^[^:\s]+:\d{1,5}$/.test(a)) throw new ConfigError('CONSENSUS_ADDRESS', 'host:port', a);
  return a;
}

/** RecordCountedBlocks over gRPC (GRPC_CLIENT_TLS… for TLS, as distance → registry). */
export function grpcRecordCountedBlocks(
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  deadlineMs = HEIGHT_SYNC_CALL_MS,
): RecordCountedBlocks & { close(): void } {
  const client = new ConsensusClient(address, credentials);
  const call = (): Promise<number> =>
    new Promise((resolve, reject) => {
      client.recordCountedBlocks(
        {},
        new grpc.Metadata(),
        { deadline: Date.now() + deadlineMs },
        (err: grpc.ServiceError | null, r: RecordCountedBlocksResponse) =>
          err ? reject(new Error(`consensus at ${address}: ${err.details || err.message}`)) : resolve(Number(r.height)),
      );
    });
  return Object.assign(call, { close: () => client.close() });
}

/** Where a service's commands get consensus's counted blocks: in process (embedded), CONSENSUS_ADDRESS, or nowhere. */
export function recordCountedBlocksFrom(ctx: {
  readonly env: Env;
  readonly mode: 'embedded' | 'standalone';
  readonly inProcess?: InProcessCalls;
}): (RecordCountedBlocks & { close?(): void }) | undefined {
  if (ctx.mode === 'embedded' && ctx.inProcess) {
    const calls = ctx.inProcess;
    // Before consensus's clock runs (start-up) or with manual blocks: nothing is counted.
    return async () => (calls.recordCountedBlocks ? calls.recordCountedBlocks() : 0);
  }
  const address = consensusAddressFrom(ctx.env);
  return address === undefined ? undefined : grpcRecordCountedBlocks(address, channelCredentials(clientTlsFrom(ctx.env)));
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
export function heightSync(record: (RecordCountedBlocks & { close?(): void }) | undefined, log: Logger, opts: { waitMs?: number } = {}): HeightSync {
  const { waitMs = HEIGHT_SYNC_WAIT_MS } = opts;
  /** Consensus unreachable since the last warning (one warning per outage, not one per command). */
  let down = false;
  return {
    async sync(runtime) {
      if (record === undefined) return;
      let height: number;
      try {
        height = await record();
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
