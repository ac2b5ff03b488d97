import { runEmbedded } from '@ewx/platform';
import { ALL_MODULES } from './index.js';

runEmbedded(ALL_MODULES).catch((e: Error) => {
  process.stderr.write(`ewx embedded: ${e.message}\n`);
  process.exit(1);
});
