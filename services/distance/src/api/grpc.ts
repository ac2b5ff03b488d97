import { serviceStatus, unary, type GrpcService, type Logger, type Runtime } from '@ewx/platform';
import { DistanceService } from '@ewx/proto/distance';
import type { DistanceState } from '../domain/decider.js';

const M = '/ewx.v1.Distance/';

export function distanceGrpc(runtime: Runtime<DistanceState>, log: Logger): GrpcService {
  return {
    name: 'ewx.v1.Distance',
    definition: DistanceService,
    implementation: {
      getStatus: unary(M + 'GetStatus', log, serviceStatus(runtime)),
    },
  };
}
