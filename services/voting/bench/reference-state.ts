import type { Schedule, SolutionConfig } from '@ewx/platform/domain';

/*
 * The state of voting's fold before a finished round left it (commit 51fa2e0, VOTING_STATE_VERSION 4),
 * for the reference folds of bench/memory.bench.ts: every round ever started stayed in `rounds`.
 * Bench only; not used by the service.
 */

/** The parts of the registry voting needs, rebuilt from the registry's events in voting's inbox. */
export interface SolutionView {
  readonly solution: string;
  readonly owner: string;
  readonly group: string;
  config: SolutionConfig;
  status: 'ACTIVE' | 'PAUSED' | 'ENDED';
}

export interface SubscriptionView {
  /** First period in which the stake is active (the period after subscribing). */
  activeFromPeriod: number;
  /** Unsubscribed: the period from which the operator no longer votes (p + d). */
  finalPeriod?: number;
}

export type RoundStatus = 'ACTIVE' | 'OFF_CHAIN_VOTE' | 'SETTLED' | 'UNRESOLVED';

export interface Round {
  readonly solution: string;
  readonly roundId: string;
  readonly group: string;
  readonly starter: string;
  readonly startBlock: number;
  readonly endBlock: number;
  readonly period: number;
  readonly quorumPercent: number;
  readonly voteThresholdPercent: number;
  readonly unresolvedPolicy: 'NONE' | 'RETRY_ONCE';
  readonly retryOf?: string;
  readonly eligible: number;
  /**
   * worker → operator, as taken at start. Only while the round is Active: emptied when it closes
   * (the round's RoundSnapshot events keep it in the log; `roundFromEvents` reads it back).
   */
  snapshot: Map<string, string>;
  /** worker → result hex. Only while the round is Active: emptied when it closes (its VoteCast events keep them). */
  votes: Map<string, string>;
  /** Set when the round closes: the count of its votes (`votes.size` then). */
  submitted?: number;
  /** Set when the round closes: the count of the most frequent result among its votes (0 without votes). */
  closedTop?: number;
  status: RoundStatus;
  result?: string;
  reason?: string;
  top?: number;
  merkleRoot?: string;
  alerted: boolean;
  /** Order of starting, for stable listing. */
  readonly seq: number;
}

export interface VotingState {
  height: number;
  schedule: Schedule;
  readonly groups: Map<string, { owner: string; status: 'ACTIVE' | 'RETIRING' | 'REMOVED' }>;
  readonly solutions: Map<string, SolutionView>;
  readonly nominations: Map<string, Set<string>>;
  /** group → operator → subscription. */
  readonly subscriptions: Map<string, Map<string, SubscriptionView>>;
  readonly workerOf: Map<string, string>;
  readonly operatorOf: Map<string, string>;
  /**
   * key `solution\u0000roundId`. Every round ever started, for the rules (a round id is used once;
   * a late vote's refusal; the unresolved policy) and the status queries; a closed round keeps only
   * its summary (see `Round.snapshot`), so the state grows by a few hundred bytes per round, not per vote
   * (docs/scaling-history.md section 4 item 3).
   */
  readonly rounds: Map<string, Round>;
  /** Rounds still Active, for expiry on each block. */
  readonly active: Set<string>;
  /** Unresolved RETRY_ONCE rounds whose policy (a retry or an alert) may still be owed. */
  readonly retryPending: Set<string>;
  /** Rounds in starting order per solution. */
  readonly bySolution: Map<string, string[]>;
}

/**
 * The snapshot and votes of every closed round: one empty map shared by all of them (a snapshot keeps
 * the sharing: node:v8 serialises an object once). Never written: RoundSnapshot and VoteCast change
 * only an Active round, and an Active round has maps of its own.
 */
export const CLOSED_EMPTY: Map<string, string> = new Map();

export const roundKey = (solution: string, roundId: string): string => `${solution}\u0000${roundId}`;
export const roundStream = (solution: string, roundId: string): string => `round:${solution}:${roundId}`;

export const initialVotingState = (): VotingState => ({
  height: 0,
  schedule: [],
  groups: new Map(),
  solutions: new Map(),
  nominations: new Map(),
  subscriptions: new Map(),
  workerOf: new Map(),
  operatorOf: new Map(),
  rounds: new Map(),
  active: new Set(),
  retryPending: new Set(),
  bySolution: new Map(),
});
