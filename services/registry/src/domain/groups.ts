import {
  alreadyExists,
  denied,
  invalid,
  nameField,
  noControlChars,
  notFound,
  precondition,
  shown,
  type EventData,
  type GroupConfig,
} from '@ewx/platform/domain';
import type { CommandOf } from './commands.js';
import { registryEvent } from '@ewx/contracts';
import { requireAddress, unclaimedInGroup } from './ledger.js';
import { requireFree } from './ledger-rules.js';
import { latestRewards, requirePeriod, solutionBlocks, type Group, type Registrar, type RegistryState } from './state.js';
import { amountField, BOUNDS, intField, MAX_HEIGHT, namespaceField, percent, positiveAmount, textField } from './validate.js';
import { unsubscribed } from './withdrawal.js';

export function signUpRegistrar(c: CommandOf<'SignUpRegistrar'>, s: RegistryState): EventData[] {
  // Control characters are refused before trimming, which would hide leading and trailing ones.
  const friendlyName = textField('friendly_name', noControlChars('friendly_name', c.friendlyName).trim(), 1, BOUNDS.registrarNameChars);
  const legalLocation = textField('legal_location', noControlChars('legal_location', c.legalLocation).trim(), 2, BOUNDS.locationChars);
  if (s.registrars.has(c.signer)) throw alreadyExists(`auth.signer: registrar ${c.signer}`);
  return [registryEvent({ type: 'RegistrarSignedUp', data: { registrar: c.signer, friendlyName, legalLocation } })];
}

/** A registrar may leave when every group it registered is removed (nothing it owns is left). */
export function deleteRegistrar(c: CommandOf<'DeleteRegistrar'>, s: RegistryState): EventData[] {
  const r = requireRegistrar(s, c.signer, 'DeleteRegistrar');
  const owned = [...r.groups].filter((g) => s.groups.get(g)?.status !== 'REMOVED');
  if (owned.length > 0) throw precondition(`auth.signer: the registrar still owns groups ${owned.join(', ')}; deregister them first`);
  return [registryEvent({ type: 'RegistrarDeleted', data: { registrar: c.signer } })];
}

/** Every configuration field against its bound; the message names the field. */
export function validateGroupConfig(c: GroupConfig, height: number): GroupConfig {
  const minStake = positiveAmount('config.min_stake', c.minStake);
  const maxStake = amountField('config.max_stake', c.maxStake);
  if (maxStake < minStake) throw invalid('config.max_stake', `must be at least config.min_stake (${minStake}), got ${maxStake}`);
  const opStart = intField('config.operation_start_block', c.operationStartBlock, 0, MAX_HEIGHT);
  const opEnd = intField('config.operation_end_block', c.operationEndBlock, 0, MAX_HEIGHT);
  if (opEnd < opStart) throw invalid('config.operation_end_block', `must be at least config.operation_start_block (${opStart}), got ${opEnd}`);
  if (opEnd <= height) throw invalid('config.operation_end_block', `must lie after the current height ${height}, got ${opEnd}`);
  return {
    namespace: namespaceField('config.namespace', c.namespace),
    info: textField('config.info', c.info, 0, BOUNDS.infoChars),
    minStake: minStake.toString(),
    maxStake: maxStake.toString(),
    maxOperators: intField('config.max_operators', c.maxOperators, 1, BOUNDS.maxOperators),
    allowListEnabled: c.allowListEnabled,
    startBlock: intField('config.start_block', c.startBlock, 0, MAX_HEIGHT),
    subscriptionRewardPerBlock: amountField('config.subscription_reward_per_block', c.subscriptionRewardPerBlock).toString(),
    votingRewardPerBlock: amountField('config.voting_reward_per_block', c.votingRewardPerBlock).toString(),
    slaVotingThreshold: percent('config.sla_voting_threshold', c.slaVotingThreshold),
    operationStartBlock: opStart,
    operationEndBlock: opEnd,
    withdrawalDelay: intField('config.withdrawal_delay', c.withdrawalDelay, 1, BOUNDS.withdrawalDelay),
  };
}

function addressList(field: string, list: readonly string[], max: number): string[] {
  if (list.length > max) throw invalid(field, `at most ${max} entries, got ${list.length}`);
  list.forEach((a, i) => {
    requireAddress(`${field}[${i}]`, a);
  });
  return [...new Set(list)];
}

/** The signer's registrar record: the role every group and solution command needs first. */
export function requireRegistrar(s: RegistryState, signer: string, action: string): Registrar {
  const r = s.registrars.get(signer);
  if (!r) throw denied(`auth.signer: only a signed-up registrar may ${action}; ${signer} is none (SignUpRegistrar first)`);
  return r;
}

export function registerGroup(c: CommandOf<'RegisterGroup'>, s: RegistryState): EventData[] {
  requireRegistrar(s, c.signer, 'RegisterGroup');
  const config = validateGroupConfig(c.config, s.height);
  const budget = amountField('budget', c.budget);
  const allowList = addressList('allow_list', c.allowList, BOUNDS.allowListEntries);
  if (s.groups.has(config.namespace)) throw alreadyExists(`config.namespace: solution group ${config.namespace}`);
  requireFree(s, c.signer, budget, 'budget');
  const events = [
    registryEvent({ type: 'GroupRegistered', data: { group: config.namespace, owner: c.signer, config, budget: budget.toString(), height: s.height } }),
  ];
  if (allowList.length > 0)
    events.push(
      registryEvent({ type: 'AllowListChanged', data: { group: config.namespace, enabled: config.allowListEnabled, added: allowList, removed: [] } }),
    );
  return events;
}

/**
 * The group named in `field`, owned by the signer; `action` names the refused command. The role
 * comes first: an account that is no registrar learns nothing about which groups exist.
 */
export function ownedGroup(s: RegistryState, group: string, signer: string, action: string, field = 'group'): Group {
  requireRegistrar(s, signer, action);
  const g = s.groups.get(nameField(field, group));
  if (!g) throw notFound(`${field}: solution group ${shown(group)}`);
  if (g.owner !== signer) throw denied(`auth.signer: only the group's registrar ${g.owner} may ${action}`);
  return g;
}

const requireActive = (g: Group, group: string, action: string): void => {
  if (g.status !== 'ACTIVE') throw precondition(`group: solution group ${group} is ${g.status}; ${action} needs it ACTIVE`);
};

export function raiseGroupBudget(c: CommandOf<'RaiseGroupBudget'>, s: RegistryState): EventData[] {
  const g = ownedGroup(s, c.group, c.signer, 'RaiseGroupBudget');
  const amount = positiveAmount('amount', c.amount);
  requireActive(g, c.group, 'RaiseGroupBudget');
  requireFree(s, c.signer, amount, 'amount');
  return [
    registryEvent({
      type: 'GroupBudgetChanged',
      data: { group: c.group, budget: (g.budget + amount).toString(), reason: 'RAISED', amount: amount.toString() },
    }),
  ];
}

/** Per-block rewards only go up, and count from the next reward period. */
export function changeGroupRewards(c: CommandOf<'ChangeGroupRewards'>, s: RegistryState): EventData[] {
  const g = ownedGroup(s, c.group, c.signer, 'ChangeGroupRewards');
  const sub = amountField('subscription_reward_per_block', c.subscriptionRewardPerBlock);
  const vote = amountField('voting_reward_per_block', c.votingRewardPerBlock);
  const cur = latestRewards(g);
  if (sub < cur.subscription) throw invalid('subscription_reward_per_block', `may only be raised: at least ${cur.subscription}, got ${sub}`);
  if (vote < cur.voting) throw invalid('voting_reward_per_block', `may only be raised: at least ${cur.voting}, got ${vote}`);
  if (sub === cur.subscription && vote === cur.voting)
    throw invalid('subscription_reward_per_block', 'no change: at least one per-block reward must be raised');
  requireActive(g, c.group, 'ChangeGroupRewards');
  const p = requirePeriod(s, 'ChangeGroupRewards');
  return [
    registryEvent({
      type: 'GroupRewardsChanged',
      data: { group: c.group, subscriptionRewardPerBlock: sub.toString(), votingRewardPerBlock: vote.toString(), fromPeriod: p.index + 1 },
    }),
  ];
}

/** Removing an entry does not unsubscribe an operator already in the group. */
export function updateAllowList(c: CommandOf<'UpdateAllowList'>, s: RegistryState): EventData[] {
  const g = ownedGroup(s, c.group, c.signer, 'UpdateAllowList');
  const add = addressList('add', c.add, BOUNDS.listChange).filter((a) => !g.allowList.has(a));
  const remove = addressList('remove', c.remove, BOUNDS.listChange).filter((a) => g.allowList.has(a));
  if (g.status === 'REMOVED') throw precondition(`group: solution group ${c.group} is REMOVED`);
  if (g.allowList.size + add.length - remove.length > BOUNDS.allowListEntries)
    throw invalid('add', `the allow list holds at most ${BOUNDS.allowListEntries} entries`);
  const enabled = c.enabled ?? g.allowListEnabled;
  if (add.length === 0 && remove.length === 0 && enabled === g.allowListEnabled) return [];
  return [registryEvent({ type: 'AllowListChanged', data: { group: c.group, enabled, added: add, removed: remove } })];
}

/** True when no stake, pending withdrawal or unclaimed reward is left in the group. */
export const nothingOwed = (s: RegistryState, group: string, g: Group): boolean =>
  g.subscriptions.size === 0 && unclaimedInGroup(s.ledger, group) === 0n && ![...s.pendingCredits.values()].some((p) => p.group === group);

/**
 * Deregistration: refused while a solution is active (not ended, not expired). With nothing owed
 * the group is removed and its budget returns; otherwise every subscriber still in starts its
 * withdrawal now and the group is retiring until stakes are released and rewards claimed.
 */
export function deregisterGroup(c: CommandOf<'DeregisterGroup'>, s: RegistryState): EventData[] {
  const g = ownedGroup(s, c.group, c.signer, 'DeregisterGroup');
  if (g.status !== 'ACTIVE') throw precondition(`group: solution group ${c.group} is already ${g.status}`);
  const active = [...g.solutions].filter((n) => solutionBlocks(s.solutions.get(n)!, s.height));
  if (active.length > 0) throw precondition(`group: solution group ${c.group} has active solutions ${active.join(', ')}; end them first`);
  if (nothingOwed(s, c.group, g)) return removal(c.group, g);
  const p = requirePeriod(s, 'DeregisterGroup');
  const events: EventData[] = [];
  for (const [operator, sub] of g.subscriptions) {
    if (sub.finalPeriod !== undefined) continue;
    events.push(unsubscribed(c.group, g, operator, p, s.height));
  }
  events.push(registryEvent({ type: 'GroupStatusChanged', data: { group: c.group, status: 'RETIRING' } }));
  return events;
}

/** The rest of the budget back to the registrar, and the group is gone. */
export function removal(group: string, g: Group): EventData[] {
  const events: EventData[] = [];
  if (g.budget > 0n) events.push(registryEvent({ type: 'GroupBudgetChanged', data: { group, budget: '0', reason: 'RETURNED', amount: g.budget.toString() } }));
  events.push(registryEvent({ type: 'GroupStatusChanged', data: { group, status: 'REMOVED' } }));
  return events;
}
