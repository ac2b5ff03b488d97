import { BLOCK_PRODUCED, PUBLISHED, eventSourcedService, type Env, type ServiceModule } from '@ewx/platform';
import { votingGrpc } from './api/grpc.js';
import { startVotingReactions } from './app/reactions.js';
import { inlineVerifier, threadVerifier } from './app/verifier.js';
import { votingDecider } from './domain/decider.js';

export { votingDecider } from './domain/decider.js';

const R = PUBLISHED.registry;

/** VOTE_VERIFY_THREADS: threads that check vote signatures (default 0: on the gRPC thread). */
const verifyThreadsFrom = (env: Env): number => env.int('VOTE_VERIFY_THREADS', 0, 0, 64);

/** Version of voting's fold for snapshots: bump it whenever `evolve` or the state's shape changes. */
export const VOTING_STATE_VERSION = 2;

export const votingModule: ServiceModule = {
  name: 'voting',
  protoFile: 'ewx/v1/voting.proto',
  validateConfig(env) {
    verifyThreadsFrom(env);
  },
  async create(ctx) {
    const log = ctx.log.child({ service: 'voting' });
    // On the 2-core development machine a verifier thread measured no gain (the client shares the cores).
    const threads = verifyThreadsFrom(ctx.env);
    const verifier = threads > 0 ? threadVerifier(threads) : inlineVerifier;
    const service = eventSourcedService(ctx, 'voting', {
      decider: votingDecider,
      stateVersion: VOTING_STATE_VERSION,
      inbox: {
        consensus: [BLOCK_PRODUCED, PUBLISHED.consensus.RoundSettled, PUBLISHED.consensus.RoundUnresolved],
        registry: [
          R.GroupRegistered, R.GroupStatusChanged, R.SolutionRegistered, R.SolutionStatusChanged, R.WorkerNominated, R.WorkerUnnominated,
          R.OperatorSubscribed, R.StakeToppedUp, R.OperatorUnsubscribed, R.StakeReleased, R.WorkerConnected, R.WorkerDisconnected,
        ],
        rewards: [PUBLISHED.rewards.RewardPeriodScheduleChanged],
      },
      grpc: (runtime) => [votingGrpc(runtime, log, verifier)],
      reactions: (runtime) => startVotingReactions(runtime, log),
    });
    return { ...service, async stop() { await service.stop(); await verifier.close(); } };
  },
};
