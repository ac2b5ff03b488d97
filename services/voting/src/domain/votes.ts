import {
  isDomainError,
  DomainError,
  alreadyExists,
  denied,
  invalid,
  notFound,
  precondition,
  type EventData,
  type RoundClosedEvent,
  type VoteCastEvent,
} from '@ewx/platform/domain';
import { MAX_VOTES_PER_EVENT, votingEvent, type VotesCastEvent } from '@ewx/contracts';
import { startRound } from './start.js';
import { CLOSED_EMPTY, noPastRounds, roundKey, type PastRounds, type VotingState } from './state.js';

export const MAX_RESULT_BYTES = 64;

export interface VoteCommand {
  readonly solution: string;
  readonly roundId: string;
  /** The signing worker. */
  readonly worker: string;
  /** Lowercase hex, 1..64 bytes. */
  readonly result: string;
  readonly nonce: bigint;
  /**
   * hex ed25519 signature of the SubmitVote command, kept in the vote's metadata: with the vote's
   * data it is the whole signed command, so the audit checks it from the log alone.
   */
  readonly signature?: string;
}

export function validateResult(result: string): void {
  if (!/^([0-9a-f]{2})+$/.test(result)) throw invalid('result', 'expected 1 to 64 bytes');
  if (result.length / 2 > MAX_RESULT_BYTES) throw invalid('result', `expected 1 to ${MAX_RESULT_BYTES} bytes, got ${result.length / 2}`);
}

/** Per vote: `accepted` (a new vote), `repeated` (the same result again, nothing changed) or the refusal. */
export type VoteOutcome = 'accepted' | 'repeated' | DomainError;

/**
 * The refusal of a vote for a closed round by an account that is not a connected worker now. The
 * rule is unchanged: such a vote is refused as "not a connected worker" (this error, as it stands)
 * unless the account is in the round's snapshot, and then as expired (`ifInSnapshot`). The snapshot
 * left the state when the round closed (bounded memory); it is in the round's RoundSnapshot events,
 * so the caller that reads the log picks the refusal with `refusal(inSnapshot)` (voting's API does).
 */
export class LateVote extends DomainError {
  constructor(
    message: string,
    readonly ifInSnapshot: DomainError,
    readonly solution: string,
    readonly roundId: string,
    readonly worker: string,
  ) {
    super('PERMISSION_DENIED', message);
  }
  refusal(inSnapshot: boolean): DomainError {
    return inSnapshot ? this.ifInSnapshot : new DomainError(this.code, this.message);
  }
}
export const isLateVote = (o: unknown): o is LateVote => o instanceof LateVote;

const expired = (v: VoteCommand, endBlock: number): DomainError =>
  precondition(`round_id: round ${v.roundId} of solution ${v.solution} expired at block ${endBlock}: votes are closed`);

/**
 * Votes of one round, decided together (group commit). Each vote is judged on its own, in order, as
 * if the earlier ones of the batch had been applied: a refused vote refuses only itself. A worker's
 * first vote for an unknown round of a WORKER-started solution starts the round (same append).
 * `lastNonce` is the runtime's record of each signer's last accepted nonce; `past` the log's record
 * of the rounds that left the state (see `PastRound`): a vote on one of them is late, never a start.
 */
export function decideVotes(
  s: VotingState,
  votes: readonly VoteCommand[],
  lastNonce: (signer: string) => bigint,
  past: PastRounds = noPastRounds,
): { events: EventData[]; outcomes: VoteOutcome[] } {
  const events: EventData[] = [];
  const outcomes: VoteOutcome[] = [];
  const nonces = new Map<string, bigint>();
  const round = votes.length > 0 ? s.rounds.get(roundKey(votes[0]!.solution, votes[0]!.roundId)) : undefined;
  // A round that is done left `rounds`: its end block is the log's record (`past`), its snapshot in the log (see LateVote).
  const done = round === undefined && votes.length > 0 ? past(votes[0]!.solution, votes[0]!.roundId) : undefined;
  let snapshot = round?.snapshot ?? (done ? CLOSED_EMPTY : undefined);
  let endBlock = round?.endBlock ?? done?.endBlock ?? 0;
  let open = round?.status === 'ACTIVE';
  // A closed round's snapshot is no longer in the state (see LateVote).
  const closed = (round !== undefined && !open) || done !== undefined;
  const cast = new Map<string, string>();
  const accepted: VoteCommand[] = [];
  for (const v of votes) {
    try {
      validateResult(v.result);
      const last = nonces.get(v.worker) ?? lastNonce(v.worker);
      if (v.nonce <= last) throw denied(`nonce: ${v.nonce} was already used by ${v.worker} (last accepted ${last}); use a larger one`);
      // The role first: an account that is no connected worker learns nothing about what exists.
      if (!s.operatorOf.has(v.worker) && !snapshot?.has(v.worker)) {
        const message = `auth.signer: only a worker in a round's eligibility snapshot may vote; ${v.worker} is not a connected worker`;
        if (closed) throw new LateVote(message, expired(v, endBlock), v.solution, v.roundId, v.worker);
        throw denied(message);
      }
      if (!snapshot) {
        const sol = s.solutions.get(v.solution);
        if (!sol) throw notFound(`solution: solution ${v.solution}`);
        if (sol.config.votingStartMethod !== 'WORKER')
          throw notFound(`round_id: round ${v.roundId} of solution ${v.solution} (rounds of this solution are started by its registrar)`);
        const started = startRound(s, v.solution, v.roundId, { kind: 'account', address: v.worker }, past);
        events.push(...started.events);
        snapshot = started.snapshot;
        endBlock = started.started.endBlock;
        open = true;
      }
      if (!open || s.height >= endBlock) throw expired(v, endBlock);
      if (!snapshot.has(v.worker))
        throw denied(`auth.signer: only a worker in the eligibility snapshot of round ${v.roundId} may vote; ${v.worker} is not in it`);
      const previous = cast.get(v.worker) ?? round?.votes.get(v.worker);
      if (previous === v.result) {
        outcomes.push('repeated');
        continue;
      }
      if (previous !== undefined)
        throw alreadyExists(`result: a vote by ${v.worker} in round ${v.roundId} with a different result (one vote per worker; it cannot change)`);
      cast.set(v.worker, v.result);
      nonces.set(v.worker, v.nonce);
      accepted.push(v);
      outcomes.push('accepted');
    } catch (e) {
      if (!isDomainError(e)) throw e;
      outcomes.push(e);
    }
  }
  events.push(...voteEvents(accepted, s.height));
  return { events, outcomes };
}

/**
 * The events of accepted votes of one round, after any start: one vote is a VoteCast; two or more
 * are VotesCast events of at most MAX_VOTES_PER_EVENT votes each, in order (one row, one Kafka
 * entry and one inbox copy per event instead of per vote), each vote's signer, nonce and signature
 * in the metadata's `signers`.
 */
function voteEvents(votes: readonly VoteCommand[], height: number): EventData[] {
  if (votes.length === 0) return [];
  const { solution, roundId } = votes[0]!;
  if (votes.length === 1) {
    const v = votes[0]!;
    const data: VoteCastEvent = { solution, roundId, worker: v.worker, result: v.result, height };
    return [
      votingEvent(
        { type: 'VoteCast', data },
        { signer: v.worker, nonce: v.nonce.toString(), ...(v.signature !== undefined ? { signature: v.signature } : {}) },
      ),
    ];
  }
  const events: EventData[] = [];
  for (let i = 0; i < votes.length; i += MAX_VOTES_PER_EVENT) {
    const chunk = votes.slice(i, i + MAX_VOTES_PER_EVENT);
    const data: VotesCastEvent = { solution, roundId, height, votes: chunk.map((v) => [v.worker, v.result]) };
    const signers = chunk.map((v) => (v.signature !== undefined ? [v.worker, v.nonce.toString(), v.signature] : [v.worker, v.nonce.toString()]));
    events.push(votingEvent({ type: 'VotesCast', data }, { signers }));
  }
  return events;
}

/**
 * SPEC §4: at start + maxWaitingThreshold the round expires and the recorded votes go to the
 * validators. The votes travel once, as the round's VoteCast events (which consensus records):
 * the close carries only how many there were, so a validator knows it has them all.
 */
export function closeRound(s: VotingState, solution: string, roundId: string): EventData[] {
  const r = s.rounds.get(roundKey(solution, roundId));
  if (r?.status !== 'ACTIVE' || s.height < r.endBlock) return [];
  const data: RoundClosedEvent = { solution, roundId, height: s.height, submitted: r.votes.size };
  return [votingEvent({ type: 'RoundClosed', data })];
}

/** Rounds whose end block has been recorded and that are still Active. */
export const dueRounds = (s: VotingState): { solution: string; roundId: string }[] =>
  [...s.active]
    .map((k) => s.rounds.get(k)!)
    .filter((r) => r.endBlock <= s.height)
    .map((r) => ({ solution: r.solution, roundId: r.roundId }));
