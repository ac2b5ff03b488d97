import type { EventData } from '@ewx/platform';
import { spec, type Spec, type SpecDecider } from '@ewx/platform/testing';
import { reactToUnresolved } from './retry.js';
import { startRound, type Starter } from './start.js';
import { initialVotingState, type VotingState } from './state.js';
import { evolve } from './evolve.js';
import { closeRound, decideVotes, type VoteCommand } from './votes.js';

/**
 * Voting's rules as commands for the spec kit (`@ewx/platform/testing`): one vote is refused with
 * its outcome's error ('repeated' gives no event); a batch is decided together, as the API does.
 */
export type VotingSpecCommand =
  | { readonly type: 'StartRound'; readonly solution: string; readonly roundId: string; readonly starter: Starter }
  | { readonly type: 'Vote'; readonly vote: VoteCommand; readonly lastNonce?: (signer: string) => bigint }
  | { readonly type: 'Votes'; readonly votes: readonly VoteCommand[] }
  | { readonly type: 'CloseRound'; readonly solution: string; readonly roundId: string }
  | { readonly type: 'ReactToUnresolved'; readonly solution: string; readonly roundId: string };

const noNonces = (): bigint => 0n;

export const votingSpecDecider: SpecDecider<VotingState, VotingSpecCommand, EventData> = {
  initialState: initialVotingState,
  evolve,
  decide(c, s) {
    switch (c.type) {
      case 'StartRound':
        return startRound(s, c.solution, c.roundId, c.starter).events;
      case 'Vote': {
        const r = decideVotes(s, [c.vote], c.lastNonce ?? noNonces);
        const outcome = r.outcomes[0]!;
        if (typeof outcome !== 'string') throw outcome;
        return r.events;
      }
      case 'Votes':
        return decideVotes(s, c.votes, noNonces).events;
      case 'CloseRound':
        return closeRound(s, c.solution, c.roundId);
      case 'ReactToUnresolved':
        return reactToUnresolved(s, c.solution, c.roundId).events;
    }
  },
};
export type VotingSpec = Spec<VotingState, VotingSpecCommand, EventData>;

/** A spec given events (registry, rewards and consensus events as voting records them; arrays flattened). */
export const given = (...events: (EventData | readonly EventData[])[]): VotingSpec => spec(votingSpecDecider).given(...events);

export const start = (solution: string, roundId: string, starter: Starter): VotingSpecCommand => ({ type: 'StartRound', solution, roundId, starter });
export const vote = (v: VoteCommand, lastNonce?: (signer: string) => bigint): VotingSpecCommand => ({
  type: 'Vote',
  vote: v,
  ...(lastNonce ? { lastNonce } : {}),
});
