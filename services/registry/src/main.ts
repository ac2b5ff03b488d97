import { main } from '@ewx/platform';
import { registryModule } from './index.js';

main(registryModule);
