import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateKeyPair, keyPairFromSeed } from '@ewx/platform';

/**
 * A seed kept in DATA_DIR/<file> (0600), made on first start, like admin.key: a restart on the
 * same folder signs with the same key. `memory` keeps nothing, so a throwaway seed.
 */
function keptSeed(env: NodeJS.ProcessEnv, file: string): string {
  const dir = env.DATA_DIR ?? '.data/embedded';
  if (dir === 'memory') return generateKeyPair().seed;
  const path = join(resolve(dir), file);
  mkdirSync(resolve(dir), { recursive: true });
  if (!existsSync(path)) writeFileSync(path, generateKeyPair().seed + '\n', { mode: 0o600 });
  return readFileSync(path, 'utf8').trim();
}

/**
 * The keys the embedded mode keeps in its data folder besides the admin's:
 * - distance.key: the distance service's own account for Registry.PlaceHold, which the registry
 *   accepts (LEDGER_SERVICE_ACCOUNTS), so the admin's nonces stay the admin's;
 * - validator.key: the one validator's key (VALIDATOR_KEY, a set of one). Without it every start
 *   made a new validator, which recorded a new set and attested every decided round again: a
 *   restart or a replay grew the consensus log. Given VALIDATORS or VALIDATOR_KEY, nothing is kept.
 */
export function embeddedKeys(env: NodeJS.ProcessEnv): void {
  if (!env.DISTANCE_SERVICE_KEY) {
    const seed = keptSeed(env, 'distance.key');
    env.DISTANCE_SERVICE_KEY = seed;
    env.LEDGER_SERVICE_ACCOUNTS = [env.LEDGER_SERVICE_ACCOUNTS, keyPairFromSeed(seed).address].filter(Boolean).join(',');
  }
  if (!env.VALIDATOR_KEY && !env.VALIDATORS) env.VALIDATOR_KEY = keptSeed(env, 'validator.key');
}
