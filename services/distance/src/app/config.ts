import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, isSignerAddress, keyPairFromSeed, PERBILL, TOKEN, type Env, type KeyPair } from '@ewx/platform';
import { DEFAULT_VALIDITY_PERIODS, MAX_EVALUATORS, type DistanceParams } from '../domain/params.js';

/**
 * The rules' parameters from the environment (defaults: Ğ1 production values).
 * DISTANCE_PERIOD_BLOCKS (40), DISTANCE_PRICE base units (10 tokens), DISTANCE_MIN_PERBILL
 * (800000000), DISTANCE_MAX_DISTANCE (5), DISTANCE_VALIDITY_PERIODS, DISTANCE_MAX_POOL (1300),
 * EVALUATORS (comma-separated addresses, at most 100), WOT_ADMIN (default: the admin account).
 */
export function paramsFrom(env: Env, admin: string): DistanceParams {
  const price = env.optional('DISTANCE_PRICE') ?? (10n * TOKEN).toString();
  if (!/^\d{1,40}$/.test(price) || BigInt(price) === 0n) throw new ConfigError('DISTANCE_PRICE', 'a positive amount in base units', price);
  const evaluators = env.list('EVALUATORS');
  if (evaluators.length > MAX_EVALUATORS) throw new ConfigError('EVALUATORS', `at most ${MAX_EVALUATORS} addresses`, `${evaluators.length} addresses`);
  for (const e of evaluators)
    if (!isSignerAddress(e))
      throw new ConfigError('EVALUATORS', 'comma-separated ed25519:<64 hex> addresses of keys that can sign (not the treasury, not of small order)', e);
  if (new Set(evaluators).size !== evaluators.length) throw new ConfigError('EVALUATORS', 'distinct addresses', evaluators.join(','));
  const wotAdmin = env.optional('WOT_ADMIN') ?? admin;
  if (!isSignerAddress(wotAdmin))
    throw new ConfigError('WOT_ADMIN', 'ed25519:<64 hex> of a key that can sign (not the treasury, not of small order)', wotAdmin);
  return {
    periodBlocks: env.int('DISTANCE_PERIOD_BLOCKS', 40, 1, 1_000_000),
    price: BigInt(price),
    minPerbill: env.int('DISTANCE_MIN_PERBILL', Number((PERBILL * 80n) / 100n), 0, Number(PERBILL)),
    maxDistance: env.int('DISTANCE_MAX_DISTANCE', 5, 1, 64),
    validityPeriods: env.int('DISTANCE_VALIDITY_PERIODS', DEFAULT_VALIDITY_PERIODS, 1, 1_000_000_000),
    maxPoolSize: env.int('DISTANCE_MAX_POOL', 1300, 1, 100_000),
    evaluators: new Set(evaluators),
    wotAdmin,
  };
}

/**
 * The key the distance service signs Registry.PlaceHold with (DISTANCE_SERVICE_KEY, an ed25519 seed).
 * In the embedded mode without one, the embedded admin key (DATA_DIR/admin.key), which the
 * registry accepts for holds too, so `npm start` works out of the box.
 */
export function serviceKeyFrom(env: Env, mode: 'embedded' | 'standalone' = 'standalone'): KeyPair | undefined {
  const seed = env.optional('DISTANCE_SERVICE_KEY');
  if (seed === undefined) {
    const dir = env.str('DATA_DIR', '.data/embedded');
    const file = join(resolve(dir), 'admin.key');
    if (mode !== 'embedded' || dir === 'memory' || !existsSync(file)) return undefined;
    return keyPairFromSeed(readFileSync(file, 'utf8').trim());
  }
  if (!/^[0-9a-f]{64}$/i.test(seed)) throw new ConfigError('DISTANCE_SERVICE_KEY', 'an ed25519 seed, 64 hex characters', '(hidden)');
  return keyPairFromSeed(seed);
}

/** REGISTRY_ADDRESS host:port; in the embedded mode the one server at GRPC_HOST:GRPC_PORT. */
export function registryAddressFrom(env: Env, mode: 'embedded' | 'standalone'): string | undefined {
  const a = env.optional('REGISTRY_ADDRESS');
  if (a !== undefined) {
    if (!/^[^:\s]+:\d{1,5}$/.test(a)) throw new ConfigError('REGISTRY_ADDRESS', 'host:port', a);
    return a;
  }
  if (mode === 'embedded') return `${env.str('GRPC_HOST', '127.0.0.1')}:${env.int('GRPC_PORT', 50051, 0, 65535)}`;
  return undefined;
}
