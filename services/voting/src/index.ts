import { BLOCK_PRODUCED, eventSourcedService, type ServiceModule } from '@ewx/platform';
import { votingGrpc } from './api/grpc.js';
import { votingDecider } from './domain/decider.js';

export { votingDecider } from './domain/decider.js';

export const votingModule: ServiceModule = {
  name: 'voting',
  protoFile: 'ewx/v1/voting.proto',
  async create(ctx) {
    return eventSourcedService(ctx, 'voting', {
      decider: votingDecider,
      inbox: { consensus: [BLOCK_PRODUCED] },
      grpc: (runtime) => [votingGrpc(runtime, ctx.log)],
    });
  },
};
