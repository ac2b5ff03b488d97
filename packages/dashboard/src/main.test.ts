import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const run = (env: Record<string, string | undefined>, args: string[] = []) =>
  spawnSync(process.execPath, [MAIN, ...args], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 30_000 });

test('--help prints the settings and exits 0', () => {
  const r = run({}, ['--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /EWX_ADDRESS/);
  assert.match(r.stdout, /DASHBOARD_PORT/);
});

test('no address, or a bad port: one line naming the setting, exit 1', () => {
  const none = run({});
  assert.equal(none.status, 1);
  assert.equal(none.stderr.trim().split('\n').length, 1, none.stderr);
  assert.match(none.stderr, /EWX_ADDRESS.*missing REGISTRY_ADDRESS/);
  const port = run({ EWX_ADDRESS: '127.0.0.1:1', DASHBOARD_PORT: '80x' });
  assert.equal(port.status, 1);
  assert.match(port.stderr, /^ewx dashboard: DASHBOARD_PORT: expected a port 0\.\.65535, got 80x\n$/);
});
