import { authenticate, serviceStatus, unary, type GrpcService, type Logger, type Runtime } from '@ewx/platform';
import { ConsensusService, ProduceBlocksRequest } from '@ewx/proto/consensus';
import { CHAIN_STREAM } from '../app/clock.js';
import { decide, type ConsensusState } from '../domain/decider.js';

const M = '/ewx.v1.Consensus/';

export function consensusGrpc(runtime: Runtime<ConsensusState>, admin: string, manual: boolean, log: Logger): GrpcService {
  return {
    name: 'ewx.v1.Consensus',
    definition: ConsensusService,
    implementation: {
      getStatus: unary(M + 'GetStatus', log, serviceStatus(runtime)),
      produceBlocks: unary(M + 'ProduceBlocks', log, async (req: ProduceBlocksRequest) => {
        const auth = authenticate(M + 'ProduceBlocks', req, (m) => ProduceBlocksRequest.encode(m).finish());
        await runtime.execute(CHAIN_STREAM, (s) => decide({ type: 'ProduceBlocks', signer: auth.signer, admin, manual, count: req.count }, s), auth);
        return { height: BigInt(runtime.state().height) };
      }),
    },
  };
}
