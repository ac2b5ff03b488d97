import { alreadyExists, denied, invalid, precondition, type EventData } from '@ewx/platform/domain';
import type { CommandOf } from './commands.js';
import { registryEvent } from '@ewx/contracts';
import { balanceOf, requireAddress, requireAdmin, TREASURY } from './ledger.js';
import type { RegistryPolicy, RegistryState } from './state.js';
import { BOUNDS, holdIdField, positiveAmount, textField } from './validate.js';

/** Refuses when `account`'s free balance is below `amount`, saying how much is there. */
export function requireFree(s: RegistryState, account: string, amount: bigint, field: string): void {
  const free = balanceOf(s.ledger, account).free;
  if (free < amount) throw precondition(`${field}: ${amount} exceeds the free balance ${free} of ${account}`);
}

export function deposit(c: CommandOf<'Deposit'>, _s: RegistryState, p: RegistryPolicy): EventData[] {
  const refused = requireAdmin(p.admin, c.signer, 'deposit');
  if (refused) throw refused;
  const account = requireAddress('account', c.account);
  const amount = positiveAmount('amount', c.amount);
  return [registryEvent({ type: 'Deposited', data: { account, amount: amount.toString() } })];
}

export function withdraw(c: CommandOf<'Withdraw'>, s: RegistryState, p: RegistryPolicy): EventData[] {
  const refused = requireAdmin(p.admin, c.signer, 'withdraw');
  if (refused) throw refused;
  const account = requireAddress('account', c.account);
  const amount = positiveAmount('amount', c.amount);
  requireFree(s, account, amount, 'amount');
  return [registryEvent({ type: 'Withdrawn', data: { account, amount: amount.toString() } })];
}

export function transfer(c: CommandOf<'Transfer'>, s: RegistryState): EventData[] {
  const to = requireAddress('to', c.to);
  if (to === c.signer) throw invalid('to', 'must differ from the sender');
  if (to === TREASURY) throw invalid('to', 'the treasury receives slashes only');
  const amount = positiveAmount('amount', c.amount);
  requireFree(s, c.signer, amount, 'amount');
  return [registryEvent({ type: 'Transferred', data: { from: c.signer, to, amount: amount.toString() } })];
}

/**
 * A hold for another service (the distance evaluation price). Same hold id with the same
 * parameters again: accepted, nothing changes; with other parameters: ALREADY_EXISTS.
 */
export function placeHold(c: CommandOf<'PlaceHold'>, s: RegistryState, p: RegistryPolicy): EventData[] {
  if (c.signer !== p.admin && !p.ledgerServiceAccounts.includes(c.signer)) {
    throw denied('auth.signer: only a ledger service account (LEDGER_SERVICE_ACCOUNTS) or the admin may place holds');
  }
  const holdId = holdIdField(c.holdId);
  const account = requireAddress('account', c.account);
  const amount = positiveAmount('amount', c.amount);
  const purpose = textField('purpose', c.purpose, 0, BOUNDS.purposeChars);
  const existing = s.holds.get(holdId);
  if (existing) {
    if (existing.account === account && existing.amount === amount && existing.purpose === purpose) return [];
    throw alreadyExists(`hold_id: hold ${holdId} (for ${existing.account}, amount ${existing.amount}, purpose ${JSON.stringify(existing.purpose)})`);
  }
  requireFree(s, account, amount, 'amount');
  return [registryEvent({ type: 'HoldPlaced', data: { holdId, account, amount: amount.toString(), purpose, placedBy: c.signer } })];
}

/** EvaluationSettled arrived for a hold: release or slash it, once. */
export function applySettlement(c: CommandOf<'ApplySettlement'>, s: RegistryState): EventData[] {
  const outcome = s.pendingSettlements.get(c.holdId);
  const hold = s.holds.get(c.holdId);
  if (outcome === undefined || !hold || hold.status !== 'HELD') return [];
  const base = { holdId: c.holdId, account: hold.account, amount: hold.amount.toString() };
  return outcome === 'RELEASE'
    ? [registryEvent({ type: 'HoldReleased', data: { ...base, reason: 'evaluation settled: VALID or NOT_EVALUATED' } })]
    : [registryEvent({ type: 'HoldSlashed', data: { ...base, treasury: TREASURY, reason: 'evaluation settled: INVALID' } })];
}
