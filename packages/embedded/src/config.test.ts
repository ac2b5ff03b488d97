import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, runStandalone, type ServiceModule } from '@ewx/platform';
import { ALL_MODULES } from './index.js';

/**
 * Fail fast: every variable is parsed and checked before any connection is attempted. The store
 * and the broker here are unreachable (port 1), so a service that read a setting only after
 * connecting would sit in its connect loop instead of answering with the bad variable.
 */
const UNREACHABLE = {
  KAFKA_BROKERS: '127.0.0.1:1',
  DATABASE_URL: 'postgres://nobody@127.0.0.1:1/nothing',
  ADMIN_ADDRESS: `ed25519:${'11'.repeat(32)}`,
  GRPC_PORT: '0',
  LOG_LEVEL: 'error',
};
const module = (name: string): ServiceModule => ALL_MODULES.find((m) => m.name === name)!;

async function refusedQuickly(m: ServiceModule, env: Record<string, string>, variable: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${m.name}: no configuration error within 10 s (still connecting?)`)), 10_000);
  });
  try {
    await assert.rejects(Promise.race([runStandalone(m, { ...UNREACHABLE, ...env }), timeout]), (e: unknown) => {
      assert.ok(e instanceof ConfigError, `${m.name}: ${(e as Error).message}`);
      assert.match((e as Error).message, new RegExp(`^configuration ${variable}: expected`));
      return true;
    });
  } finally {
    clearTimeout(timer);
  }
}

describe('fail fast: a bad setting is reported while the store and broker are unreachable', () => {
  const cases: [string, Record<string, string>, string][] = [
    ['consensus', { VALIDATORS: 'ed25519:not-a-key' }, 'VALIDATORS'],
    ['consensus', { BLOCK_TIME_MS: '5' }, 'BLOCK_TIME_MS'],
    ['consensus', { BLOCK_RUN_MAX: '0' }, 'BLOCK_RUN_MAX'],
    ['rewards', { BLOCK_TIME_MS: '5' }, 'BLOCK_TIME_MS'],
    ['consensus', { VALIDATOR_KEY_FILE: '/nonexistent/seed' }, 'VALIDATOR_KEY_FILE'],
    ['registry', { LEDGER_SERVICE_ACCOUNTS: 'alice' }, 'LEDGER_SERVICE_ACCOUNTS'],
    ['voting', { VOTE_VERIFY_THREADS: '999' }, 'VOTE_VERIFY_THREADS'],
    ['rewards', { REWARD_PERIOD_BLOCKS: '0' }, 'REWARD_PERIOD_BLOCKS'],
    ['distance', { EVALUATORS: 'bob' }, 'EVALUATORS'],
    ['distance', { DISTANCE_REDRIVE_MS: '1' }, 'DISTANCE_REDRIVE_MS'],
    ['distance', { REGISTRY_ADDRESS: 'registry' }, 'REGISTRY_ADDRESS'],
    ['distance', { GRPC_CLIENT_TLS_CA_FILE: '/nonexistent/ca.crt' }, 'GRPC_CLIENT_TLS_CA_FILE'],
    ['registry', { KAFKA_PARTITIONS: '0' }, 'KAFKA_PARTITIONS'],
    ['voting', { KAFKA_SASL_MECHANISM: 'md5', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }, 'KAFKA_SASL_MECHANISM'],
    ['voting', { KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u' }, 'KAFKA_SASL_PASSWORD'],
    ['rewards', { GRPC_TLS_CERT_FILE: '/nonexistent/tls.crt' }, 'GRPC_TLS_CERT_FILE'],
    ['rewards', { GRPC_HEALTH_PORT: 'eighty' }, 'GRPC_HEALTH_PORT'],
    ['voting', { CONSENSUS_ADDRESS: 'consensus' }, 'CONSENSUS_ADDRESS'],
    ['registry', { CONSENSUS_ADDRESS: 'consensus:x' }, 'CONSENSUS_ADDRESS'],
  ];
  for (const [name, env, variable] of cases) {
    test(`${name}: ${variable}`, () => refusedQuickly(module(name), env, variable));
  }
});
