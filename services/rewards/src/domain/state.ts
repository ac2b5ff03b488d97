import { withdrawalStage } from '@ewx/contracts';
import type { GroupConfig, Schedule } from '@ewx/platform/domain';

/** A change of stake taking effect from a period; the last one at or before a period applies. */
export interface StakeChange {
  readonly fromPeriod: number;
  readonly stake: bigint;
}

export interface OperatorStake {
  /** Sorted by fromPeriod. */
  readonly changes: StakeChange[];
  /** Set while a withdrawal is pending or done: the operator earns nothing from this period on. */
  finalPeriod: number | undefined;
}

export interface Rates {
  readonly fromPeriod: number;
  readonly subscription: bigint;
  readonly voting: bigint;
}

/** One operator's vote metadata in a reward period: `eligible` rounds and `correct` votes (the API's eligible_rounds and correct_votes). */
export interface OperatorVoteMetadata {
  eligible: number;
  correct: number;
}

/** What one period's settled rounds said about a group's operators. */
export interface PeriodVotes {
  readonly operators: Map<string, OperatorVoteMetadata>;
  /** `solution|roundId|chunk` of each VoteMetadata counted, so a repeat counts once. */
  readonly seen: Set<string>;
  rounds: number;
}

/**
 * A closed period as decided: its totals (GetGroupPayouts), the registry's answers and where its
 * decision events are in the log. Its per-operator rows leave the state once its last payout chunk
 * is folded (bounded memory, docs/SCALING.md §4 item 3): GetOperatorRewards / ListOperatorRewards
 * of a closed period read them back from those events (`periodRows`); what a later decision needs
 * of them — each payout chunk's payouts, which a refusal takes back — is kept per chunk until the
 * registry answers it.
 */
export interface ClosedPeriod {
  readonly period: number;
  readonly firstBlock: number;
  readonly lastBlock: number;
  readonly activeBlocks: number;
  readonly basePool: bigint;
  readonly activePool: bigint;
  readonly budgetBefore: bigint;
  readonly due: bigint;
  readonly paid: bigint;
  readonly budgetExhausted: boolean;
  readonly operators: number;
  readonly qualifying: number;
  readonly slaVotingThreshold: number;
  readonly payoutChunks: number;
  /** Chunks the registry confirmed with RewardsCredited. */
  credited: number;
  /** Chunks the registry refused to credit (RewardsCreditRefused): not in anyone's unclaimed rewards. */
  refused: number;
  /** Settled rounds of this period whose metadata arrived after it closed: recorded, not paid. */
  lateRounds: number;
  /** The stream of its decision events and the versions of the first (RewardInputsRecorded chunk 0) and of the last folded so far. */
  readonly stream: string;
  readonly fromVersion: number;
  toVersion: number;
  /**
   * operator → [stake, eligible, correct, inFinalPeriod, base, active]: only while the decision's
   * events are being folded (one append), and always in the fold that keeps them (`evolveKeepingRows`).
   */
  rows: Map<string, OperatorRow> | undefined;
  /**
   * Payout chunk → its payouts (operator, amount), in the order a refusal takes them back, until the
   * registry answers the chunk (RewardsCredited or RewardsCreditRefused, once per chunk); undefined
   * when every chunk is answered. (Both are set to undefined, not deleted: the object keeps its shape.)
   */
  unanswered: Map<number, (readonly [string, bigint])[]> | undefined;
}

export interface OperatorRow {
  stake: bigint;
  eligible: number;
  correct: number;
  inFinalPeriod: boolean;
  base: bigint;
  active: bigint;
}

export interface GroupView {
  readonly group: string;
  config: GroupConfig;
  status: 'ACTIVE' | 'RETIRING' | 'REMOVED';
  /** The period the group was registered in: the first one it is closed for. */
  readonly firstPeriod: number;
  /** Sorted by fromPeriod; the first entry (from the registration) has fromPeriod -1. */
  readonly rates: Rates[];
  /**
   * The group's budget as the registry last published it (GroupRegistered, GroupBudgetChanged): the
   * registry alone owns the budget; rewards does no arithmetic on it besides `budgetLeft`.
   */
  registryBudget: bigint;
  /**
   * Payouts rewards decided (RewardsComputed subtotals) that the registry has not yet reported as
   * paid (GroupBudgetChanged PAID, amount): still in `registryBudget` but promised. A chunk the
   * registry refused is never paid and stays here, so rewards stays conservative after a refusal.
   */
  unpaid: bigint;
  /** The last period closed, or firstPeriod - 1. */
  lastClosed: number;
  readonly closed: Map<number, ClosedPeriod>;
  /**
   * operator → the closed periods whose decision has a row for it, as runs of consecutive periods
   * [from, to, from, to, ...] (ListOperatorRewards): an operator that stays subscribed is one run,
   * however many periods close.
   */
  readonly members: Map<string, number[]>;
}

/** Adds `period` to an operator's runs, kept sorted and merged (periods close in increasing order: the last run grows). */
export function addMember(runs: number[], period: number): void {
  let i = runs.length - 2;
  while (i >= 0 && runs[i]! > period) i -= 2;
  // runs[i] <= period < runs[i + 2] (the run before, if any, starts at or before it).
  if (i >= 0 && period <= runs[i + 1]!) return;
  const joinsBefore = i >= 0 && runs[i + 1] === period - 1;
  const joinsAfter = i + 2 < runs.length && runs[i + 2] === period + 1;
  if (joinsBefore && joinsAfter) runs.splice(i + 1, 2);
  else if (joinsBefore) runs[i + 1] = period;
  else if (joinsAfter) runs[i + 2] = period;
  else runs.splice(i + 2, 0, period, period);
}

/** The periods of an operator's runs that `keep` accepts, newest first, at most `limit`. */
export function memberPeriods(runs: readonly number[] | undefined, limit: number, keep: (period: number) => boolean = () => true): number[] {
  const out: number[] = [];
  if (!runs) return out;
  for (let i = runs.length - 2; i >= 0 && out.length < limit; i -= 2) {
    for (let p = runs[i + 1]!; p >= runs[i]! && out.length < limit; p--) if (keep(p)) out.push(p);
  }
  return out;
}

export interface AccountView {
  deposited: bigint;
  deposits: number;
}

export interface RewardsState {
  height: number;
  schedule: Schedule;
  /** The last period a RewardPeriodStarted was recorded for (-1: none). */
  lastStartedPeriod: number;
  readonly groups: Map<string, GroupView>;
  /** group → operator → stake history; kept apart from groups since events may arrive before the group's. */
  readonly stakes: Map<string, Map<string, OperatorStake>>;
  /** group → period → votes, until the period is closed. */
  readonly votes: Map<string, Map<number, PeriodVotes>>;
  /** operator → group → rewards computed for it (sum of payouts). */
  readonly earned: Map<string, Map<string, bigint>>;
  /** operator → group → rewards claimed (RewardsClaimed from the registry). */
  readonly claimed: Map<string, Map<string, bigint>>;
  /** The foundation's thin slice: deposits seen per account. */
  readonly accounts: Map<string, AccountView>;
}

export const initialState = (): RewardsState => ({
  height: 0,
  schedule: [],
  lastStartedPeriod: -1,
  groups: new Map(),
  stakes: new Map(),
  votes: new Map(),
  earned: new Map(),
  claimed: new Map(),
  accounts: new Map(),
});

/**
 * What a period closing may pay out of the group's budget: the registry's published budget less
 * what rewards already decided and the registry has not paid yet (never below zero).
 */
export function budgetLeft(g: GroupView): bigint {
  const left = g.registryBudget - g.unpaid;
  return left > 0n ? left : 0n;
}

export const ratesAt = (g: GroupView, period: number): Rates => {
  let r = g.rates[0]!;
  for (const x of g.rates) if (x.fromPeriod <= period) r = x;
  return r;
};

/** Stake active in `period`: 0 before the first change and from the final period on. */
export function stakeAt(s: OperatorStake, period: number): bigint {
  let stake = 0n;
  for (const c of s.changes) if (c.fromPeriod <= period) stake = c.stake;
  return stake;
}

/** An operator's stake in `period` and whether it is its final withdrawal period (stake 0 after it). */
export function periodStake(o: OperatorStake | undefined, period: number): { stake: bigint; inFinalPeriod: boolean } {
  if (!o) return { stake: 0n, inFinalPeriod: false };
  const stage = withdrawalStage(o.finalPeriod, period);
  return { stake: stage === 'RELEASABLE' ? 0n : stakeAt(o, period), inFinalPeriod: stage === 'FINAL' };
}

export const inMap = <K, V>(m: Map<K, V>, k: K, make: () => V): V => {
  let v = m.get(k);
  if (v === undefined) {
    v = make();
    m.set(k, v);
  }
  return v;
};
