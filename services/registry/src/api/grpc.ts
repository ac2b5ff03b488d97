import { authenticate, serviceStatus, unary, type GrpcService, type Logger, type Runtime } from '@ewx/platform';
import { DepositRequest, RegistryService, type Account, type GetAccountRequest } from '@ewx/proto/registry';
import { balanceOf } from '../domain/ledger.js';
import { decide, type RegistryState } from '../domain/decider.js';

const M = '/ewx.v1.Registry/';

export function registryGrpc(runtime: Runtime<RegistryState>, admin: string, log: Logger): GrpcService {
  const account = (address: string): Account => {
    const b = balanceOf(runtime.state().ledger, address);
    return { address, free: b.free.toString(), reserved: b.reserved.toString(), unclaimed: b.unclaimed.toString() };
  };
  return {
    name: 'ewx.v1.Registry',
    definition: RegistryService,
    implementation: {
      getStatus: unary(M + 'GetStatus', log, serviceStatus(runtime)),
      deposit: unary(M + 'Deposit', log, async (req: DepositRequest) => {
        const auth = authenticate(M + 'Deposit', req, (m) => DepositRequest.encode(m).finish());
        await runtime.execute(`ledger:${req.account}`,
          (s) => decide({ type: 'Deposit', signer: auth.signer, admin, account: req.account, amount: req.amount }, s), auth);
        return { account: account(req.account) };
      }),
      getAccount: unary(M + 'GetAccount', log, async (req: GetAccountRequest) => account(req.address)),
    },
  };
}
