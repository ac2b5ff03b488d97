import type { Decider } from '@ewx/platform/domain';
import { evolve } from './evolve.js';
import { initialState, type RewardsState } from './state.js';

export type { RewardsState } from './state.js';
export { evolve } from './evolve.js';
export { decide, type RewardsCommand } from './decide.js';

export const rewardsDecider: Decider<RewardsState> = { initialState, evolve };
