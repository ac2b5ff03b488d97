import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readEnv } from './config.js';
import { ConfigError } from './errors.js';
import { runStandalone } from './host.js';

test('config: a bad value names the variable and what it expects', () => {
  const env = readEnv({ GRPC_PORT: 'eighty', MODE: 'fast' });
  assert.throws(
    () => env.int('GRPC_PORT', 1, 0, 65535),
    (e) => e instanceof ConfigError && /GRPC_PORT: expected an integer from 0 to 65535, got "eighty"/.test(e.message),
  );
  assert.throws(() => env.oneOf('MODE', ['slow', 'safe'], 'safe'), /MODE: expected one of slow, safe, got "fast"/);
  assert.throws(() => env.str('MISSING'), /MISSING: expected a value, got \(unset\)/);
  assert.equal(env.int('UNSET', 7, 0, 10), 7);
});

test('config: a standalone service refuses to start without its infrastructure, naming the variable', async () => {
  const module = {
    name: 'registry' as const,
    protoFile: 'ewx/v1/registry.proto',
    create: async () => {
      throw new Error('must not be reached');
    },
  };
  await assert.rejects(runStandalone(module, {}), /KAFKA_BROKERS: expected comma-separated host:port/);
  await assert.rejects(runStandalone(module, { KAFKA_BROKERS: 'localhost' }), /KAFKA_BROKERS: expected host:port entries, got "localhost"/);
  await assert.rejects(runStandalone(module, { KAFKA_BROKERS: 'k:9092' }), /ADMIN_ADDRESS: expected ed25519/);
  const admin = 'ed25519:' + '11'.repeat(32);
  await assert.rejects(runStandalone(module, { KAFKA_BROKERS: 'k:9092', ADMIN_ADDRESS: admin }), /DATABASE_URL: expected postgres:\/\//);
  await assert.rejects(
    runStandalone(module, { KAFKA_BROKERS: 'k:9092', ADMIN_ADDRESS: admin, DATABASE_URL: 'mysql://x' }),
    /DATABASE_URL: expected a postgres:\/\/ connection string, got "mysql:\/\/x"/,
  );
  await assert.rejects(
    runStandalone(module, { KAFKA_BROKERS: 'k:9092', ADMIN_ADDRESS: admin, KURRENTDB_URL: 'http://x' }),
    /KURRENTDB_URL: expected a kurrentdb:\/\//,
  );
  await assert.rejects(runStandalone(module, { KAFKA_BROKERS: 'k:9092', ADMIN_ADDRESS: admin, GRPC_PORT: '99999' }), /GRPC_PORT/);
  await assert.rejects(
    runStandalone(module, { KAFKA_BROKERS: 'k:9092', ADMIN_ADDRESS: admin, EWX_NAMESPACE: 'Bad-Name', DATABASE_URL: 'postgres://x/y' }),
    /EWX_NAMESPACE/,
  );
});
