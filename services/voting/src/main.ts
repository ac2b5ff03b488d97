import { main } from '@ewx/platform';
import { votingModule } from './index.js';

main(votingModule);
