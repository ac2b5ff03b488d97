import { serviceStatus, unary, type GrpcService, type Logger, type Runtime } from '@ewx/platform';
import { VotingService } from '@ewx/proto/voting';
import type { VotingState } from '../domain/decider.js';

const M = '/ewx.v1.Voting/';

export function votingGrpc(runtime: Runtime<VotingState>, log: Logger): GrpcService {
  return {
    name: 'ewx.v1.Voting',
    definition: VotingService,
    implementation: {
      getStatus: unary(M + 'GetStatus', log, serviceStatus(runtime)),
    },
  };
}
