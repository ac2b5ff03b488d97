import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_RETRY, SERVICES } from '@ewx/client';
import { freePort } from '@ewx/platform/testing';
import { EXIT } from './program.js';
import { runCli } from './testing.js';

const ACCOUNT = `ed25519:${'ab'.repeat(32)}`;
const GET_ACCOUNT = '/ewx.v1.Registry/GetAccount';
const DEPOSIT = '/ewx.v1.Registry/Deposit';

/** One line on stderr, naming the method and saying the service cannot be reached. */
function assertUnreachable(r: { code: number; stdout: string; stderr: string }, method: string): void {
  assert.equal(r.code, EXIT.UNAVAILABLE, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`^ewx: cannot reach the service for ${method} \\(is the network running\\? see --address\\): [^\\n]+\\n$`));
}

describe('--no-retry and EWX_NO_RETRY: one attempt, then the error', { timeout: 120_000 }, () => {
  const keysDir = mkdtempSync(join(tmpdir(), 'ewx-no-retry-'));
  const env = { EWX_KEYS_DIR: keysDir, EWX_NO_RETRY: '' };
  /** Every unary method of the five services answers UNAVAILABLE (a service restarting) and counts the call. */
  const server = new grpc.Server();
  const calls = new Map<string, number>();
  let address = '';
  before(async () => {
    for (const def of Object.values(SERVICES)) {
      const impl: grpc.UntypedServiceImplementation = {};
      for (const [name, m] of Object.entries(def as Record<string, { path: string; responseStream: boolean }>)) {
        if (m.responseStream) continue;
        impl[name] = (_: unknown, cb: grpc.sendUnaryData<unknown>) => {
          calls.set(m.path, (calls.get(m.path) ?? 0) + 1);
          cb({ code: grpc.status.UNAVAILABLE, details: 'test: the service is restarting' });
        };
      }
      server.addService(def as unknown as grpc.ServiceDefinition, impl);
    }
    const port = await new Promise<number>((res, rej) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
    );
    address = `127.0.0.1:${port}`;
    assert.equal((await runCli(env, ['keys', 'new', 'admin'])).code, EXIT.OK);
  });
  after(() => {
    server.forceShutdown();
    rmSync(keysDir, { recursive: true, force: true });
  });
  /** The calls of `path` one CLI run makes. */
  const attempts = async (path: string, run: () => Promise<{ code: number; stdout: string; stderr: string }>, method: string): Promise<number> => {
    const before = calls.get(path) ?? 0;
    assertUnreachable(await run(), method);
    return (calls.get(path) ?? 0) - before;
  };

  test('an address nothing listens on: exit 5 and one line, with and without --no-retry', async () => {
    const nobody = `127.0.0.1:${await freePort()}`;
    assertUnreachable(await runCli(env, ['--address', nobody, '--no-retry', 'account', 'show', ACCOUNT]), 'GetAccount');
    assertUnreachable(await runCli(env, ['--address', nobody, 'account', 'show', ACCOUNT]), 'GetAccount');
  });

  test('a read (GetAccount): retried by default, one attempt with --no-retry or EWX_NO_RETRY=1', async () => {
    const read = (more: Record<string, string>, flags: string[]) => () =>
      runCli({ ...env, ...more }, ['--address', address, ...flags, 'account', 'show', ACCOUNT]);
    assert.equal(await attempts(GET_ACCOUNT, read({}, []), 'GetAccount'), DEFAULT_RETRY.maxAttempts);
    assert.equal(await attempts(GET_ACCOUNT, read({}, ['--no-retry']), 'GetAccount'), 1);
    assert.equal(await attempts(GET_ACCOUNT, read({ EWX_NO_RETRY: '1' }, []), 'GetAccount'), 1);
  });

  test('a signed command (Deposit): sent again by default, one attempt with --no-retry or EWX_NO_RETRY=1', async () => {
    const deposit = (more: Record<string, string>, flags: string[]) => () =>
      runCli({ ...env, ...more }, ['--address', address, ...flags, 'admin', 'deposit', ACCOUNT, '1']);
    assert.equal(await attempts(DEPOSIT, deposit({}, []), 'Deposit'), DEFAULT_RETRY.maxAttempts);
    assert.equal(await attempts(DEPOSIT, deposit({}, ['--no-retry']), 'Deposit'), 1);
    assert.equal(await attempts(DEPOSIT, deposit({ EWX_NO_RETRY: 'true' }, []), 'Deposit'), 1);
  });

  test('EWX_NO_RETRY other than 1, true, 0, false or empty: exit 2 naming the variable, nothing sent', async () => {
    const before = calls.get(GET_ACCOUNT) ?? 0;
    const r = await runCli({ ...env, EWX_NO_RETRY: 'yes' }, ['--address', address, 'account', 'show', ACCOUNT]);
    assert.equal(r.code, EXIT.USAGE);
    assert.equal(r.stderr, 'ewx: EWX_NO_RETRY: expected 1 or true (no retries) or 0, false or empty (retries), got "yes"\n');
    assert.equal(calls.get(GET_ACCOUNT) ?? 0, before);
  });

  test('--help lists --no-retry and its variable', async () => {
    const r = await runCli(env, ['--help']);
    assert.equal(r.code, EXIT.OK);
    assert.match(r.stdout, /--no-retry\s+fail at the first UNAVAILABLE[\s\S]*EWX_NO_RETRY=1/);
  });
});
