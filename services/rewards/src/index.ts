import {
  BLOCK_PRODUCED,
  BLOCKS_PRODUCED,
  PUBLISHED,
  consensusAddressFrom,
  deadlinePollMsFrom,
  deadlineWatchFrom,
  eventSourcedService,
  heightSyncFrom,
  type Env,
  type ServiceModule,
} from '@ewx/platform';
import { rewardsGrpc } from './api/grpc.js';
import { KEPT_ROWS, periodArchive } from './app/archive.js';
import { startPeriodReactions, type PeriodSettings } from './app/periods.js';
import { nextDeadline } from './domain/deadlines.js';
import { rewardsDecider } from './domain/decider.js';

export { rewardsDecider } from './domain/decider.js';

/**
 * REWARD_PERIOD_BLOCKS: length of the first reward periods (default 100; EWX uses about 7200, a day
 * of 12-second blocks); the admin changes it later with SetRewardPeriodLength.
 * REWARDS_SETTLEMENT_DELAY: blocks after a period's last block before it is closed (default 2), so
 * rounds that expire at the period's last block are settled and counted.
 */
export function periodSettingsFrom(env: Env): PeriodSettings {
  return {
    periodBlocks: env.int('REWARD_PERIOD_BLOCKS', 100, 1, 1_000_000),
    settlementDelay: env.int('REWARDS_SETTLEMENT_DELAY', 2, 0, 100_000),
  };
}

/** REWARDS_KEPT_ROWS: rows of closed periods read back from the log kept for further queries (default 100,000). */
export const keptRowsFrom = (env: Env): number => env.int('REWARDS_KEPT_ROWS', KEPT_ROWS, 1, 100_000_000);

const R = PUBLISHED.registry;

/** What rewards records from other services: the clock, vote metadata, and the registry's stakes, groups and claims. */
/** Version of rewards's fold for snapshots: bump it whenever `evolve` or the state's shape changes. */
export const REWARDS_STATE_VERSION = 3;

export const REWARDS_INBOX = {
  consensus: [BLOCK_PRODUCED, BLOCKS_PRODUCED, PUBLISHED.consensus.VoteMetadata],
  registry: [
    R.Deposited,
    R.GroupRegistered,
    R.GroupRewardsChanged,
    R.GroupBudgetChanged,
    R.GroupStatusChanged,
    R.OperatorSubscribed,
    R.StakeToppedUp,
    R.OperatorUnsubscribed,
    R.StakeReleased,
    R.RewardsCredited,
    R.RewardsCreditRefused,
    R.RewardsClaimed,
  ],
} as const;

export const rewardsModule: ServiceModule = {
  name: 'rewards',
  protoFile: 'ewx/v1/rewards.proto',
  validateConfig(env) {
    periodSettingsFrom(env);
    keptRowsFrom(env);
    consensusAddressFrom(env);
    deadlinePollMsFrom(env);
  },
  async create(ctx) {
    const settings = periodSettingsFrom(ctx.env);
    const log = ctx.log.child({ service: 'rewards' });
    // SetRewardPeriodLength reads the height (the new length applies from the next period): the wall-clock height first.
    const heights = heightSyncFrom(ctx, log);
    const service = eventSourcedService(ctx, 'rewards', {
      decider: rewardsDecider,
      stateVersion: REWARDS_STATE_VERSION,
      inbox: REWARDS_INBOX,
      grpc: (runtime) => [rewardsGrpc(runtime, ctx.admin, settings, log, periodArchive(runtime.store, keptRowsFrom(ctx.env)), heights)],
      reactions: (runtime) => {
        const periods = startPeriodReactions(runtime, settings, log);
        // Each period's close is a deadline consensus does not know: asked for when the count reaches it (@ewx/platform deadlineWatch).
        const deadlines = deadlineWatchFrom(ctx, runtime, (s) => nextDeadline(s, settings.settlementDelay), log);
        return {
          async stop() {
            await deadlines.stop();
            await periods.stop();
          },
        };
      },
    });
    return {
      ...service,
      async stop() {
        await service.stop();
        heights.close();
      },
    };
  },
};
