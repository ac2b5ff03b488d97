import { main } from '@ewx/platform';
import { rewardsModule } from './index.js';

main(rewardsModule);
