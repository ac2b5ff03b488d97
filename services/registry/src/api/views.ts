import { heightOf, invalid, pagedByKey, type GroupConfig as GroupConfigData, type SolutionConfig as SolutionConfigData } from '@ewx/platform';
import {
  GroupStatus as GroupStatusMsg,
  HoldStatus as HoldStatusMsg,
  SolutionStatus as SolutionStatusMsg,
  type Account,
  type Group,
  type GroupConfig,
  type Hold,
  type Operator,
  type Registrar,
  type Solution,
  type SolutionConfig,
  type Subscription,
  type Worker,
} from '@ewx/proto/registry';
import type { PageInfo, PageRequest } from '@ewx/proto/common';
import { balanceOf } from '../domain/ledger.js';
import { solutionStatusAt, type GroupStatus, type HoldStatus, type RegistryState, type SolutionStatus } from '../domain/state.js';

/** Wire ↔ domain mapping for the registry's gRPC API; no rules here. */

/** The domain's status names as the wire's enums (the deprecated string fields keep the names). */
export const HOLD_STATUS: Record<HoldStatus, HoldStatusMsg> = {
  HELD: HoldStatusMsg.HOLD_STATUS_HELD,
  RELEASED: HoldStatusMsg.HOLD_STATUS_RELEASED,
  SLASHED: HoldStatusMsg.HOLD_STATUS_SLASHED,
};
export const GROUP_STATUS: Record<GroupStatus, GroupStatusMsg> = {
  ACTIVE: GroupStatusMsg.GROUP_STATUS_ACTIVE,
  RETIRING: GroupStatusMsg.GROUP_STATUS_RETIRING,
  REMOVED: GroupStatusMsg.GROUP_STATUS_REMOVED,
};
export const SOLUTION_STATUS: Record<SolutionStatus | 'EXPIRED', SolutionStatusMsg> = {
  ACTIVE: SolutionStatusMsg.SOLUTION_STATUS_ACTIVE,
  PAUSED: SolutionStatusMsg.SOLUTION_STATUS_PAUSED,
  ENDED: SolutionStatusMsg.SOLUTION_STATUS_ENDED,
  EXPIRED: SolutionStatusMsg.SOLUTION_STATUS_EXPIRED,
};

export const groupConfigIn = (c: GroupConfig | undefined): GroupConfigData => {
  if (!c) throw invalid('config', 'required');
  return {
    namespace: c.namespace,
    info: c.info,
    minStake: c.minStake,
    maxStake: c.maxStake,
    maxOperators: c.maxOperators,
    allowListEnabled: c.allowListEnabled,
    startBlock: heightOf('config.start_block', c.startBlock),
    subscriptionRewardPerBlock: c.subscriptionRewardPerBlock,
    votingRewardPerBlock: c.votingRewardPerBlock,
    slaVotingThreshold: c.slaVotingThreshold,
    operationStartBlock: heightOf('config.operation_start_block', c.operationStartBlock),
    operationEndBlock: heightOf('config.operation_end_block', c.operationEndBlock),
    withdrawalDelay: c.withdrawalDelay,
  };
};

const groupConfigOut = (c: GroupConfigData): GroupConfig => ({
  ...c,
  startBlock: BigInt(c.startBlock),
  operationStartBlock: BigInt(c.operationStartBlock),
  operationEndBlock: BigInt(c.operationEndBlock),
});

export const solutionConfigIn = (c: SolutionConfig | undefined): SolutionConfigData => {
  if (!c) throw invalid('config', 'required');
  return {
    namespace: c.namespace,
    group: c.group,
    name: c.name,
    description: c.description,
    logicRef: c.logicRef,
    expirationBlock: heightOf('config.expiration_block', c.expirationBlock),
    maxWaitingThreshold: heightOf('config.max_waiting_threshold', c.maxWaitingThreshold),
    voteThresholdPercent: c.voteThresholdPercent,
    quorumPercent: c.quorumPercent,
    votingStartMethod: c.votingStartMethod as SolutionConfigData['votingStartMethod'],
    nominationsEnabled: c.nominationsEnabled,
    unresolvedPolicy: c.unresolvedPolicy as SolutionConfigData['unresolvedPolicy'],
  };
};

export function accountView(s: RegistryState, address: string): Account {
  const b = balanceOf(s.ledger, address);
  const byGroup = [...(s.ledger.unclaimed.get(address) ?? new Map<string, bigint>())].sort(([a], [b2]) => (a < b2 ? -1 : 1));
  return {
    address,
    free: b.free.toString(),
    reserved: b.reserved.toString(),
    unclaimed: b.unclaimed.toString(),
    unclaimedByGroup: byGroup.map(([group, amount]) => ({ group, amount: amount.toString() })),
  };
}

export function holdView(s: RegistryState, holdId: string): Hold | undefined {
  const h = s.holds.get(holdId);
  return (
    h && {
      holdId,
      account: h.account,
      amount: h.amount.toString(),
      purpose: h.purpose,
      status: h.status,
      holdStatus: HOLD_STATUS[h.status],
      placedBy: h.placedBy,
    }
  );
}

export function registrarView(s: RegistryState, address: string): Registrar | undefined {
  const r = s.registrars.get(address);
  return r && { address, friendlyName: r.friendlyName, legalLocation: r.legalLocation, groups: [...r.groups].sort() };
}

export function groupView(s: RegistryState, namespace: string): Group | undefined {
  const g = s.groups.get(namespace);
  if (!g) return undefined;
  let total = 0n;
  for (const sub of g.subscriptions.values()) total += sub.stake;
  return {
    config: groupConfigOut({ ...g.config, allowListEnabled: g.allowListEnabled }),
    owner: g.owner,
    status: g.status,
    budget: g.budget.toString(),
    allowList: [...g.allowList].sort(),
    operators: g.subscriptions.size,
    totalStake: total.toString(),
    solutions: [...g.solutions].sort(),
    rewardsChanges: g.rewardsChanges.map((c) => ({
      fromPeriod: BigInt(c.fromPeriod),
      subscriptionRewardPerBlock: c.subscriptionRewardPerBlock.toString(),
      votingRewardPerBlock: c.votingRewardPerBlock.toString(),
    })),
    registeredAt: BigInt(g.registeredAt),
    groupStatus: GROUP_STATUS[g.status],
  };
}

export function solutionView(s: RegistryState, namespace: string): Solution | undefined {
  const sol = s.solutions.get(namespace);
  if (!sol) return undefined;
  const c = sol.config;
  const status = solutionStatusAt(sol, s.height);
  return {
    config: { ...c, expirationBlock: BigInt(c.expirationBlock), maxWaitingThreshold: BigInt(c.maxWaitingThreshold) },
    owner: sol.owner,
    status,
    nominatedWorkers: [...sol.nominated].sort(),
    registeredAt: BigInt(sol.registeredAt),
    solutionStatus: SOLUTION_STATUS[status],
  };
}

function subscriptionsOf(s: RegistryState, address: string): Subscription[] {
  return [...(s.operators.get(address)?.groups ?? [])].sort().map((group) => {
    const sub = s.groups.get(group)!.subscriptions.get(address)!;
    return {
      group,
      stake: sub.stake.toString(),
      activeFromPeriod: BigInt(sub.activeFromPeriod),
      unsubscribing: sub.finalPeriod !== undefined,
      unsubscribedInPeriod: BigInt(sub.unsubscribedIn ?? 0),
      finalPeriod: BigInt(sub.finalPeriod ?? 0),
    };
  });
}

export function operatorView(s: RegistryState, address: string): Operator {
  return { address, worker: s.operators.get(address)?.worker ?? '', subscriptions: subscriptionsOf(s, address), account: accountView(s, address) };
}

/** The operator a worker serves (the registry's worker index), with that operator's subscriptions. */
export function workerView(s: RegistryState, address: string): Worker {
  const operator = s.workers.get(address);
  return { address, connected: operator !== undefined, operator: operator ?? '', subscriptions: operator === undefined ? [] : subscriptionsOf(s, operator) };
}

/** Pages over sorted keys (the platform's key paging: the token is the last key of the previous page). */
export function page(keys: Iterable<string>, req: PageRequest | undefined, isKey: (k: string) => boolean): { keys: string[]; info: PageInfo } {
  const p = pagedByKey(keys, req, isKey);
  return { keys: p.items, info: { nextPageToken: p.next } };
}
