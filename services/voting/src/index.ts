import { availableParallelism } from 'node:os';
import {
  BLOCK_PRODUCED,
  BLOCKS_PRODUCED,
  PUBLISHED,
  consensusAddressFrom,
  deadlinePollMsFrom,
  deadlineWatchFrom,
  type Env,
  type ServiceModule,
} from '@ewx/platform';
import { votingGrpc } from './api/grpc.js';
import { KEPT_FINISHED } from './app/archive.js';
import { followListing, roundListing } from './app/listing.js';
import { votingHeights } from './app/heights.js';
import { partitionSettingsFrom, votingServiceFor } from './app/partitions-service.js';
import { startVotingReactions } from './app/reactions.js';
import { inlineVerifier, threadVerifier } from './app/verifier.js';
import { votingDecider } from './domain/decider.js';
import type { VotingState } from './domain/state.js';

export { votingDecider } from './domain/decider.js';

const R = PUBLISHED.registry;

/**
 * ewx_rounds_overdue: rounds whose deadline block (`endBlock`: votes close at it) has been reached
 * and that are neither settled nor unresolved — still ACTIVE (the close not yet recorded) or closed
 * and waiting for consensus in OFF_CHAIN_VOTE; and the blocks since the oldest one's deadline.
 */
export function overdueRounds(s: VotingState): { rounds: number; oldestBlocks: number } {
  let rounds = 0;
  let oldestBlocks = 0;
  for (const r of s.rounds.values()) {
    if (r.status === 'SETTLED' || r.status === 'UNRESOLVED' || (r.status === 'ACTIVE' && s.height < r.endBlock)) continue;
    rounds++;
    oldestBlocks = Math.max(oldestBlocks, s.height - r.endBlock);
  }
  return { rounds, oldestBlocks };
}

/** While a round is overdue, the blocks between two runs voting asks for (the overdue gauge's step). */
export const OVERDUE_STEP_BLOCKS = 10;

/**
 * Voting's deadline (@ewx/platform deadlineWatch): while a round is overdue (`overdueRounds`: its
 * end block reached, not settled nor unresolved, e.g. validators down), the height
 * `OVERDUE_STEP_BLOCKS` above the recorded one, so the recorded height — and the overdue gauge the
 * alert EwxRoundsStuckInOffChainVote reads — moves at least that often however long consensus's idle
 * runs are (BLOCK_RUN_MAX). None otherwise: a healthy or idle network costs nothing.
 */
export function overdueDeadline(s: VotingState): number | undefined {
  return overdueRounds(s).rounds > 0 ? s.height + OVERDUE_STEP_BLOCKS : undefined;
}

/**
 * VOTE_VERIFY_THREADS: threads that check vote signatures (0: on the gRPC thread). Default: in a
 * standalone process on a machine with more than one core, one thread per core (at most 4); 0 when
 * embedded (the embedded system shares one process with four other services and keeps its idle
 * memory low) or on one core.
 */
const defaultVerifyThreads = (mode: 'embedded' | 'standalone'): number => {
  const cores = availableParallelism();
  return mode === 'standalone' && cores > 1 ? Math.min(cores, 4) : 0;
};
const verifyThreadsFrom = (env: Env, mode: 'embedded' | 'standalone' = 'embedded'): number => env.int('VOTE_VERIFY_THREADS', defaultVerifyThreads(mode), 0, 64);

/** VOTING_KEPT_ROUNDS: finished rounds read back from the log (GetRound, ListRounds) kept for further queries (default 1,000, ≈ 0.5 KB each). */
const keptRoundsFrom = (env: Env): number => env.int('VOTING_KEPT_ROUNDS', KEPT_FINISHED, 1, 10_000_000);

/** Version of voting's fold for snapshots: bump it whenever `evolve` or the state's shape changes. */
// 3: a closed round keeps only its summary (snapshot and votes emptied at the close; submitted, closedTop).
// 4: a closed round's snapshot and votes are one shared empty map; a round's solution and group names (and its starter when the registrar) are the solution view's.
// 5: a finished round (settled, or unresolved with nothing owed) leaves `rounds`: its id and four numbers stay in its solution's index (`bySolution`), the rest is read back from the log.
// 6: a finished round leaves no trace in the state (no index): a decision about it reads its stream's RoundStarted, ListRounds and GetRound the listing projection (app/listing.ts); a round records where its settlement is and whether its retry started.
export const VOTING_STATE_VERSION = 6;

export const votingModule: ServiceModule = {
  name: 'voting',
  protoFile: 'ewx/v1/voting.proto',
  validateConfig(env, ctx) {
    verifyThreadsFrom(env);
    keptRoundsFrom(env);
    partitionSettingsFrom(env, ctx.mode);
    consensusAddressFrom(env);
    deadlinePollMsFrom(env);
  },
  async create(ctx) {
    const log = ctx.log.child({ service: 'voting' });
    // Measured on the quiet 2-core machine (docs/SCALING.md section 4 item 4): 2 threads batched faster than 0.
    const threads = verifyThreadsFrom(ctx.env, ctx.mode);
    const verifier = threads > 0 ? threadVerifier(threads) : inlineVerifier;
    const heights = votingHeights(ctx, log);
    // VOTING_PARTITIONS > 1: solutions split across partition logs, each written by the replica holding its lease (docs/SCALING.md).
    const service = votingServiceFor(
      ctx,
      partitionSettingsFrom(ctx.env, ctx.mode),
    )({
      decider: votingDecider,
      stateVersion: VOTING_STATE_VERSION,
      inbox: {
        consensus: [BLOCK_PRODUCED, BLOCKS_PRODUCED, PUBLISHED.consensus.RoundSettled, PUBLISHED.consensus.RoundUnresolved],
        registry: [
          R.GroupRegistered,
          R.GroupStatusChanged,
          R.SolutionRegistered,
          R.SolutionStatusChanged,
          R.WorkerNominated,
          R.WorkerUnnominated,
          R.OperatorSubscribed,
          R.StakeToppedUp,
          R.OperatorUnsubscribed,
          R.StakeReleased,
          R.WorkerConnected,
          R.WorkerDisconnected,
        ],
        rewards: [PUBLISHED.rewards.RewardPeriodScheduleChanged],
      },
      grpc: (runtime) => [votingGrpc(runtime, log, verifier, heights, { keptRounds: keptRoundsFrom(ctx.env) })],
      reactions: (runtime) => {
        const reactions = startVotingReactions(runtime, log);
        // The round listing (ListRounds, finished rounds) folded in the background: a query folds only what is new.
        const listing = followListing(runtime, roundListing(runtime.store), log);
        const deadlines = deadlineWatchFrom(ctx, runtime, overdueDeadline, log);
        return {
          async stop() {
            await deadlines.stop();
            await listing.stop();
            await reactions.stop();
          },
        };
      },
      gauges: (runtime) => ({ overdue: () => overdueRounds(runtime.state()) }),
    });
    return {
      ...service,
      async stop() {
        await service.stop();
        await verifier.close();
        heights.close();
      },
    };
  },
};
