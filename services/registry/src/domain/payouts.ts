import { invalid, isAddress, nameField, precondition, type EventData } from '@ewx/platform/domain';
import type { CommandOf } from './commands.js';
import { registryEvent } from '@ewx/contracts';
import { nothingOwed, removal } from './groups.js';
import { unclaimedOf } from './ledger.js';
import { currentPeriod, type PendingCredit, type RegistryState } from './state.js';
import { releaseDue } from './withdrawal.js';

/** Why a RewardsComputed chunk cannot be credited, or undefined when it can. */
function refusal(s: RegistryState, p: PendingCredit): string | undefined {
  const g = s.groups.get(p.group);
  if (!g) return 'unknown group';
  if (g.status === 'REMOVED') return 'the group is removed';
  if (!/^\d{1,40}$/.test(p.subtotal)) return 'malformed subtotal';
  let sum = 0n;
  for (const x of p.payouts) {
    if (!isAddress(x.operator) || !/^\d{1,40}$/.test(x.amount)) return 'malformed payout';
    sum += BigInt(x.amount);
  }
  if (sum !== BigInt(p.subtotal)) return `payouts sum to ${sum}, not the subtotal ${p.subtotal}`;
  if (sum > g.budget) return `the budget ${g.budget} cannot cover ${sum}`;
  return undefined;
}

/**
 * A RewardsComputed chunk: `subtotal` leaves the group's budget into each operator's unclaimed
 * rewards for the group, once per (group, period, chunk). If it cannot be covered (rewards scales
 * shares down first, so this should not happen) nothing moves and an alert is published.
 */
export function applyCredit(c: CommandOf<'ApplyCredit'>, s: RegistryState): EventData[] {
  const p = s.pendingCredits.get(c.key);
  if (!p || s.creditsDone.has(c.key)) return [];
  const why = refusal(s, p);
  const g = s.groups.get(p.group);
  if (why !== undefined) {
    return [
      registryEvent({
        type: 'RewardsCreditRefused',
        data: { group: p.group, rewardPeriod: p.period, chunk: p.chunk, subtotal: p.subtotal, budget: (g?.budget ?? 0n).toString(), reason: why },
      }),
    ];
  }
  const payouts = p.payouts.filter((x) => x.amount !== '0').map((x) => ({ operator: x.operator, amount: BigInt(x.amount).toString() }));
  const total = BigInt(p.subtotal);
  const events = [
    registryEvent({ type: 'RewardsCredited', data: { group: p.group, rewardPeriod: p.period, chunk: p.chunk, total: total.toString(), payouts } }),
  ];
  if (total > 0n)
    events.push(
      registryEvent({ type: 'GroupBudgetChanged', data: { group: p.group, budget: (g!.budget - total).toString(), reason: 'PAID', amount: total.toString() } }),
    );
  return events;
}

/** Unclaimed rewards of the listed groups (all when empty) to the free balance; works for any group status. */
export function claimRewards(c: CommandOf<'ClaimRewards'>, s: RegistryState): EventData[] {
  if (c.groups.length > 1000) throw invalid('groups', `at most 1000 groups per claim, got ${c.groups.length}`);
  c.groups.forEach((g, i) => {
    nameField(`groups[${i}]`, g);
  });
  const groups = c.groups.length > 0 ? [...new Set(c.groups)] : [...(s.ledger.unclaimed.get(c.signer)?.keys() ?? [])].sort();
  const claimed = groups.map((group) => ({ group, amount: unclaimedOf(s.ledger, c.signer, group) })).filter((x) => x.amount > 0n);
  if (claimed.length === 0) throw precondition(`groups: ${c.signer} has no unclaimed rewards${c.groups.length > 0 ? ` in ${groups.join(', ')}` : ''}`);
  return [
    registryEvent({ type: 'RewardsClaimed', data: { operator: c.signer, groups: claimed.map((x) => ({ group: x.group, amount: x.amount.toString() })) } }),
  ];
}

/**
 * The block reaction for one group: release every stake whose final period has closed, then remove
 * a retiring group once nothing is owed and one full period has passed since its last final period
 * (time for the rewards of the last periods to arrive).
 */
export function settleGroup(c: CommandOf<'SettleGroup'>, s: RegistryState): EventData[] {
  const g = s.groups.get(c.group);
  const now = currentPeriod(s);
  if (!g || !now || g.status === 'REMOVED') return [];
  const events: EventData[] = [];
  let left = g.subscriptions.size;
  let lastFinal = g.lastFinalPeriod;
  for (const [operator, sub] of [...g.subscriptions].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (sub.finalPeriod === undefined || !releaseDue(sub, now)) continue;
    events.push(registryEvent({ type: 'StakeReleased', data: { group: c.group, operator, amount: sub.stake.toString(), finalPeriod: sub.finalPeriod } }));
    left--;
    lastFinal = Math.max(lastFinal, sub.finalPeriod);
  }
  if (g.status === 'RETIRING' && left === 0 && now.index > lastFinal + 1) {
    const owedBesidesStakes = !nothingOwed(s, c.group, { ...g, subscriptions: new Map() });
    if (!owedBesidesStakes) events.push(...removal(c.group, g));
  }
  return events;
}

/** Groups the block reaction has work for (due releases or a removable retiring group). */
export function groupsWithDueWork(s: RegistryState): string[] {
  const now = currentPeriod(s);
  if (!now) return [];
  const due: string[] = [];
  for (const [name, g] of s.groups) {
    if (g.status === 'REMOVED') continue;
    const release = [...g.subscriptions.values()].some((x) => releaseDue(x, now));
    if (release || (g.status === 'RETIRING' && g.subscriptions.size === 0)) due.push(name);
  }
  return due;
}
