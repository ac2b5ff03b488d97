import type { EventStore } from '@ewx/platform';
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
  const kept = new Map<string, Promise<Round | undefined>>();
  return {
    read(solution, roundId) {
      const key = roundKey(solution, roundId);
      let r = kept.get(key);
      if (r) kept.delete(key);
      else {
        r = store.readStream(roundStream(solution, roundId)).then(roundFromEvents);
        r.catch(() => kept.delete(key));
      }
      kept.set(key, r);
      if (kept.size > KEPT) kept.delete(kept.keys().next().value!);
      return r;
    },
  };
}
