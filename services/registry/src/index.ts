import {
  BLOCK_PRODUCED,
  BLOCKS_PRODUCED,
  ConfigError,
  eventSourcedService,
  isSignerAddress,
  keyPairFromSeed,
  PUBLISHED,
  type Env,
  type ServiceModule,
  heightSyncFrom,
  consensusAddressFrom,
  deadlinePollMsFrom,
  deadlineWatchFrom,
} from '@ewx/platform';
import { registryGrpc } from './api/grpc.js';
import { startReactions } from './app/reactions.js';
import { nextDeadline } from './domain/deadlines.js';
import { registryDecider, type RegistryPolicy } from './domain/decider.js';

export { registryDecider, decide, streamOf } from './domain/decider.js';
export type { RegistryCommand, RegistryPolicy, RegistryState } from './domain/decider.js';
export { TREASURY } from './domain/ledger.js';

/**
 * LEDGER_SERVICE_ACCOUNTS: comma-separated addresses of services allowed to place holds (the admin
 * always may). In the embedded mode every service reads one environment, so the distance service's
 * own key (DISTANCE_SERVICE_KEY) is trusted as well without listing it.
 */
export function policyFrom(env: Env, admin: string, mode: 'embedded' | 'standalone' = 'standalone'): RegistryPolicy {
  const accounts = env.list('LEDGER_SERVICE_ACCOUNTS');
  for (const a of accounts)
    if (!isSignerAddress(a))
      throw new ConfigError(
        'LEDGER_SERVICE_ACCOUNTS',
        'comma-separated ed25519:<64 hex> addresses of keys that can sign (not the treasury, not of small order)',
        a,
      );
  const distanceSeed = mode === 'embedded' ? env.optional('DISTANCE_SERVICE_KEY') : undefined;
  if (distanceSeed !== undefined && /^[0-9a-f]{64}$/i.test(distanceSeed)) accounts.push(keyPairFromSeed(distanceSeed).address);
  return { admin, ledgerServiceAccounts: accounts };
}

/** Version of registry's fold for snapshots: bump it whenever `evolve` or the state's shape changes. */
export const REGISTRY_STATE_VERSION = 1;

export const registryModule: ServiceModule = {
  name: 'registry',
  protoFile: 'ewx/v1/registry.proto',
  validateConfig(env, { admin, mode }) {
    policyFrom(env, admin, mode);
    consensusAddressFrom(env);
    deadlinePollMsFrom(env);
  },
  async create(ctx) {
    const policy = policyFrom(ctx.env, ctx.admin, ctx.mode);
    const log = ctx.log.child({ service: 'registry' });
    const heights = heightSyncFrom(ctx, log);
    const service = eventSourcedService(ctx, 'registry', {
      decider: registryDecider,
      stateVersion: REGISTRY_STATE_VERSION,
      inbox: {
        consensus: [BLOCK_PRODUCED, BLOCKS_PRODUCED],
        rewards: [PUBLISHED.rewards.RewardPeriodScheduleChanged, PUBLISHED.rewards.RewardsComputed],
        distance: [PUBLISHED.distance.EvaluationSettled],
      },
      grpc: (runtime) => [registryGrpc(runtime, policy, log, heights)],
      reactions: (runtime) => {
        const reactions = startReactions(runtime, policy, log);
        // A stake's release and a retiring group's removal fall due at a period's first block, which consensus does not know.
        const deadlines = deadlineWatchFrom(ctx, runtime, nextDeadline, log);
        return {
          async stop() {
            await deadlines.stop();
            await reactions.stop();
          },
        };
      },
      // ewx_group_budget_remaining{group}: what each group not removed still has reserved for rewards.
      gauges: (runtime) => ({
        *budgets() {
          for (const [group, g] of runtime.state().groups) if (g.status !== 'REMOVED') yield [group, g.budget] as const;
        },
      }),
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
