import { alreadyExists, denied, DomainError, invalid, nameField, notFound, precondition, shown, type EventData } from '@ewx/platform/domain';
import type { CommandOf } from './commands.js';
import { registryEvent } from '@ewx/contracts';
import { requireAddress, TREASURY } from './ledger.js';
import { requireFree } from './ledger-rules.js';
import { requirePeriod, type Group, type RegistryState, type Subscription } from './state.js';
import { positiveAmount } from './validate.js';
import { unsubscribed } from './withdrawal.js';

const unauthenticated = (message: string): DomainError => new DomainError('UNAUTHENTICATED', message);

function existingGroup(s: RegistryState, group: string): Group {
  const g = s.groups.get(nameField('group', group));
  if (!g) throw notFound(`group: solution group ${shown(group)}`);
  return g;
}

function openGroup(s: RegistryState, group: string): Group {
  const g = existingGroup(s, group);
  if (g.status !== 'ACTIVE') throw precondition(`group: solution group ${group} is ${g.status}; it takes no new stake`);
  return g;
}

/**
 * The signer's subscription to `group`: the operator role these commands need. An account with no
 * subscription at all is refused before the group is looked up.
 */
function ownSubscription(s: RegistryState, signer: string, group: string, action: string, g: () => Group): { g: Group; sub: Subscription } {
  const role = `auth.signer: only an operator subscribed to the group may ${action}`;
  if (!s.operators.get(signer)?.groups.size) throw denied(`${role}; ${signer} has no subscription`);
  const found = g();
  const sub = found.subscriptions.get(signer);
  if (!sub) throw denied(`${role}; ${signer} is not subscribed to ${group}`);
  return { g: found, sub };
}

/**
 * Locks a stake within the group's bounds; it counts from the next reward period. Refused outside
 * the bounds, when full, when the allow list is on without the operator, or when not active.
 */
export function subscribe(c: CommandOf<'Subscribe'>, s: RegistryState): EventData[] {
  const stake = positiveAmount('stake', c.stake);
  const g = openGroup(s, c.group);
  const min = BigInt(g.config.minStake);
  const max = BigInt(g.config.maxStake);
  if (stake < min || stake > max) throw invalid('stake', `must lie within the group's bounds ${min}..${max}, got ${stake}`);
  if (s.workers.has(c.signer))
    throw precondition(`auth.signer: ${c.signer} serves operator ${s.workers.get(c.signer)} as a worker; a worker account cannot be an operator`);
  const existing = g.subscriptions.get(c.signer);
  if (existing?.finalPeriod !== undefined)
    throw precondition(`group: the stake in ${c.group} is still in withdrawal until period ${existing.finalPeriod} closes`);
  if (existing) throw alreadyExists(`group: subscription of ${c.signer} to ${c.group} (use TopUpStake)`);
  if (s.height < g.config.startBlock)
    throw precondition(`group: solution group ${c.group} takes subscriptions from block ${g.config.startBlock}; now ${s.height}`);
  if (s.height > g.config.operationEndBlock) throw precondition(`group: the operation window of ${c.group} ended at block ${g.config.operationEndBlock}`);
  if (g.allowListEnabled && !g.allowList.has(c.signer)) throw denied(`auth.signer: the allow list of ${c.group} is on and does not hold ${c.signer}`);
  if (g.subscriptions.size >= g.config.maxOperators) throw precondition(`group: solution group ${c.group} is full (${g.config.maxOperators} operators)`);
  const p = requirePeriod(s, 'Subscribe');
  requireFree(s, c.signer, stake, 'stake');
  return [
    registryEvent({
      type: 'OperatorSubscribed',
      data: { group: c.group, operator: c.signer, stake: stake.toString(), activeFromPeriod: p.index + 1, height: s.height },
    }),
  ];
}

export function topUpStake(c: CommandOf<'TopUpStake'>, s: RegistryState): EventData[] {
  const amount = positiveAmount('amount', c.amount);
  const { g, sub } = ownSubscription(s, c.signer, c.group, 'TopUpStake', () => openGroup(s, c.group));
  if (sub.finalPeriod !== undefined) throw precondition(`group: the stake in ${c.group} is in withdrawal`);
  const total = sub.stake + amount;
  const max = BigInt(g.config.maxStake);
  if (total > max) throw invalid('amount', `the stake would be ${total}, above the group's max_stake ${max}`);
  const p = requirePeriod(s, 'TopUpStake');
  requireFree(s, c.signer, amount, 'amount');
  return [
    registryEvent({
      type: 'StakeToppedUp',
      data: { group: c.group, operator: c.signer, amount: amount.toString(), stake: total.toString(), activeFromPeriod: p.index + 1, height: s.height },
    }),
  ];
}

/**
 * Unsubscribing starts the withdrawal (its timing: withdrawal.ts). Works in a retiring group; a
 * second one while pending is refused.
 */
export function unsubscribe(c: CommandOf<'Unsubscribe'>, s: RegistryState): EventData[] {
  const { g, sub } = ownSubscription(s, c.signer, c.group, 'Unsubscribe', () => existingGroup(s, c.group));
  if (sub.finalPeriod !== undefined)
    throw precondition(
      `group: already unsubscribed from ${c.group} in period ${sub.unsubscribedIn}; the stake is released when period ${sub.finalPeriod} closes`,
    );
  const p = requirePeriod(s, 'Unsubscribe');
  return [unsubscribed(c.group, g, c.signer, p, s.height)];
}

/**
 * An operator has one worker; a worker serves one operator; neither is the other role too. The
 * worker account consents by co-signing the command (worker_auth) that names the operator: nobody is
 * made a worker, and so barred from subscribing, by a stranger.
 */
export function connectWorker(c: CommandOf<'ConnectWorker'>, s: RegistryState): EventData[] {
  const worker = requireAddress('worker', c.worker);
  if (worker === c.signer) throw invalid('worker', 'must differ from the operator account');
  if (worker === TREASURY) throw invalid('worker', 'the treasury cannot be a worker');
  if (c.operator === '') throw invalid('operator', `must name the operator the worker consents to serve (${c.signer}, the signer of auth)`);
  if (c.operator !== c.signer)
    throw denied(`operator: the request names ${c.operator}, but ${c.signer} signed it; a consent serves only the operator it names`);
  if (c.consentBy === undefined) throw unauthenticated(`worker_auth: the worker ${worker} must consent by signing this ConnectWorker command too`);
  if (c.consentBy !== worker) throw denied(`worker_auth: signed by ${c.consentBy}, but only the worker ${worker} can consent to serve ${c.signer}`);
  const current = s.operators.get(c.signer)?.worker;
  if (current === worker) throw alreadyExists(`connection of worker ${worker} to ${c.signer}`);
  if (current !== undefined) throw precondition(`ConnectWorker: ${c.signer} already has worker ${current}; disconnect it first`);
  const servedBy = s.workers.get(worker);
  if (servedBy !== undefined) throw precondition(`ConnectWorker: worker ${worker} already serves operator ${servedBy}`);
  if (s.operators.get(worker)?.groups.size || s.operators.get(worker)?.worker)
    throw precondition(`ConnectWorker: ${worker} is an operator; a worker account cannot be one`);
  if (s.workers.has(c.signer)) throw precondition(`ConnectWorker: ${c.signer} is itself a worker of ${s.workers.get(c.signer)}`);
  return [registryEvent({ type: 'WorkerConnected', data: { operator: c.signer, worker, height: s.height } })];
}

/** Either side ends the connection: the operator lets its worker go, or the worker leaves its operator. */
export function disconnectWorker(c: CommandOf<'DisconnectWorker'>, s: RegistryState): EventData[] {
  const operator = s.workers.get(c.signer);
  if (operator !== undefined) return [registryEvent({ type: 'WorkerDisconnected', data: { operator, worker: c.signer, height: s.height } })];
  const worker = s.operators.get(c.signer)?.worker;
  if (worker === undefined)
    throw denied(`auth.signer: only an operator with a connected worker, or a worker serving an operator, may DisconnectWorker; ${c.signer} is neither`);
  return [registryEvent({ type: 'WorkerDisconnected', data: { operator: c.signer, worker, height: s.height } })];
}
