import { keptReads, type EventStore } from '@ewx/platform';
import { roundFromEvents, roundKey, roundStream, type Round } from '../domain/decider.js';

/** Closed rounds read back per query, kept: a closed round's events never change. */
const KEPT = 16;

/**
 * Closed rounds as they stood while Active (snapshot and votes), read from their own stream in the
 * log: a closed round keeps only its summary in the state (bounded memory), so the queries that show
 * its snapshot, and the refusal of a late vote that depends on it, read it here. Call it only for a
 * round the state has seen close: then every event of its stream is in the store. The last few are
 * kept, so paging through one round reads its stream once.
 */
export function roundArchive(store: EventStore): { read(solution: string, roundId: string): Promise<Round | undefined> } {
  const kept = keptReads<Round | undefined>(KEPT);
  return { read: (solution, roundId) => kept.read(roundKey(solution, roundId), () => store.readStream(roundStream(solution, roundId)).then(roundFromEvents)) };
}
