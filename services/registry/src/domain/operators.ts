import { alreadyExists, denied, invalid, notFound, precondition, quote, type EventData } from '@ewx/platform';
import type { CommandOf } from './commands.js';
import { ev } from './events.js';
import { requireAddress, TREASURY } from './ledger.js';
import { requireFree } from './ledger-rules.js';
import { requirePeriod, type Group, type RegistryState } from './state.js';
import { positiveAmount } from './validate.js';

function openGroup(s: RegistryState, group: string, action: string): Group {
  const g = s.groups.get(group);
  if (!g) throw notFound(`solution group ${quote(group)}`);
  if (g.status !== 'ACTIVE') throw precondition(`${action}: solution group ${group} is ${g.status}; it takes no new stake`);
  return g;
}

/**
 * Locks a stake within the group's bounds; it counts from the next reward period. Refused outside
 * the bounds, when full, when the allow list is on without the operator, or when not active.
 */
export function subscribe(c: CommandOf<'Subscribe'>, s: RegistryState): EventData[] {
  const stake = positiveAmount('stake', c.stake);
  const g = openGroup(s, c.group, 'Subscribe');
  const min = BigInt(g.config.minStake);
  const max = BigInt(g.config.maxStake);
  if (stake < min || stake > max) throw invalid('stake', `must lie within the group's bounds ${min}..${max}, got ${stake}`);
  if (s.workers.has(c.signer)) throw precondition(`Subscribe: ${c.signer} serves operator ${s.workers.get(c.signer)} as a worker; a worker account cannot be an operator`);
  const existing = g.subscriptions.get(c.signer);
  if (existing?.finalPeriod !== undefined) throw precondition(`Subscribe: the stake in ${c.group} is still in withdrawal until period ${existing.finalPeriod} closes`);
  if (existing) throw alreadyExists(`subscription of ${c.signer} to ${c.group} (use TopUpStake)`);
  if (s.height < g.config.startBlock) throw precondition(`Subscribe: solution group ${c.group} takes subscriptions from block ${g.config.startBlock}; now ${s.height}`);
  if (s.height > g.config.operationEndBlock) throw precondition(`Subscribe: the operation window of ${c.group} ended at block ${g.config.operationEndBlock}`);
  if (g.allowListEnabled && !g.allowList.has(c.signer)) throw denied(`Subscribe: the allow list of ${c.group} is on and does not hold ${c.signer}`);
  if (g.subscriptions.size >= g.config.maxOperators) throw precondition(`Subscribe: solution group ${c.group} is full (${g.config.maxOperators} operators)`);
  const p = requirePeriod(s, 'Subscribe');
  requireFree(s, c.signer, stake, 'stake');
  return [ev('OperatorSubscribed', { group: c.group, operator: c.signer, stake: stake.toString(), activeFromPeriod: p.index + 1, height: s.height })];
}

export function topUpStake(c: CommandOf<'TopUpStake'>, s: RegistryState): EventData[] {
  const amount = positiveAmount('amount', c.amount);
  const g = openGroup(s, c.group, 'TopUpStake');
  const sub = g.subscriptions.get(c.signer);
  if (!sub) throw notFound(`subscription of ${c.signer} to ${c.group}`);
  if (sub.finalPeriod !== undefined) throw precondition(`TopUpStake: the stake in ${c.group} is in withdrawal`);
  const total = sub.stake + amount;
  const max = BigInt(g.config.maxStake);
  if (total > max) throw invalid('amount', `the stake would be ${total}, above the group's max_stake ${max}`);
  const p = requirePeriod(s, 'TopUpStake');
  requireFree(s, c.signer, amount, 'amount');
  return [ev('StakeToppedUp', { group: c.group, operator: c.signer, amount: amount.toString(), stake: total.toString(), activeFromPeriod: p.index + 1, height: s.height })];
}

/**
 * Unsubscribing in period p with delay d: votes and earns through p+d−1, and the stake is released
 * when period p+d closes. Works in a retiring group; a second one while pending is refused.
 */
export function unsubscribe(c: CommandOf<'Unsubscribe'>, s: RegistryState): EventData[] {
  const g = s.groups.get(c.group);
  if (!g) throw notFound(`solution group ${quote(c.group)}`);
  const sub = g.subscriptions.get(c.signer);
  if (!sub) throw notFound(`subscription of ${c.signer} to ${c.group}`);
  if (sub.finalPeriod !== undefined) throw precondition(`Unsubscribe: already unsubscribed from ${c.group} in period ${sub.unsubscribedIn}; the stake is released when period ${sub.finalPeriod} closes`);
  const p = requirePeriod(s, 'Unsubscribe');
  return [ev('OperatorUnsubscribed', { group: c.group, operator: c.signer, period: p.index, finalPeriod: p.index + g.config.withdrawalDelay, height: s.height })];
}

/** An operator has one worker; a worker serves one operator; neither is the other role too. */
export function connectWorker(c: CommandOf<'ConnectWorker'>, s: RegistryState): EventData[] {
  const worker = requireAddress('worker', c.worker);
  if (worker === c.signer) throw invalid('worker', 'must differ from the operator account');
  if (worker === TREASURY) throw invalid('worker', 'the treasury cannot be a worker');
  const current = s.operators.get(c.signer)?.worker;
  if (current === worker) throw alreadyExists(`connection of worker ${worker} to ${c.signer}`);
  if (current !== undefined) throw precondition(`ConnectWorker: ${c.signer} already has worker ${current}; disconnect it first`);
  const servedBy = s.workers.get(worker);
  if (servedBy !== undefined) throw precondition(`ConnectWorker: worker ${worker} already serves operator ${servedBy}`);
  if (s.operators.get(worker)?.groups.size || s.operators.get(worker)?.worker) throw precondition(`ConnectWorker: ${worker} is an operator; a worker account cannot be one`);
  if (s.workers.has(c.signer)) throw precondition(`ConnectWorker: ${c.signer} is itself a worker of ${s.workers.get(c.signer)}`);
  return [ev('WorkerConnected', { operator: c.signer, worker, height: s.height })];
}

export function disconnectWorker(c: CommandOf<'DisconnectWorker'>, s: RegistryState): EventData[] {
  const worker = s.operators.get(c.signer)?.worker;
  if (worker === undefined) throw notFound(`worker of operator ${c.signer}`);
  return [ev('WorkerDisconnected', { operator: c.signer, worker, height: s.height })];
}
