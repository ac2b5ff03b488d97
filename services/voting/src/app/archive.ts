import { decodeVotingLog } from '@ewx/contracts';
import { keptReads, type EventStore } from '@ewx/platform';
import { evolveKeepingRounds, initialVotingState, roundFromEvents, roundKey, roundStream, type ClosedRound, type Round } from '../domain/decider.js';

/** Closed rounds read back per query, kept: a closed round's events never change. */
const KEPT = 16;

/** Finished rounds (what GetRound and ListRounds show) read back, kept: a few hundred bytes each. */
export const KEPT_FINISHED = 1000;

/**
 * Closed rounds as they stood while Active (snapshot and votes), read from their own stream in the
 * log: a closed round keeps only its summary in the state (bounded memory), so the queries that show
 * its snapshot, and the refusal of a late vote that depends on it, read it here. Call it only for a
 * round the state has seen close: then every event of its stream is in the store. The last few are
 * kept, so paging through one round reads its stream once.
 *
 * `finished`: a round that left the state (settled, or unresolved with nothing owed; see
 * `SolutionRounds`) as the state held it before it left — what its `RoundStarted` said (the first
 * event of its stream) with its settlement (one event of consensus's stream in voting's inbox, at
 * the version the index recorded) and what the index kept (submitted votes, alerted). Two reads of
 * one event each; the last `keptFinished` are kept.
 */
export function roundArchive(
  store: EventStore,
  keptFinished = KEPT_FINISHED,
): { read(solution: string, roundId: string): Promise<Round | undefined>; finished(c: ClosedRound): Promise<Round> } {
  const kept = keptReads<Round | undefined>(KEPT);
  const done = keptReads<Round>(Math.max(1, keptFinished));
  return {
    read: (solution, roundId) => kept.read(roundKey(solution, roundId), () => store.readStream(roundStream(solution, roundId)).then(roundFromEvents)),
    finished: (c) => done.read(roundKey(c.solution, c.roundId), () => readFinished(store, c)),
  };
}

async function readFinished(store: EventStore, c: ClosedRound): Promise<Round> {
  const [[started], [settlement]] = await Promise.all([
    store.readStream(roundStream(c.solution, c.roundId), 0, 1),
    store.readStream(c.settledIn, c.settledAt, 1),
  ]);
  const s = initialVotingState();
  if (started) evolveKeepingRounds(s, started);
  const r = s.rounds.values().next().value;
  const ev = settlement && decodeVotingLog(settlement);
  if (!r || started!.type !== 'RoundStarted' || !ev || (ev.type !== 'RoundSettled' && ev.type !== 'RoundUnresolved') || ev.data.roundId !== c.roundId) {
    throw new Error(
      `round ${c.roundId} of solution ${c.solution}: its start or its settlement (${c.settledIn} v${c.settledAt}) is not in the log as the state recorded`,
    );
  }
  // As the state held it: the settlement folded as the service folds it (emptied, then its fields),
  // with what the index kept of the votes in between.
  evolveKeepingRounds(s, settlement);
  r.submitted = c.submitted;
  r.alerted = c.alerted;
  return r;
}
