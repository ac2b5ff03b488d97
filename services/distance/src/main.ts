import { main } from '@ewx/platform';
import { distanceModule } from './index.js';

main(distanceModule);
