import type { EventData, ServiceDecider } from '@ewx/platform/domain';
import type { RegistryCommand } from './commands.js';
import { evolve } from './evolve.js';
import * as G from './groups.js';
import * as LR from './ledger-rules.js';
import * as O from './operators.js';
import * as P from './payouts.js';
import * as S from './solutions.js';
import { initialState, type RegistryPolicy, type RegistryState } from './state.js';

export type { RegistryCommand } from './commands.js';
export type { RegistryPolicy, RegistryState } from './state.js';

/** decide(command, state) → events: the registry's rules, pure. A refusal throws a DomainError. */
export function decide(c: RegistryCommand, s: RegistryState, policy: RegistryPolicy): EventData[] {
  switch (c.type) {
    case 'Deposit':
      return LR.deposit(c, s, policy);
    case 'Withdraw':
      return LR.withdraw(c, s, policy);
    case 'Transfer':
      return LR.transfer(c, s);
    case 'PlaceHold':
      return LR.placeHold(c, s, policy);
    case 'SignUpRegistrar':
      return G.signUpRegistrar(c, s);
    case 'DeleteRegistrar':
      return G.deleteRegistrar(c, s);
    case 'RegisterGroup':
      return G.registerGroup(c, s);
    case 'RaiseGroupBudget':
      return G.raiseGroupBudget(c, s);
    case 'ChangeGroupRewards':
      return G.changeGroupRewards(c, s);
    case 'UpdateAllowList':
      return G.updateAllowList(c, s);
    case 'DeregisterGroup':
      return G.deregisterGroup(c, s);
    case 'RegisterSolution':
      return S.registerSolution(c, s);
    case 'PauseSolution':
    case 'ActivateSolution':
    case 'EndSolution':
      return S.changeSolutionStatus(c, s);
    case 'NominateWorker':
    case 'UnnominateWorker':
      return S.nomination(c, s);
    case 'Subscribe':
      return O.subscribe(c, s);
    case 'TopUpStake':
      return O.topUpStake(c, s);
    case 'Unsubscribe':
      return O.unsubscribe(c, s);
    case 'ConnectWorker':
      return O.connectWorker(c, s);
    case 'DisconnectWorker':
      return O.disconnectWorker(c, s);
    case 'ClaimRewards':
      return P.claimRewards(c, s);
    case 'ApplyCredit':
      return P.applyCredit(c, s);
    case 'ApplySettlement':
      return LR.applySettlement(c, s);
    case 'SettleGroup':
      return P.settleGroup(c, s);
    default: {
      const never: never = c;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The stream a command appends to (the Kafka key of its events): facts about a group, its
 * solutions and its subscriptions share `group:<ns>` so consumers see them in order; worker
 * connections go to `operator:<operator address>` (whichever side signs), ledger movements to `ledger:<account>`.
 */
export function streamOf(c: RegistryCommand, s: RegistryState): string {
  switch (c.type) {
    case 'Deposit':
    case 'Withdraw':
    case 'PlaceHold':
      return `ledger:${c.account}`;
    case 'Transfer':
    case 'ClaimRewards':
      return `ledger:${c.signer}`;
    case 'ApplySettlement':
      return `ledger:${s.holds.get(c.holdId)?.account ?? 'unknown'}`;
    case 'SignUpRegistrar':
    case 'DeleteRegistrar':
      return `registrar:${c.signer}`;
    case 'RegisterGroup':
      return `group:${c.config.namespace}`;
    case 'RegisterSolution':
      return `group:${c.config.group}`;
    case 'PauseSolution':
    case 'ActivateSolution':
    case 'EndSolution':
    case 'NominateWorker':
    case 'UnnominateWorker':
      return `group:${s.solutions.get(c.solution)?.config.group ?? ''}`;
    case 'ApplyCredit':
      return `group:${s.pendingCredits.get(c.key)?.group ?? ''}`;
    case 'ConnectWorker':
      return `operator:${c.signer}`;
    case 'DisconnectWorker':
      return `operator:${s.workers.get(c.signer) ?? c.signer}`;
    default:
      return `group:${c.group}`;
  }
}

export const registryDecider: ServiceDecider<RegistryState, RegistryCommand, RegistryPolicy> = { initialState, evolve, decide, streamOf };
