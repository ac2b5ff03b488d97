import { heightSyncFrom, type HeightSync, type Logger, type ServiceContext } from '@ewx/platform';

/**
 * Voting's commands whose decision reads the current height: StartRound (the round's start block,
 * hence its end block = start + max_waiting_threshold, and its reward period). Before one is
 * decided, the blocks consensus's timer counted are recorded and awaited in voting's log
 * (`heightSync`, @ewx/platform), so a round started after an idle stretch counts its voting window
 * from the wall-clock height, not from a recorded height up to BLOCK_RUN_MAX − 1 blocks behind.
 * Votes need nothing: a round's end block is always recorded at its tick (runs are cut there).
 */
export const votingHeights = (ctx: ServiceContext, log: Logger): HeightSync => heightSyncFrom(ctx, log);
