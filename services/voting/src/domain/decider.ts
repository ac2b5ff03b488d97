import type { Decider } from '@ewx/platform/domain';
import { evolve } from './evolve.js';
import { initialVotingState, type VotingState } from './state.js';

export * from './state.js';
export * from './start.js';
export * from './votes.js';
export * from './retry.js';
export { eligibleWorkers } from './eligibility.js';
export { evolve } from './evolve.js';

export const votingDecider: Decider<VotingState> = { initialState: initialVotingState, evolve };
