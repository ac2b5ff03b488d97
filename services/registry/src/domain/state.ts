import { periodAt, precondition, type GroupConfig, type Period, type Schedule, type SolutionConfig } from '@ewx/platform/domain';
import { emptyLedger, type LedgerState } from './ledger.js';

/** Who may do what beyond the signer: fixed at start-up, not part of the log. */
export interface RegistryPolicy {
  readonly admin: string;
  /** Accounts of other services allowed to place holds (LEDGER_SERVICE_ACCOUNTS). */
  readonly ledgerServiceAccounts: readonly string[];
}

export interface Registrar {
  readonly friendlyName: string;
  readonly legalLocation: string;
  readonly groups: Set<string>;
}

export type GroupStatus = 'ACTIVE' | 'RETIRING' | 'REMOVED';

export interface RewardsChange {
  readonly fromPeriod: number;
  readonly subscriptionRewardPerBlock: bigint;
  readonly votingRewardPerBlock: bigint;
}

export interface Group {
  readonly owner: string;
  readonly config: GroupConfig;
  status: GroupStatus;
  /** Reserved in the owner's balance for rewards. */
  budget: bigint;
  allowListEnabled: boolean;
  readonly allowList: Set<string>;
  /** Operator → subscription (until its stake is released). */
  readonly subscriptions: Map<string, Subscription>;
  readonly solutions: Set<string>;
  readonly rewardsChanges: RewardsChange[];
  /** The last period a released stake counted in (for the retiring grace period). */
  lastFinalPeriod: number;
  readonly registeredAt: number;
}

export interface Subscription {
  stake: bigint;
  activeFromPeriod: number;
  /** Set by Unsubscribe: the period it happened in and the period whose close releases the stake. */
  unsubscribedIn?: number;
  finalPeriod?: number;
}

export type SolutionStatus = 'ACTIVE' | 'PAUSED' | 'ENDED';

export interface Solution {
  readonly owner: string;
  readonly config: SolutionConfig;
  status: SolutionStatus;
  readonly nominated: Set<string>;
  readonly registeredAt: number;
}

export interface Operator {
  worker?: string;
  /** Groups with a subscription not yet released. */
  readonly groups: Set<string>;
}

export type HoldStatus = 'HELD' | 'RELEASED' | 'SLASHED';

export interface Hold {
  readonly account: string;
  readonly amount: bigint;
  readonly purpose: string;
  readonly placedBy: string;
  status: HoldStatus;
}

/** A RewardsComputed chunk recorded from the inbox, waiting for the ledger to credit it. */
export interface PendingCredit {
  readonly group: string;
  readonly period: number;
  readonly chunk: number;
  readonly subtotal: string;
  readonly payouts: readonly { readonly operator: string; readonly amount: string }[];
}

export interface RegistryState {
  height: number;
  schedule: Schedule;
  readonly ledger: LedgerState;
  readonly registrars: Map<string, Registrar>;
  readonly groups: Map<string, Group>;
  readonly solutions: Map<string, Solution>;
  readonly operators: Map<string, Operator>;
  /** Worker account → the operator it serves. */
  readonly workers: Map<string, string>;
  readonly holds: Map<string, Hold>;
  /** `group|period|chunk` → pending (recorded, not yet applied) RewardsComputed chunks. */
  readonly pendingCredits: Map<string, PendingCredit>;
  /** `group|period|chunk` of chunks already credited or refused: each is applied once. */
  readonly creditsDone: Set<string>;
  /** Hold id → outcome from EvaluationSettled, waiting to be applied. */
  readonly pendingSettlements: Map<string, 'RELEASE' | 'SLASH'>;
}

export const initialState = (): RegistryState => ({
  height: 0,
  schedule: [],
  ledger: emptyLedger(),
  registrars: new Map(),
  groups: new Map(),
  solutions: new Map(),
  operators: new Map(),
  workers: new Map(),
  holds: new Map(),
  pendingCredits: new Map(),
  creditsDone: new Set(),
  pendingSettlements: new Map(),
});

export const creditKey = (group: string, period: number, chunk: number): string => `${group}|${period}|${chunk}`;

/**
 * The reward period the registry is in. Before the first block (height 0) the next block is the
 * one that counts, so height 0 reads as block 1. Undefined until the schedule has arrived.
 */
export const currentPeriod = (s: RegistryState): Period | undefined => periodAt(s.schedule, Math.max(1, s.height));

export function requirePeriod(s: RegistryState, action: string): Period {
  const p = currentPeriod(s);
  if (!p) throw precondition(`${action}: the reward period schedule is not known yet (waiting for the rewards service's RewardPeriodScheduleChanged)`);
  return p;
}

/** The rewards the registrar set last (in effect now or from the next period). */
export function latestRewards(g: Group): { subscription: bigint; voting: bigint } {
  const last = g.rewardsChanges[g.rewardsChanges.length - 1];
  return last
    ? { subscription: last.subscriptionRewardPerBlock, voting: last.votingRewardPerBlock }
    : { subscription: BigInt(g.config.subscriptionRewardPerBlock), voting: BigInt(g.config.votingRewardPerBlock) };
}

/** Solutions count as active (blocking deregistration) until ended or past their expiration block. */
export const solutionBlocks = (sol: Solution, height: number): boolean => sol.status !== 'ENDED' && height <= sol.config.expirationBlock;

export const solutionStatusAt = (sol: Solution, height: number): SolutionStatus | 'EXPIRED' =>
  sol.status !== 'ENDED' && height > sol.config.expirationBlock ? 'EXPIRED' : sol.status;
