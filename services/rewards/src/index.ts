import { BLOCK_PRODUCED, eventSourcedService, type ServiceModule } from '@ewx/platform';
import { rewardsGrpc } from './api/grpc.js';
import { rewardsDecider } from './domain/decider.js';

export { rewardsDecider } from './domain/decider.js';

export const rewardsModule: ServiceModule = {
  name: 'rewards',
  protoFile: 'ewx/v1/rewards.proto',
  async create(ctx) {
    return eventSourcedService(ctx, 'rewards', {
      decider: rewardsDecider,
      inbox: { consensus: [BLOCK_PRODUCED], registry: ['Deposited'] },
      grpc: (runtime) => [rewardsGrpc(runtime, ctx.log)],
    });
  },
};
