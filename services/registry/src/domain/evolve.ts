import { decodeRegistryLog, unhandled, withEntry } from '@ewx/contracts';
import type { RecordedEvent } from '@ewx/platform/domain';
import * as L from './ledger.js';
import { creditKey, type Operator, type RegistryState } from './state.js';

const operator = (s: RegistryState, address: string): Operator => {
  let o = s.operators.get(address);
  if (!o) {
    o = { groups: new Set() };
    s.operators.set(address, o);
  }
  return o;
};

/** Applies one event. Every ledger movement balances inside its own event. */
export function evolve(s: RegistryState, e: RecordedEvent): RegistryState {
  const ev = decodeRegistryLog(e);
  if (!ev) return s;
  const l = s.ledger;
  switch (ev.type) {
    case 'BlockProduced':
      s.height = ev.data.height;
      break;
    case 'BlocksProduced':
      s.height = ev.data.to;
      break;
    // Inputs from other services, recorded through the inbox.
    case 'RewardPeriodScheduleChanged': {
      const d = ev.data;
      s.schedule = withEntry(s.schedule, { fromPeriod: d.fromPeriod, firstBlock: d.firstBlock, length: d.length });
      break;
    }
    case 'RewardsComputed': {
      const d = ev.data;
      const key = creditKey(d.group, d.rewardPeriod, d.chunk);
      if (!s.creditsDone.has(key) && !s.pendingCredits.has(key)) {
        s.pendingCredits.set(key, { group: d.group, period: d.rewardPeriod, chunk: d.chunk, subtotal: d.subtotal, payouts: d.payouts ?? [] });
      }
      break;
    }
    case 'EvaluationSettled': {
      const d = ev.data;
      if (s.holds.get(d.holdId)?.status === 'HELD') s.pendingSettlements.set(d.holdId, d.outcome === 'INVALID' ? 'SLASH' : 'RELEASE');
      break;
    }
    case 'Deposited': {
      const a = BigInt(ev.data.amount);
      L.mutableBalance(l, ev.data.account).free += a;
      l.deposits += a;
      break;
    }
    case 'Withdrawn': {
      const a = BigInt(ev.data.amount);
      L.mutableBalance(l, ev.data.account).free -= a;
      l.withdrawals += a;
      break;
    }
    case 'Transferred':
      L.transfer(l, ev.data.from, ev.data.to, BigInt(ev.data.amount));
      break;
    case 'HoldPlaced': {
      const d = ev.data;
      L.reserve(l, d.account, BigInt(d.amount));
      s.holds.set(d.holdId, { account: d.account, amount: BigInt(d.amount), purpose: d.purpose, placedBy: d.placedBy, status: 'HELD' });
      break;
    }
    case 'HoldReleased':
    case 'HoldSlashed': {
      const hold = s.holds.get(ev.data.holdId)!;
      if (ev.type === 'HoldReleased') L.release(l, hold.account, hold.amount);
      else L.slash(l, hold.account, hold.amount);
      hold.status = ev.type === 'HoldReleased' ? 'RELEASED' : 'SLASHED';
      s.pendingSettlements.delete(ev.data.holdId);
      break;
    }
    case 'RegistrarSignedUp':
      s.registrars.set(ev.data.registrar, { friendlyName: ev.data.friendlyName, legalLocation: ev.data.legalLocation, groups: new Set() });
      break;
    case 'RegistrarDeleted':
      s.registrars.delete(ev.data.registrar);
      break;
    case 'GroupRegistered': {
      const d = ev.data;
      const budget = BigInt(d.budget);
      L.reserve(l, d.owner, budget);
      s.groups.set(d.group, {
        owner: d.owner,
        config: d.config,
        status: 'ACTIVE',
        budget,
        allowListEnabled: d.config.allowListEnabled,
        allowList: new Set(),
        subscriptions: new Map(),
        solutions: new Set(),
        rewardsChanges: [],
        lastFinalPeriod: -1,
        registeredAt: d.height,
      });
      s.registrars.get(d.owner)?.groups.add(d.group);
      break;
    }
    case 'GroupBudgetChanged': {
      const g = s.groups.get(ev.data.group)!;
      const amount = BigInt(ev.data.amount);
      // PAID moved the money in RewardsCredited already; here only RAISED and RETURNED move it.
      if (ev.data.reason === 'RAISED') L.reserve(l, g.owner, amount);
      if (ev.data.reason === 'RETURNED') L.release(l, g.owner, amount);
      g.budget = BigInt(ev.data.budget);
      break;
    }
    case 'GroupRewardsChanged': {
      const g = s.groups.get(ev.data.group)!;
      const change = {
        fromPeriod: ev.data.fromPeriod,
        subscriptionRewardPerBlock: BigInt(ev.data.subscriptionRewardPerBlock),
        votingRewardPerBlock: BigInt(ev.data.votingRewardPerBlock),
      };
      const keep = g.rewardsChanges.filter((c) => c.fromPeriod < change.fromPeriod);
      g.rewardsChanges.splice(0, g.rewardsChanges.length, ...keep, change);
      break;
    }
    case 'GroupStatusChanged':
      s.groups.get(ev.data.group)!.status = ev.data.status;
      break;
    case 'AllowListChanged': {
      const g = s.groups.get(ev.data.group)!;
      g.allowListEnabled = ev.data.enabled;
      for (const a of ev.data.added) g.allowList.add(a);
      for (const a of ev.data.removed) g.allowList.delete(a);
      break;
    }
    case 'SolutionRegistered': {
      const d = ev.data;
      s.solutions.set(d.solution, { owner: d.owner, config: d.config, status: 'ACTIVE', nominated: new Set(), registeredAt: d.height });
      s.groups.get(d.config.group)?.solutions.add(d.solution);
      break;
    }
    case 'SolutionStatusChanged':
      s.solutions.get(ev.data.solution)!.status = ev.data.status;
      break;
    case 'WorkerNominated':
      s.solutions.get(ev.data.solution)!.nominated.add(ev.data.worker);
      break;
    case 'WorkerUnnominated':
      s.solutions.get(ev.data.solution)!.nominated.delete(ev.data.worker);
      break;
    case 'OperatorSubscribed': {
      const d = ev.data;
      L.reserve(l, d.operator, BigInt(d.stake));
      s.groups.get(d.group)!.subscriptions.set(d.operator, { stake: BigInt(d.stake), activeFromPeriod: d.activeFromPeriod });
      operator(s, d.operator).groups.add(d.group);
      break;
    }
    case 'StakeToppedUp': {
      const d = ev.data;
      L.reserve(l, d.operator, BigInt(d.amount));
      const sub = s.groups.get(d.group)!.subscriptions.get(d.operator)!;
      sub.stake = BigInt(d.stake);
      sub.activeFromPeriod = d.activeFromPeriod;
      break;
    }
    case 'OperatorUnsubscribed': {
      const sub = s.groups.get(ev.data.group)!.subscriptions.get(ev.data.operator)!;
      sub.unsubscribedIn = ev.data.unsubscribedInPeriod;
      sub.finalPeriod = ev.data.finalPeriod;
      break;
    }
    case 'StakeReleased': {
      const d = ev.data;
      const g = s.groups.get(d.group)!;
      L.release(l, d.operator, BigInt(d.amount));
      g.subscriptions.delete(d.operator);
      g.lastFinalPeriod = Math.max(g.lastFinalPeriod, d.finalPeriod);
      s.operators.get(d.operator)?.groups.delete(d.group);
      break;
    }
    case 'WorkerConnected':
      operator(s, ev.data.operator).worker = ev.data.worker;
      s.workers.set(ev.data.worker, ev.data.operator);
      break;
    case 'WorkerDisconnected':
      delete operator(s, ev.data.operator).worker;
      s.workers.delete(ev.data.worker);
      break;
    case 'RewardsCredited': {
      const d = ev.data;
      const g = s.groups.get(d.group)!;
      for (const p of d.payouts) L.payOut(l, g.owner, p.operator, d.group, BigInt(p.amount));
      g.budget -= BigInt(d.total);
      const key = creditKey(d.group, d.rewardPeriod, d.chunk);
      s.pendingCredits.delete(key);
      s.creditsDone.add(key);
      break;
    }
    case 'RewardsCreditRefused': {
      const key = creditKey(ev.data.group, ev.data.rewardPeriod, ev.data.chunk);
      s.pendingCredits.delete(key);
      s.creditsDone.add(key);
      break;
    }
    case 'RewardsClaimed':
      for (const x of ev.data.groups) L.claim(l, ev.data.operator, x.group, BigInt(x.amount));
      break;
    default:
      unhandled(ev);
  }
  return s;
}
