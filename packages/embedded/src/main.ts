import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateKeyPair, keyPairFromSeed, runEmbedded } from '@ewx/platform';
import { ALL_MODULES } from './index.js';

/**
 * The embedded mode gives the distance service a key of its own for Registry.PlaceHold (kept in
 * DATA_DIR/distance.key) and lets the registry accept it, so the admin's nonces stay the admin's.
 */
function distanceServiceKey(env: NodeJS.ProcessEnv): void {
  if (env.DISTANCE_SERVICE_KEY) return;
  const dir = env.DATA_DIR ?? '.data/embedded';
  let seed: string;
  if (dir === 'memory') seed = generateKeyPair().seed;
  else {
    const file = join(resolve(dir), 'distance.key');
    mkdirSync(resolve(dir), { recursive: true });
    if (!existsSync(file)) writeFileSync(file, generateKeyPair().seed + '\n', { mode: 0o600 });
    seed = readFileSync(file, 'utf8').trim();
  }
  env.DISTANCE_SERVICE_KEY = seed;
  env.LEDGER_SERVICE_ACCOUNTS = [env.LEDGER_SERVICE_ACCOUNTS, keyPairFromSeed(seed).address].filter(Boolean).join(',');
}

distanceServiceKey(process.env);
runEmbedded(ALL_MODULES).catch((e: Error) => {
  process.stderr.write(`ewx embedded: ${e.message}\n`);
  process.exit(1);
});
