import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { generateKeyPair } from '@ewx/platform';
import { REPO_ROOT, realInfra, uniqueNamespace, waitFor } from '@ewx/platform/testing';

/** A lost database or broker is waited for with backoff and logged; bad configuration fails fast. */
const run = (env: Record<string, string>) => {
  const child = spawn(process.execPath, [resolve(REPO_ROOT, 'services/registry/dist/main.js')], {
    env: { ...process.env, LOG_LEVEL: 'warn', GRPC_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return { child, out: () => out };
};

test('an unreachable database is retried with backoff and logged, not a crash', async () => {
  const p = run({ KAFKA_BROKERS: '127.0.0.1:9092', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', ADMIN_ADDRESS: generateKeyPair().address });
  try {
    await waitFor('two logged retries', () => ((p.out().match(/event store: connecting failed, retrying/g) ?? []).length >= 2 ? true : undefined), 20_000);
    assert.equal(p.child.exitCode, null, 'still running');
    assert.match(p.out(), /"retryInMs":\d+/);
  } finally {
    p.child.kill('SIGKILL');
  }
});

const { infra, skip } = await realInfra();
test('an unreachable broker is retried with backoff and logged, not a crash', { skip }, async () => {
  const p = run({
    KAFKA_BROKERS: '127.0.0.1:1',
    DATABASE_URL: infra!.databaseUrl,
    EWX_NAMESPACE: uniqueNamespace('nokafka'),
    ADMIN_ADDRESS: generateKeyPair().address,
  });
  try {
    await waitFor('a logged retry', () => (/inbox: joining the consumer group failed, retrying/.test(p.out()) ? true : undefined), 90_000, 200);
    assert.equal(p.child.exitCode, null, 'still running');
  } finally {
    p.child.kill('SIGKILL');
  }
});

test('bad configuration stops the process at once, naming the variable', async () => {
  const p = run({ KAFKA_BROKERS: '127.0.0.1:9092', DATABASE_URL: 'mysql://nope', ADMIN_ADDRESS: generateKeyPair().address });
  const code = await new Promise<number | null>((r) => p.child.once('exit', r));
  assert.equal(code, 1);
  assert.match(p.out(), /registry: configuration DATABASE_URL: expected a postgres:\/\/ connection string, got "mysql:\/\/nope"/);
});
