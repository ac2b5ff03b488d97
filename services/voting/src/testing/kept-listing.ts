import type { Runtime } from '@ewx/platform';
import type { ListingEntry, RoundListing } from '../app/listing.js';
import type { VotingState } from '../domain/decider.js';

/**
 * The listing of a runtime whose fold keeps every round (`evolveKeepingRounds`, the state before
 * finished rounds left it): its own rounds, never deleted, in the order they were first started (a
 * Map keeps the order of insertion), numbered from 1 over all solutions as the listing numbers them. A reference for tests and benches: nothing of the service's
 * listing projection is used.
 */
export function keptRoundsListing(runtime: Runtime<VotingState>): RoundListing {
  const entries = (solution: string): ListingEntry[] =>
    [...runtime.state().rounds.values()]
      .map((r, i) => ({ r, seq: i + 1 }))
      .filter(({ r }) => r.solution === solution)
      .map(({ r, seq }) => ({
        solution: r.solution,
        roundId: r.roundId,
        seq,
        status: r.status,
        alerted: r.alerted,
        endBlock: r.endBlock,
        submitted: r.submitted ?? r.votes.size,
        settledAt: r.settledAt ?? -1,
        retryOnce: r.unresolvedPolicy === 'RETRY_ONCE',
        pending: false,
        retried: r.retried === true,
        retired: false,
      }));
  return {
    catchUp: async () => undefined,
    get: async (solution, roundId) => entries(solution).find((x) => x.roundId === roundId),
    async page(solution, status, after, size) {
      const all = entries(solution).filter((x) => x.seq > after && (status === undefined || x.status === status));
      return { entries: all.slice(0, size), more: size < all.length };
    },
  };
}
