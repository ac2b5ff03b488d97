import { runEmbedded } from '@ewx/platform';
import { embeddedKeys } from './keys.js';
import { ALL_MODULES } from './index.js';

embeddedKeys(process.env);
runEmbedded(ALL_MODULES).catch((e: Error) => {
  process.stderr.write(`ewx embedded: ${e.message}\n`);
  process.exit(1);
});
