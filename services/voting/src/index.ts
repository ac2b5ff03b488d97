import { BLOCK_PRODUCED, PUBLISHED, eventSourcedService, type ServiceModule } from '@ewx/platform';
import { votingGrpc } from './api/grpc.js';
import { startVotingReactions } from './app/reactions.js';
import { votingDecider } from './domain/decider.js';

export { votingDecider } from './domain/decider.js';

const R = PUBLISHED.registry;

export const votingModule: ServiceModule = {
  name: 'voting',
  protoFile: 'ewx/v1/voting.proto',
  async create(ctx) {
    const log = ctx.log.child({ service: 'voting' });
    return eventSourcedService(ctx, 'voting', {
      decider: votingDecider,
      inbox: {
        consensus: [BLOCK_PRODUCED, PUBLISHED.consensus.RoundSettled, PUBLISHED.consensus.RoundUnresolved],
        registry: [
          R.GroupRegistered, R.GroupStatusChanged, R.SolutionRegistered, R.SolutionStatusChanged, R.WorkerNominated, R.WorkerUnnominated,
          R.OperatorSubscribed, R.StakeToppedUp, R.OperatorUnsubscribed, R.StakeReleased, R.WorkerConnected, R.WorkerDisconnected,
        ],
        rewards: [PUBLISHED.rewards.RewardPeriodScheduleChanged],
      },
      grpc: (runtime) => [votingGrpc(runtime, log)],
      reactions: (runtime) => startVotingReactions(runtime, log),
    });
  },
};
