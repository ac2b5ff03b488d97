import { consensusModule } from '@ewx/consensus';
import { distanceModule } from '@ewx/distance';
import { registryModule } from '@ewx/registry';
import { rewardsModule } from '@ewx/rewards';
import { votingModule } from '@ewx/voting';
import type { ServiceModule } from '@ewx/platform';

/** The five services in start order: consensus first, so the clock is there when others follow it. */
export const ALL_MODULES: readonly ServiceModule[] = [consensusModule, registryModule, votingModule, rewardsModule, distanceModule];
export { embeddedKeys } from './keys.js';
export { runInMemory } from './memory.js';
