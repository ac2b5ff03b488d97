import { BLOCK_PRODUCED, eventSourcedService, type ServiceModule } from '@ewx/platform';
import { registryGrpc } from './api/grpc.js';
import { registryDecider } from './domain/decider.js';

export { registryDecider } from './domain/decider.js';

export const registryModule: ServiceModule = {
  name: 'registry',
  protoFile: 'ewx/v1/registry.proto',
  async create(ctx) {
    return eventSourcedService(ctx, 'registry', {
      decider: registryDecider,
      inbox: { consensus: [BLOCK_PRODUCED] },
      grpc: (runtime) => [registryGrpc(runtime, ctx.admin, ctx.log)],
    });
  },
};
