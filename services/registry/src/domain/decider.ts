import { blockHeightOf, parseAmount, type Decider, type EventData, type RecordedEvent } from '@ewx/platform';
import type { Deposited, RegistryEvent } from './events.js';
import { emptyLedger, mutableBalance, requireAddress, requireAdmin, type LedgerState } from './ledger.js';

export interface RegistryState {
  height: number;
  readonly ledger: LedgerState;
}

export type RegistryCommand =
  | { readonly type: 'Deposit'; readonly signer: string; readonly admin: string; readonly account: string; readonly amount: string };

const event = (e: RegistryEvent): EventData => e as unknown as EventData;

/** decide(command, state) → events: the registry's rules, pure. */
export function decide(command: RegistryCommand, _state: RegistryState): EventData[] {
  switch (command.type) {
    case 'Deposit': {
      const refused = requireAdmin(command.admin, command.signer, 'Deposit');
      if (refused) throw refused;
      const account = requireAddress('account', command.account);
      const amount = parseAmount('amount', command.amount, { positive: true });
      return [event({ type: 'Deposited', data: { account, amount: amount.toString() } })];
    }
    default: {
      const never: never = command.type;
      throw new Error(`unknown command ${String(never)}`);
    }
  }
}

export function evolve(state: RegistryState, e: RecordedEvent): RegistryState {
  const h = blockHeightOf(e);
  if (h !== undefined) { state.height = h; return state; }
  switch (e.type) {
    case 'Deposited': {
      const d = e.data as unknown as Deposited;
      const amount = BigInt(d.amount);
      mutableBalance(state.ledger, d.account).free += amount;
      state.ledger.deposits += amount;
      return state;
    }
    default:
      return state;
  }
}

export const registryDecider: Decider<RegistryState> = {
  initialState: () => ({ height: 0, ledger: emptyLedger() }),
  evolve,
};
