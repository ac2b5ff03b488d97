import type { EventData, RecordedEvent, ServiceDecider } from '@ewx/platform/domain';
import { evolve } from './evolve.js';
import { reactToUnresolved } from './retry.js';
import { startRound } from './start.js';
import { initialVotingState, roundKey, roundStream, type VotingState } from './state.js';
import { closeRound, dueRounds } from './votes.js';

export * from './state.js';
export * from './start.js';
export * from './votes.js';
export * from './retry.js';
export { eligibleWorkers } from './eligibility.js';
export { evolve, evolveKeepingRounds, roundFromEvents } from './evolve.js';

/**
 * Voting's commands. Votes are not among them: they are decided in batches by `decideVotes`
 * (group commit), which reports an outcome per vote rather than throwing for the batch.
 */
export type VotingCommand =
  /**
   * A registrar or a worker starts a round (SPEC §4). Decided here on the state alone (a round that
   * left it is not known: see `PastRound`); the service's handler passes the log's record of it.
   */
  | { readonly type: 'StartRound'; readonly signer: string; readonly solution: string; readonly roundId: string }
  /** The reaction to blocks: the round's end block is recorded, it expires. */
  | { readonly type: 'CloseRound'; readonly solution: string; readonly roundId: string }
  /** The reaction to RoundUnresolved: the solution's unresolved policy (a retry or an alert). */
  | { readonly type: 'ApplyUnresolvedPolicy'; readonly solution: string; readonly roundId: string };

export function decide(c: VotingCommand, s: VotingState): EventData[] {
  switch (c.type) {
    case 'StartRound':
      return startRound(s, c.solution, c.roundId, { kind: 'account', address: c.signer }).events;
    case 'CloseRound':
      return closeRound(s, c.solution, c.roundId);
    case 'ApplyUnresolvedPolicy':
      return reactToUnresolved(s, c.solution, c.roundId).events;
    default: {
      const never: never = c;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
}

/**
 * What voting owes now (its process manager's `due`): the close of every Active round whose end
 * block is recorded, and the unresolved policy of every unresolved RETRY_ONCE round that has
 * neither its retry nor its alert yet. Each command is idempotent.
 */
export function dueCommands(s: VotingState): VotingCommand[] {
  const out: VotingCommand[] = dueRounds(s).map((r) => ({ type: 'CloseRound', solution: r.solution, roundId: r.roundId }));
  for (const key of s.retryPending) {
    const r = s.rounds.get(key)!;
    if (reactToUnresolved(s, r.solution, r.roundId).events.length > 0) out.push({ type: 'ApplyUnresolvedPolicy', solution: r.solution, roundId: r.roundId });
  }
  return out;
}

/** A round's stream; the unresolved policy writes to the retry's stream when it starts one. */
export function streamOf(c: VotingCommand, s: VotingState): string {
  switch (c.type) {
    case 'StartRound':
    case 'CloseRound':
      return roundStream(c.solution, c.roundId);
    case 'ApplyUnresolvedPolicy':
      return roundStream(c.solution, reactToUnresolved(s, c.solution, c.roundId).roundId);
    default: {
      const never: never = c;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
}

/**
 * A round's stream once the round left the state (settled, or unresolved with nothing owed): it is
 * never appended to again, so the runtime forgets its versions (Decider.finishedStreams). The
 * events that can make a round leave: its settlement, its alert, its retry's start.
 */
export function finishedStreams(s: VotingState, e: RecordedEvent): readonly string[] | undefined {
  if (e.type !== 'RoundSettled' && e.type !== 'RoundUnresolved' && e.type !== 'RoundAlert' && e.type !== 'RoundStarted') return undefined;
  const d = e.data as { solution?: unknown; roundId?: unknown; retryOf?: unknown };
  const roundId = e.type === 'RoundStarted' ? d.retryOf : d.roundId;
  if (typeof d.solution !== 'string' || typeof roundId !== 'string') return undefined;
  // The round left the state (the event just folded made it leave, or it had left before: forgetting again changes nothing).
  return s.rounds.has(roundKey(d.solution, roundId)) ? undefined : [roundStream(d.solution, roundId)];
}

export const votingDecider: ServiceDecider<VotingState, VotingCommand> = { initialState: initialVotingState, evolve, decide, streamOf, finishedStreams };
