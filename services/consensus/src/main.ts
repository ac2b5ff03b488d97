import { main } from '@ewx/platform';
import { consensusModule } from './index.js';

main(consensusModule);
