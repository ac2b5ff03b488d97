import {
  blockTimeMsFrom,
  ConfigError,
  PUBLISHED,
  eventSourcedService,
  generateKeyPair,
  isSignerAddress,
  keyPairFromSeed,
  type Env,
  type KeyPair,
  type ServiceModule,
} from '@ewx/platform';
import { consensusGrpc, recordCountedOf } from './api/grpc.js';
import { clockBeatsOf, type ClockBeats } from './app/beats.js';
import { beatTiming, startBlockClock, type BlockClock, type Scheduler } from './app/clock.js';
import { decidedRounds, followDecided } from './app/decided.js';
import { followVoteMetadata, voteMetadataRows } from './app/metadata.js';
import { startValidator } from './app/validator.js';
import { consensusDecider, DEFAULT_ATTESTATION_WINDOW, MAX_ATTESTATION_WINDOW, MAX_BLOCKS_PER_CALL } from './domain/decider.js';

export { consensusDecider } from './domain/decider.js';

/** BLOCK_TIME_MS: milliseconds between blocks (default 6000), or `manual`. */
export const blockTimeFrom = (env: Env): number | 'manual' => blockTimeMsFrom(env, 6000);

/** The longest CLOCK_BEAT_TTL_MS (an hour). */
export const MAX_BEAT_TTL_MS = 3_600_000;

/**
 * CLOCK_BEAT_TTL_MS: how long a validator's beat keeps its place alive (app/beats.ts; a set of more
 * than one validator on PostgreSQL): a standby at place k takes over about this long plus k − 1 beat
 * intervals after the validators before it stopped beating. Default (unset): max(3 block times,
 * 1 s). At least two beat intervals (a beat every max(BLOCK_TIME_MS, 250 ms), rounded up to whole
 * block times), so one late beat does not hand the blocks over.
 */
export function beatTtlFrom(env: Env, blockTime: number | 'manual'): number | undefined {
  const v = env.optional('CLOCK_BEAT_TTL_MS');
  if (v === undefined) return undefined;
  const min = blockTime === 'manual' ? 1 : 2 * beatTiming(blockTime).everyTicks * blockTime;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > MAX_BEAT_TTL_MS)
    throw new ConfigError('CLOCK_BEAT_TTL_MS', `milliseconds from ${min} (two beat intervals at this BLOCK_TIME_MS) to ${MAX_BEAT_TTL_MS}`, v);
  return Number(v);
}

/** BLOCK_RUN_MAX's default in the embedded mode: at most this many blocks per idle run. */
export const EMBEDDED_BLOCK_RUN_MAX = 100;

/**
 * BLOCK_RUN_MAX: with an automatic block time, the timer records the blocks it counted at the latest
 * every this many blocks; earlier at a round's end, when consensus records other work, when a
 * service asks (RecordCountedBlocks) before a command that reads the height or at one of its own
 * deadlines (`at_least`), and at a clean stop (services/consensus/src/app/clock.ts; docs/SCALING.md,
 * "The clock"). Decisions do not depend on it; the heights services report while idle do. Default:
 * embedded, half the reward period (REWARD_PERIOD_BLOCKS, default 100), at most 100 — the page's
 * heights stay fresh —; standalone 1 (one event per tick): raise it once every service has
 * CONSENSUS_ADDRESS listing the validators in place order (deploy/k8s: 7200). With beats (several
 * validators on PostgreSQL) the take-over does not depend on it; without (KurrentDB) it scales with it.
 */
export function blockRunMaxFrom(env: Env, mode: 'embedded' | 'standalone' = 'standalone'): number {
  const period = env.optional('REWARD_PERIOD_BLOCKS');
  const periodBlocks = period !== undefined && /^\d+$/.test(period) ? Number(period) : 100;
  const fallback = mode === 'embedded' ? Math.max(1, Math.min(EMBEDDED_BLOCK_RUN_MAX, Math.floor(periodBlocks / 2))) : 1;
  const v = env.optional('BLOCK_RUN_MAX') ?? String(fallback);
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > MAX_BLOCKS_PER_CALL)
    throw new ConfigError('BLOCK_RUN_MAX', `blocks from 1 to ${MAX_BLOCKS_PER_CALL}`, v);
  return Number(v);
}

export interface ValidatorConfig {
  /** This process's validator key (absent: it observes and attests nothing). */
  readonly key: KeyPair | undefined;
  readonly validators: readonly string[];
  /** Place of this process's validator in the set (0 = the block producer; others stand by), or -1. */
  readonly rank: number;
  /** ATTESTATION_WINDOW_BLOCKS: recorded with the set (a decided round takes late attestations this many blocks). */
  readonly attestationWindow: number;
}

/**
 * ATTESTATION_WINDOW_BLOCKS (default 7200, the same in every consensus process): recorded with the
 * set; a round decided under it takes missing attestations for that many blocks after it ended or
 * was decided, then leaves the state (docs/DEVELOPING.md, "Consensus: the attestation window").
 * VALIDATORS: comma-separated validator addresses (the set, the same in every consensus process);
 * VALIDATOR_KEY: this process's ed25519 seed (64 hex). Neither set: one key generated at start-up
 * and a set of one (the embedded demo). Only the first validator of the set produces blocks, so
 * several consensus processes do not multiply them; the others take over when blocks stop.
 */
export function validatorsFrom(env: Env): ValidatorConfig {
  const seed = env.optional('VALIDATOR_KEY');
  if (seed !== undefined && !/^[0-9a-fA-F]{64}$/.test(seed)) throw new ConfigError('VALIDATOR_KEY', 'an ed25519 seed of 64 hex characters', '(hidden)');
  const listed = env.list('VALIDATORS');
  for (const v of listed)
    if (!isSignerAddress(v))
      throw new ConfigError('VALIDATORS', 'comma-separated ed25519:<64 hex> addresses of keys that can sign (not the treasury, not of small order)', v);
  if (new Set(listed).size !== listed.length) throw new ConfigError('VALIDATORS', 'distinct addresses', listed.join(','));
  const key = seed !== undefined ? keyPairFromSeed(seed.toLowerCase()) : listed.length === 0 ? generateKeyPair() : undefined;
  const validators = listed.length > 0 ? listed : [key!.address];
  const window = env.optional('ATTESTATION_WINDOW_BLOCKS') ?? String(DEFAULT_ATTESTATION_WINDOW);
  if (!/^\d+$/.test(window) || Number(window) < 1 || Number(window) > MAX_ATTESTATION_WINDOW)
    throw new ConfigError('ATTESTATION_WINDOW_BLOCKS', `blocks from 1 to ${MAX_ATTESTATION_WINDOW}`, window);
  return { key, validators, rank: key === undefined ? -1 : validators.indexOf(key.address), attestationWindow: Number(window) };
}

/** Version of consensus's fold for snapshots: bump it whenever `evolve` or the state's shape changes. */
// 2: rounds keep their endBlock (runs of blocks are cut there); 3: votes recorded from VoteCast through the inbox (votes carried once);
// 4: a decided round drops its snapshot, votes and leaves (votesDropped, evaluation);
// 5: the runtime forgets a decided round's inbox marks (finishedInboxStreams): a snapshot of 4 still holds them;
// 6: a decided round that left the state leaves nothing behind (no `archived`, no `ResultChain.at`: the decided-rounds projection, app/decided.ts);
// 7: the attestation window (ValidatorSetConfigured v2): `attestationWindow`, a decided round's `attestationsClose`, which it leaves at;
// 8: vote metadata left the state (no `metadata`: the vote-metadata projection, app/metadata.ts).
export const CONSENSUS_STATE_VERSION = 8;

/** The consensus module; `scheduler` drives the block timer (tests count its ticks; default setInterval). */
export const consensusModuleWith = (opts: { scheduler?: Scheduler } = {}): ServiceModule => ({
  name: 'consensus',
  protoFile: 'ewx/v1/consensus.proto',
  validateConfig(env, { mode }) {
    blockTimeFrom(env);
    blockRunMaxFrom(env, mode);
    validatorsFrom(env);
    beatTtlFrom(env, blockTimeFrom(env));
  },
  async create(ctx) {
    const blockTime = blockTimeFrom(ctx.env);
    const runMax = blockRunMaxFrom(ctx.env, ctx.mode);
    const v = validatorsFrom(ctx.env);
    const beatTtlMs = beatTtlFrom(ctx.env, blockTime);
    const log = ctx.log.child({ service: 'consensus' });
    log.info('validator configuration', {
      validator: v.key?.address ?? '(none: observer)',
      validators: v.validators.length,
      rank: v.rank,
      blockRunMax: runMax,
    });
    const V = PUBLISHED.voting;
    let clock: BlockClock | undefined;
    return eventSourcedService(ctx, 'consensus', {
      decider: consensusDecider,
      stateVersion: CONSENSUS_STATE_VERSION,
      inbox: { voting: [V.RoundStarted, V.RoundSnapshot, V.VoteCast, V.VotesCast, V.RoundClosed] },
      grpc: (runtime) => [
        consensusGrpc(
          runtime,
          ctx.admin,
          blockTime === 'manual',
          log,
          {},
          recordCountedOf(() => clock, runtime, blockTime === 'manual'),
          undefined,
          undefined,
          // GetStatus's counted_height: the producer's count (the wall-clock height), ahead of the recorded one while idle.
          () => (clock?.producing() ? clock.counted() : undefined),
        ),
      ],
      reactions: (runtime) => {
        // Liveness outside the log when there is a standby to take over and the store has SQL (app/beats.ts).
        let beats: ClockBeats | undefined;
        if (blockTime !== 'manual' && v.rank >= 0 && v.validators.length > 1) {
          const sql = clockBeatsOf(runtime.store);
          beats = sql?.beats;
          log.info('block clock liveness', {
            liveness: sql ? `beats in ${sql.schema}.consensus_clock_beats` : 'blocks in the log (no SQL store)',
            rank: v.rank,
            ...(sql ? { beatTtlMs: beatTtlMs ?? beatTiming(blockTime).ttlMs } : {}),
          });
        }
        clock =
          blockTime === 'manual' || v.rank < 0
            ? undefined
            : startBlockClock(runtime, blockTime, log, v.rank, { runMax, beats, validator: v.key?.address, beatTtlMs, ...opts });
        const running = clock;
        // Embedded: the other services call it in process (RecordCountedBlocks without gRPC).
        if (ctx.inProcess && running) ctx.inProcess.recordCountedBlocks = async (atLeast) => (await running.recordCounted(atLeast)).height;
        const validator = startValidator(runtime, v.key, v.validators, log, v.attestationWindow);
        // The decided-rounds projection kept near the log's end, so a query folds only the last moments.
        const projection = followDecided(runtime, decidedRounds(runtime.store), log);
        const metadata = followVoteMetadata(runtime, voteMetadataRows(runtime.store), log);
        return {
          async stop() {
            if (ctx.inProcess) ctx.inProcess.recordCountedBlocks = undefined;
            await clock?.stop();
            await beats?.close();
            await validator.stop();
            await projection.stop();
            await metadata.stop();
          },
        };
      },
    });
  },
});

export const consensusModule: ServiceModule = consensusModuleWith();
