import type { Schedule, SolutionConfig } from '@ewx/platform/domain';

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
  /** worker → result hex. Only while the round is Active: emptied when it closes (its VoteCast and VotesCast events keep them). */
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
  /**
   * Set when its settlement (RoundSettled / RoundUnresolved) is recorded: its version in
   * `settlementStream(solution)`, or -2 when recorded in another stream (then the round never leaves
   * `rounds`; only test fixtures do that).
   */
  settledAt?: number;
  /** Its retry (`<id>#retry`) started (RETRY_ONCE): the policy is no longer owed. */
  retried?: true;
}

/**
 * What the listing projection (`app/listing.ts`) keeps of a round that left `rounds` (settled or
 * unresolved, nothing owed): what GetRound and ListRounds show of it besides its `RoundStarted` and
 * its settlement, which are read back from the log (`app/archive.ts`).
 */
export interface ClosedRound {
  readonly solution: string;
  readonly roundId: string;
  readonly status: 'SETTLED' | 'UNRESOLVED';
  readonly alerted: boolean;
  readonly endBlock: number;
  readonly submitted: number;
  /** Where its settlement (RoundSettled / RoundUnresolved) is in voting's log. */
  readonly settledIn: string;
  readonly settledAt: number;
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
   * key `solution\u0000roundId`. The rounds that may still change: Active, closed and waiting for
   * consensus (its snapshot and votes emptied at the close, see `Round.snapshot`), or unresolved
   * with their RETRY_ONCE policy owed. A round that is done leaves it and the state keeps nothing of
   * it (`PastRound`; docs/SCALING.md section 4 item 3).
   */
  readonly rounds: Map<string, Round>;
  /** Rounds still Active, for expiry on each block. */
  readonly active: Set<string>;
  /** Unresolved RETRY_ONCE rounds whose policy (a retry or an alert) may still be owed. */
  readonly retryPending: Set<string>;
}

/**
 * What the log says of a round id that is not in `rounds` — the round left the state (settled, or
 * unresolved with nothing owed) — read from its stream's `RoundStarted` (the first event of
 * `roundStream`): the id is used, and when its votes closed. The state keeps nothing per finished
 * round (docs/SCALING.md section 4 item 3), so a decision about an id not in `rounds` (a start, a
 * worker's first vote) takes this as an input: the service reads it from the store before deciding
 * (`app/past.ts`), the audit from the log it replays. Deterministic: a stream's first event never
 * changes.
 */
export interface PastRound {
  readonly endBlock: number;
}
/** A round not in `rounds`, as the log knows it (undefined: never started). */
export type PastRounds = (solution: string, roundId: string) => PastRound | undefined;
/** No round outside the state known: what a decision sees without the log's record (tests, the pure decider). */
export const noPastRounds: PastRounds = () => undefined;

/**
 * The snapshot and votes of every closed round: one empty map shared by all of them (a snapshot keeps
 * the sharing: node:v8 serialises an object once). Never written: RoundSnapshot, VoteCast and VotesCast change
 * only an Active round, and an Active round has maps of its own.
 */
export const CLOSED_EMPTY: Map<string, string> = new Map();

export const roundKey = (solution: string, roundId: string): string => `${solution}\u0000${roundId}`;
export const roundStream = (solution: string, roundId: string): string => `round:${solution}:${roundId}`;
/** Where voting records consensus's settlements of a solution's rounds: the inbox copy of consensus's `solution:<id>`. */
export const settlementStream = (solution: string): string => `inbox:consensus:solution:${solution}`;

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
});

/** A round id already used: a round in the state, or one that left it (`past`, the log's record). */
export const roundUsed = (s: VotingState, solution: string, roundId: string, past: PastRounds): boolean =>
  s.rounds.has(roundKey(solution, roundId)) || past(solution, roundId) !== undefined;
