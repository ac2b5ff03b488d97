import type { Tally } from '@ewx/platform/domain';

export interface Attestation {
  readonly validator: string;
  readonly tally: Tally;
  readonly merkleRoot: string;
  readonly signature: string;
  readonly dissent: boolean;
}

/** A round's lifecycle, in the four names voting and the wire (RoundState) use. */
export type RoundStatus = 'ACTIVE' | 'OFF_CHAIN_VOTE' | 'SETTLED' | 'UNRESOLVED';

/** A round as the validators see it: copied from voting's events in consensus' inbox. */
export interface ValidatedRound {
  readonly solution: string;
  readonly roundId: string;
  readonly group: string;
  readonly period: number;
  /** Voting closes the round when this block is recorded (start + maxWaitingThreshold): a block run is cut here. */
  readonly endBlock: number;
  readonly quorumPercent: number;
  readonly voteThresholdPercent: number;
  readonly eligible: number;
  readonly snapshotChunks: number;
  snapshotReceived: number;
  /**
   * worker → operator. `snapshot`, `votes` and `leaves` are emptied when the round is decided
   * (`votesDropped`): no rule reads them again, and the inclusion proofs of a decided round are
   * computed from its events in the log (`roundFromEvents` over `votingRoundInbox`).
   */
  snapshot: Map<string, string>;
  /** v1 closes (older logs) carried the votes in chunks: how many, and how many arrived. */
  voteChunks: number;
  voteChunksReceived: number;
  /** Votes recorded for this round (VoteCast events and the votes of VotesCast events; votes of workers outside the snapshot included). */
  votesReceived: number;
  /** The count of votes the close (RoundClosed v2) says voting recorded; undefined before it or for v1. */
  submitted?: number;
  /**
   * [worker, result] of the snapshot's workers: in the order recorded while the round is open,
   * sorted by worker from its close on (a new array then, so the caches of the old one are not reused).
   */
  votes: [string, string][];
  /** Merkle leaves of `votes`, hashed as the votes are recorded (so the close only sorts and settling only builds the tree). */
  leaves: Buffer[];
  readonly attestations: Map<string, Attestation>;
  status: RoundStatus;
  outcome?: { tally: Tally; merkleRoot: string };
  /**
   * The validator set in force when the round was decided: only its members attest afterwards (a
   * validator that joined later has nothing to say about it). Logs written before the set was
   * recorded in the decision give the validators that had attested by then.
   */
  decidedBy?: readonly string[];
  /**
   * Set when the round is decided while an attestation window is recorded (`ConsensusState.attestationWindow`):
   * the block from which its missing attestations are refused and it leaves the state, max(endBlock,
   * height at the decision) + the window. Unset: it waits for every validator of `decidedBy`.
   */
  attestationsClose?: number;
  /** Set when the round is decided: its snapshot, votes and leaves left the state (bounded memory). */
  votesDropped?: true;
  /**
   * What `evaluateRound` gave from the snapshot and votes when they left the state, kept only when it
   * differs from `outcome` (validators that settled otherwise): a validator that attests late still
   * signs what the recorded votes give.
   */
  evaluation?: { tally: Tally; merkleRoot: string };
  /**
   * The versions of its first AttestationRecorded and of the last of its AttestationRecorded and
   * its RoundSettled/RoundUnresolved in its solution's stream (`solutionStream`): where its
   * attestations and decision are read back once it left the state.
   */
  attested?: [number, number];
}

/**
 * Where a decided round has its attestations and decision in its solution's stream: the versions of
 * its first AttestationRecorded and of the last of its attestations and decision (`[from, to]`).
 * Kept out of the state (the projection `app/decided.ts`), read by the queries about rounds that left.
 */
export type ArchivedRound = readonly [from: number, to: number];

export interface ChainEntry {
  readonly index: number;
  readonly roundId: string;
  readonly result: string;
  readonly tally: Tally;
  readonly prevHash: string;
  readonly hash: string;
}

/** One operator's vote metadata in a reward period: `eligible` rounds and `correct` votes (the API's eligible_rounds and correct_votes). */
export interface OperatorVoteMetadata {
  eligible: number;
  correct: number;
}

/**
 * A solution's result chain as decisions need it: its length (the next entry's index) and its last
 * entry's hash (the next entry's prevHash). Its entries are in the log (ResultChained in the
 * solution's stream, `solutionStream`); where, is in the decided-rounds projection
 * (`app/decided.ts`), which GetResultChain reads. `entries`: only in the folds that keep everything
 * (`evolveKeepingRounds`, `evolveKeepingVotes`).
 */
export interface ResultChain {
  length: number;
  hash: string;
  entries?: ChainEntry[];
}

export interface ConsensusState {
  height: number;
  validators: readonly string[];
  /**
   * The attestation window recorded with the validator set (ValidatorSetConfigured v2), in blocks:
   * rounds decided while it is set stop taking attestations that many blocks after they ended or
   * were decided (`attestationsClose`). Undefined in logs written before it was recorded.
   */
  attestationWindow?: number;
  readonly rounds: Map<string, ValidatedRound>;
  /** solution → its result chain (length, last hash, where its entries are). */
  readonly chains: Map<string, ResultChain>;
  // Vote metadata (per group, period and operator) is not kept here: the projection `app/metadata.ts` folds it from the log.
}

export const roundKey = (solution: string, roundId: string): string => `${solution}\u0000${roundId}`;
/** The stream every block is appended to: its version is the height minus one. */
export const CHAIN_STREAM = 'chain';
/** The stream of the recorded validator set. */
export const VALIDATORS_STREAM = 'validators';
export const solutionStream = (solution: string): string => `solution:${solution}`;
/** The stream of consensus's log holding the copies of a voting round's events (voting's `round:<solution>:<roundId>`, recorded by the inbox). */
export const votingRoundInbox = (solution: string, roundId: string): string => `inbox:voting:round:${solution}:${roundId}`;
export const metadataKey = (group: string, period: number): string => `${group}|${period}`;

/** Both the snapshot and the votes arrived completely: validators can compute the outcome. */
export const isClosed = (r: ValidatedRound): boolean =>
  r.status !== 'ACTIVE' &&
  r.snapshotReceived >= r.snapshotChunks &&
  r.voteChunksReceived >= r.voteChunks &&
  (r.submitted === undefined || r.votesReceived === r.submitted);

/** Settled or unresolved: the validators have decided it. */
export const isDecided = (r: ValidatedRound): boolean => r.status === 'SETTLED' || r.status === 'UNRESOLVED';

/**
 * Where a run of blocks from `height` + 1 towards `target` ends: at the first end of a known round
 * inside it, so that voting closes the round at its end block and its outcome can be recorded
 * before any later block (a reward period then closes with every round of it decided, as when blocks
 * came one by one). Rounds are few; a scan is fine.
 */
export function nextCut(s: ConsensusState, height: number, target: number): number {
  let cut = target;
  for (const r of s.rounds.values()) if (r.endBlock > height && r.endBlock < cut) cut = r.endBlock;
  return cut;
}

/** Rounds that have ended by `height` but are not decided yet (a run of blocks waits for them). */
export function undecidedEnded(s: ConsensusState, height: number): ValidatedRound[] {
  const out: ValidatedRound[] = [];
  for (const r of s.rounds.values()) if (r.endBlock <= height && !isDecided(r)) out.push(r);
  return out;
}

/** Its attestation window has closed at `height`: a late attestation is refused. */
export const attestationsClosed = (r: ValidatedRound, height: number): boolean => r.attestationsClose !== undefined && height >= r.attestationsClose;

/**
 * A decided round no decision reads again: its end block has passed (no run of blocks is cut at it)
 * and either every validator of the set that decided it has attested (a late attestation is owed
 * by nobody) or its attestation window has closed (`attestationsClose`: a late attestation is
 * refused). The validator process attests only rounds of the state, and only those that owe its
 * attestation, so no command is ever decided about such a round; one it had in hand when the round
 * left is refused (FAILED_PRECONDITION) and skipped.
 */
export const mayLeave = (r: ValidatedRound, height: number): boolean =>
  r.decidedBy !== undefined &&
  r.attested !== undefined &&
  r.endBlock <= height &&
  (attestationsClosed(r, height) || r.decidedBy.every((v) => r.attestations.has(v)));

export const initialConsensusState = (): ConsensusState => ({
  height: 0,
  validators: [],
  rounds: new Map(),
  chains: new Map(),
});
