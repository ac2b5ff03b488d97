import { addressField, denied, REGISTRY_TREASURY, type DomainError } from '@ewx/platform/domain';

/**
 * The ledger: free and reserved balances per account plus unclaimed rewards per (operator, group).
 * Stakes, reward budgets and holds are their owner's reserved balance, so each token is counted
 * once; the entities (subscription, group, hold) record how much of it they account for.
 */
export interface Balance {
  free: bigint;
  reserved: bigint;
  /** Sum of the account's unclaimed rewards over all groups. */
  unclaimed: bigint;
}

export interface LedgerState {
  readonly accounts: Map<string, Balance>;
  /** Operator → group → unclaimed rewards. */
  readonly unclaimed: Map<string, Map<string, bigint>>;
  deposits: bigint;
  withdrawals: bigint;
}

/** Where slashes go: a fixed address no one holds a key for (ed25519: and 64 zeros). */
export const TREASURY = REGISTRY_TREASURY;

export const emptyLedger = (): LedgerState => ({ accounts: new Map(), unclaimed: new Map(), deposits: 0n, withdrawals: 0n });

export const balanceOf = (l: LedgerState, address: string): Balance => l.accounts.get(address) ?? { free: 0n, reserved: 0n, unclaimed: 0n };

export const mutableBalance = (l: LedgerState, address: string): Balance => {
  let b = l.accounts.get(address);
  if (!b) {
    b = { free: 0n, reserved: 0n, unclaimed: 0n };
    l.accounts.set(address, b);
  }
  return b;
};

export const unclaimedOf = (l: LedgerState, operator: string, group: string): bigint => l.unclaimed.get(operator)?.get(group) ?? 0n;

/** Σ unclaimed rewards of a group over all operators. */
export function unclaimedInGroup(l: LedgerState, group: string): bigint {
  let t = 0n;
  for (const m of l.unclaimed.values()) t += m.get(group) ?? 0n;
  return t;
}

// ---- movements, used by evolve only: each one balances by itself ----

export function reserve(l: LedgerState, account: string, amount: bigint): void {
  const b = mutableBalance(l, account);
  b.free -= amount;
  b.reserved += amount;
}

export function release(l: LedgerState, account: string, amount: bigint): void {
  const b = mutableBalance(l, account);
  b.reserved -= amount;
  b.free += amount;
}

/** Reserved balance of `account` to the treasury's free balance. */
export function slash(l: LedgerState, account: string, amount: bigint): void {
  mutableBalance(l, account).reserved -= amount;
  mutableBalance(l, TREASURY).free += amount;
}

export function transfer(l: LedgerState, from: string, to: string, amount: bigint): void {
  mutableBalance(l, from).free -= amount;
  mutableBalance(l, to).free += amount;
}

/** Reserved budget of a group's owner to an operator's unclaimed rewards for the group. */
export function payOut(l: LedgerState, owner: string, operator: string, group: string, amount: bigint): void {
  mutableBalance(l, owner).reserved -= amount;
  mutableBalance(l, operator).unclaimed += amount;
  let m = l.unclaimed.get(operator);
  if (!m) {
    m = new Map();
    l.unclaimed.set(operator, m);
  }
  m.set(group, (m.get(group) ?? 0n) + amount);
}

/** Unclaimed rewards for a group to the free balance. */
export function claim(l: LedgerState, operator: string, group: string, amount: bigint): void {
  const b = mutableBalance(l, operator);
  b.unclaimed -= amount;
  b.free += amount;
  const m = l.unclaimed.get(operator);
  if (!m) return;
  const left = (m.get(group) ?? 0n) - amount;
  if (left === 0n) m.delete(group);
  else m.set(group, left);
  if (m.size === 0) l.unclaimed.delete(operator);
}

/** Σ free + reserved + unclaimed over every account, the treasury included. */
export function totalHeld(l: LedgerState): bigint {
  let t = 0n;
  for (const b of l.accounts.values()) t += b.free + b.reserved + b.unclaimed;
  return t;
}

// ---- validation ----

export const requireAddress = addressField;

export function requireAdmin(admin: string, signer: string, action: string): DomainError | undefined {
  return signer === admin ? undefined : denied(`auth.signer: only the admin account may ${action}`);
}
