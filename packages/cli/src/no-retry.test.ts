import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_RETRY } from '@ewx/client';
import { unaryServer, type UnaryServer } from '@ewx/client/testing';
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
  let server: UnaryServer;
  let address = '';
  before(async () => {
    server = await unaryServer((_path, _call, callback) => callback({ code: grpc.status.UNAVAILABLE, details: 'test: the service is restarting' }));
    address = `127.0.0.1:${server.port}`;
    assert.equal((await runCli(env, ['keys', 'new', 'admin'])).code, EXIT.OK);
  });
  after(() => {
    server.close();
    rmSync(keysDir, { recursive: true, force: true });
  });
  /** The calls of `path` one CLI run makes. */
  const attempts = async (path: string, run: () => Promise<{ code: number; stdout: string; stderr: string }>, method: string): Promise<number> => {
    const before = server.calls(path);
    assertUnreachable(await run(), method);
    return server.calls(path) - before;
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

  test('ewx wait: with --no-retry the first failing check ends the wait (exit 5, one line), no read retried', async () => {
    const STATUS = (n: string) => `/ewx.v1.${n}/GetStatus`;
    const services = ['Registry', 'Voting', 'Consensus', 'Rewards', 'Distance'];
    const before = services.map((n) => server.calls(STATUS(n)));
    const r = await runCli(env, ['--address', address, '--no-retry', 'wait', 'height', '5', '--timeout', '60']);
    assertUnreachable(r, 'GetStatus');
    // Per service: the position for its Watch stream, read again by the stream when it failed, and one
    // check; never an attempt repeated by the retry policy (${DEFAULT_RETRY.maxAttempts} per read).
    const sent = services.map((n, i) => server.calls(STATUS(n)) - before[i]!);
    for (const [i, n] of sent.entries()) assert.ok(n >= 1 && n <= 3, `${services[i]}: ${n} GetStatus calls`);
  });

  test('EWX_NO_RETRY other than 1, true, 0, false or empty: exit 2 naming the variable, nothing sent', async () => {
    const before = server.calls(GET_ACCOUNT);
    const r = await runCli({ ...env, EWX_NO_RETRY: 'yes' }, ['--address', address, 'account', 'show', ACCOUNT]);
    assert.equal(r.code, EXIT.USAGE);
    assert.equal(r.stderr, 'ewx: EWX_NO_RETRY: expected 1 or true (no retries) or 0, false or empty (retries), got "yes"\n');
    assert.equal(server.calls(GET_ACCOUNT), before);
  });

  test('--help lists --no-retry and its variable', async () => {
    const r = await runCli(env, ['--help']);
    assert.equal(r.code, EXIT.OK);
    assert.match(r.stdout, /--no-retry\s+fail at the first UNAVAILABLE[\s\S]*EWX_NO_RETRY=1/);
  });
});
