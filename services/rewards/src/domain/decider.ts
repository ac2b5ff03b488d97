import type { ServiceDecider } from '@ewx/platform/domain';
import { decide, streamOf, type RewardsCommand } from './decide.js';
import { evolve } from './evolve.js';
import { initialState, type RewardsState } from './state.js';

export type { RewardsState } from './state.js';
export { evolve } from './evolve.js';
export { decide, streamOf, type RewardsCommand } from './decide.js';

export const rewardsDecider: ServiceDecider<RewardsState, RewardsCommand> = { initialState, evolve, decide, streamOf };
