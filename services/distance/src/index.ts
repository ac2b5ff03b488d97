import { BLOCK_PRODUCED, eventSourcedService, type ServiceModule } from '@ewx/platform';
import { distanceGrpc } from './api/grpc.js';
import { distanceDecider } from './domain/decider.js';

export { distanceDecider } from './domain/decider.js';

export const distanceModule: ServiceModule = {
  name: 'distance',
  protoFile: 'ewx/v1/distance.proto',
  async create(ctx) {
    return eventSourcedService(ctx, 'distance', {
      decider: distanceDecider,
      inbox: { consensus: [BLOCK_PRODUCED] },
      grpc: (runtime) => [distanceGrpc(runtime, ctx.log)],
    });
  },
};
