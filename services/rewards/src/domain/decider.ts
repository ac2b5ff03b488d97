import { blockHeightOf, type Decider, type RecordedEvent } from '@ewx/platform';

/** What rewards has seen of the ledger so far: deposits per account (the foundation's thin slice). */
export interface AccountView {
  deposited: bigint;
  deposits: number;
}

export interface RewardsState {
  height: number;
  readonly accounts: Map<string, AccountView>;
}

export function evolve(s: RewardsState, e: RecordedEvent): RewardsState {
  const h = blockHeightOf(e);
  if (h !== undefined) { s.height = h; return s; }
  if (e.type === 'Deposited') {
    const d = e.data as { account: string; amount: string };
    const a = s.accounts.get(d.account) ?? { deposited: 0n, deposits: 0 };
    a.deposited += BigInt(d.amount);
    a.deposits += 1;
    s.accounts.set(d.account, a);
  }
  return s;
}

export const rewardsDecider: Decider<RewardsState> = { initialState: () => ({ height: 0, accounts: new Map() }), evolve };
