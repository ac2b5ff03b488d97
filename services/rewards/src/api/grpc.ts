import { serviceStatus, unary, type GrpcService, type Logger, type Runtime } from '@ewx/platform';
import { RewardsService, type GetAccountViewRequest } from '@ewx/proto/rewards';
import type { RewardsState } from '../domain/decider.js';

const M = '/ewx.v1.Rewards/';

export function rewardsGrpc(runtime: Runtime<RewardsState>, log: Logger): GrpcService {
  return {
    name: 'ewx.v1.Rewards',
    definition: RewardsService,
    implementation: {
      getStatus: unary(M + 'GetStatus', log, serviceStatus(runtime)),
      getAccountView: unary(M + 'GetAccountView', log, async (req: GetAccountViewRequest) => {
        const a = runtime.state().accounts.get(req.address);
        return { address: req.address, deposited: (a?.deposited ?? 0n).toString(), deposits: a?.deposits ?? 0 };
      }),
    },
  };
}
