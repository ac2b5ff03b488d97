import { denied, invalid, isAddress, type DomainError } from '@ewx/platform';

/** An account's balances in base units. Unclaimed rewards are counted here so one owner holds all money. */
export interface Balance {
  free: bigint;
  reserved: bigint;
  unclaimed: bigint;
}

export interface LedgerState {
  readonly accounts: Map<string, Balance>;
  deposits: bigint;
  withdrawals: bigint;
}

export const emptyLedger = (): LedgerState => ({ accounts: new Map(), deposits: 0n, withdrawals: 0n });

export const balanceOf = (l: LedgerState, address: string): Balance =>
  l.accounts.get(address) ?? { free: 0n, reserved: 0n, unclaimed: 0n };

export const mutableBalance = (l: LedgerState, address: string): Balance => {
  let b = l.accounts.get(address);
  if (!b) l.accounts.set(address, (b = { free: 0n, reserved: 0n, unclaimed: 0n }));
  return b;
};

export function requireAddress(field: string, v: string): string {
  if (!isAddress(v)) throw invalid(field, `expected an address ed25519:<64 lowercase hex>, got ${JSON.stringify(v)}`);
  return v;
}

export function requireAdmin(admin: string, signer: string, action: string): DomainError | undefined {
  return signer === admin ? undefined : denied(`${action}: only the admin account may do this`);
}
