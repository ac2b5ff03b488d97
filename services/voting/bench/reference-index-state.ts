/* The state of bench/reference-index-evolve.ts (commit faf4098): bench only. */
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
}

/**
 * Per solution, every round it started in starting order (ListRounds, and the rules that need a
 * round that left the state: a round id is used once, a late vote's refusal). A round stays in
 * `VotingState.rounds` while it may still change (Active, closed and waiting for consensus, or
 * unresolved with its RETRY_ONCE policy owed); once settled, or unresolved with nothing owed, it
 * leaves `rounds` and keeps only its place here: its id and `FACTS` small integers (docs/scaling-history.md
 * section 4 item 3). The rest is read back from the log (`app/archive.ts`): what `RoundStarted`
 * said from the round's own stream, the settlement from consensus's stream in voting's inbox.
 */
export interface SolutionRounds {
  /** Round ids in starting order. */
  readonly ids: string[];
  /**
   * `FACTS` numbers per round, at `FACTS × index`: its code (`LIVE`: still in `rounds`; otherwise
   * `SETTLED_CODE` or `UNRESOLVED_CODE`, plus `ALERTED_BIT`), its end block, its submitted votes and
   * the version of its settlement in `settlementStream(solution)` (-1 before it; -2: recorded in
   * another stream, so the round never leaves `rounds`).
   */
  readonly facts: number[];
  /**
   * A Bloom filter of `ids` (≈ 10 bits per id, 4 probes; doubled and rebuilt from `ids` as they
   * grow): a new round id is told apart from the used ones without scanning `ids` (`roundIndex`);
   * ≈ 1 % of new ids still scan. Deterministic, so a replay builds the same bytes.
   */
  filter: Uint8Array;
}

const BITS_PER_ID = 10;
const PROBES = 4;
const MIN_FILTER_BYTES = 128;

/** Two 32-bit hashes of an id (FNV-1a and a variant), for the filter's probes. */
function hashes(id: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return [a >>> 0, (b | 1) >>> 0];
}

function addToFilter(filter: Uint8Array, id: string): void {
  const m = filter.length * 8;
  const [a, b] = hashes(id);
  for (let i = 0; i < PROBES; i++) {
    const bit = (a + i * b) % m;
    filter[bit >>> 3]! |= 1 << (bit & 7);
  }
}

function mayHave(filter: Uint8Array, id: string): boolean {
  const m = filter.length * 8;
  const [a, b] = hashes(id);
  for (let i = 0; i < PROBES; i++) {
    const bit = (a + i * b) % m;
    if ((filter[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
  }
  return true;
}

export const emptySolutionRounds = (): SolutionRounds => ({ ids: [], facts: [], filter: new Uint8Array(MIN_FILTER_BYTES) });

/** A round started: its id at the end of its solution's index, live (in `rounds`). */
export function addRound(x: SolutionRounds, roundId: string, endBlock: number): void {
  x.ids.push(roundId);
  x.facts.push(LIVE, endBlock, 0, -1);
  if (x.ids.length * BITS_PER_ID > x.filter.length * 8) {
    x.filter = new Uint8Array(x.filter.length * 2);
    for (const id of x.ids) addToFilter(x.filter, id);
  } else addToFilter(x.filter, roundId);
}

export const FACTS = 4;
export const LIVE = 0;
export const SETTLED_CODE = 1;
export const UNRESOLVED_CODE = 2;
export const ALERTED_BIT = 4;

/** What is known in the state of a round that left `rounds` (settled or unresolved, nothing owed). */
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
   * with their RETRY_ONCE policy owed. A round that is done leaves it (see `SolutionRounds`), so the
   * state keeps an id and four numbers per finished round, not its summary (docs/scaling-history.md section 4 item 3).
   */
  readonly rounds: Map<string, Round>;
  /** Rounds still Active, for expiry on each block. */
  readonly active: Set<string>;
  /** Unresolved RETRY_ONCE rounds whose policy (a retry or an alert) may still be owed. */
  readonly retryPending: Set<string>;
  /** Rounds in starting order per solution, with what a finished round keeps. */
  readonly bySolution: Map<string, SolutionRounds>;
}

/**
 * The snapshot and votes of every closed round: one empty map shared by all of them (a snapshot keeps
 * the sharing: node:v8 serialises an object once). Never written: RoundSnapshot and VoteCast change
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
  bySolution: new Map(),
});

/** Where a round is in its solution's index (-1: never started). The last start of an id is the one (an id is used once). */
export function roundIndex(s: VotingState, solution: string, roundId: string): number {
  const x = s.bySolution.get(solution);
  return x && mayHave(x.filter, roundId) ? x.ids.lastIndexOf(roundId) : -1;
}

/** A round id already used: a round in the state or one that left it. */
export const roundUsed = (s: VotingState, solution: string, roundId: string): boolean =>
  s.rounds.has(roundKey(solution, roundId)) || roundIndex(s, solution, roundId) >= 0;

/** The round at `i` of a solution's index when it left the state (undefined while it is in `rounds`). */
export function closedAt(s: VotingState, solution: string, i: number): ClosedRound | undefined {
  const x = s.bySolution.get(solution);
  if (!x || i < 0 || i >= x.ids.length) return undefined;
  const code = x.facts[i * FACTS]!;
  if (code === LIVE) return undefined;
  return {
    solution,
    roundId: x.ids[i]!,
    status: (code & ~ALERTED_BIT) === SETTLED_CODE ? 'SETTLED' : 'UNRESOLVED',
    alerted: (code & ALERTED_BIT) !== 0,
    endBlock: x.facts[i * FACTS + 1]!,
    submitted: x.facts[i * FACTS + 2]!,
    settledIn: settlementStream(solution),
    settledAt: x.facts[i * FACTS + 3]!,
  };
}

/** A round that left the state (settled, or unresolved with nothing owed), if it is one. */
export const closedRound = (s: VotingState, solution: string, roundId: string): ClosedRound | undefined =>
  s.rounds.has(roundKey(solution, roundId)) ? undefined : closedAt(s, solution, roundIndex(s, solution, roundId));
