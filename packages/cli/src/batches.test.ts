import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generateKeyPair } from '@ewx/client';
import { runInMemory } from '@ewx/embedded';
import type { Embedded } from '@ewx/platform';
import { freePort } from '@ewx/platform/testing';
import { runCli, type Run } from './testing.js';

/** Runs the built CLI (as a child process: the services answer from this process). */
const ewx = (env: Record<string, string>, args: string[]): Promise<Run> => runCli(env, args, 180_000);

const TOKEN = 10n ** 18n;

/** `ewx admin deposit-batch`, `ewx solution nominate-batch` and `ewx account list` against the embedded system. */
describe('CLI batches and the account list', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ewx-batches-'));
  let system: Embedded | undefined;
  let env: Record<string, string>;
  const run = async (...args: string[]) => ewx(env, args);
  before(async () => {
    env = { EWX_KEYS_DIR: join(dir, 'keys'), EWX_ADDRESS: `127.0.0.1:${await freePort()}` };
    for (const k of ['admin', 'registrar']) assert.equal((await run('keys', 'new', k)).code, 0);
    const admin = (await run('keys', 'show', 'admin', '-q')).stdout.trim();
    system = await runInMemory(env.EWX_ADDRESS!.split(':')[1], { ADMIN_ADDRESS: admin });
    assert.equal((await run('admin', 'produce-blocks', '1')).code, 0);
  });
  after(async () => {
    await system?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('deposit-batch: every line applied but the refused one, which is named; bad files change nothing', async () => {
    const accounts = Array.from({ length: 25 }, () => generateKeyPair().address);
    const csv = join(dir, 'accounts.csv');
    writeFileSync(csv, ['account,amount', '# comment', 'registrar,1000', ...accounts.map((a, i) => `${a},${i + 1}`), ''].join('\n'));
    const ok = await run('admin', 'deposit-batch', csv, '--chunk', '10', '--json');
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(JSON.parse(ok.stdout), { total: 26, applied: 26, refused: 0, refusedItems: [] });
    const shown = JSON.parse((await run('account', 'show', accounts[24]!, '--json')).stdout);
    assert.equal(shown.free, (25n * TOKEN).toString());

    // Signed by a non-admin key: every item refused, one line, exit 4 (refused).
    const bad = await run('admin', 'deposit-batch', csv, '--key', 'registrar');
    assert.equal(bad.code, 4, bad.stderr);
    assert.match(bad.stderr, /^ewx: 26 of 26 deposits refused \(the other 0 applied\); first: line 3: auth\.signer: /);
    assert.equal(bad.stderr.trim().split('\n').length, 1);

    // A malformed line: usage error naming the line, nothing sent.
    writeFileSync(csv, `${accounts[0]},1\n${accounts[1]},lots\n`);
    const before = JSON.parse((await run('account', 'show', accounts[0]!, '--json')).stdout).free;
    const usage = await run('admin', 'deposit-batch', csv);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /^ewx: line 2: amount: expected tokens/);
    assert.equal(JSON.parse((await run('account', 'show', accounts[0]!, '--json')).stdout).free, before);
    const missing = await run('admin', 'deposit-batch', join(dir, 'nope.csv'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^ewx: file: cannot read/);
    assert.equal((await run('admin', 'deposit-batch', csv, '--chunk', '1001')).code, 2);
  });

  test('solution nominate-batch: nominated in batches, a repeat is refused and named; --remove unnominates', async () => {
    for (const line of [
      ['registrar', 'sign-up', '--name', 'Batch registrar', '--location', 'DE'],
      ['group', 'create', 'batch.group', '--budget', '500', '--min-stake', '10', '--max-stake', '100', '--subscription-reward', '1', '--voting-reward', '1'],
      ['solution', 'create', 'batch.solution', '--group', 'batch.group', '--logic-ref', 'bafy-batch', '--max-waiting', '3', '--nominations'],
    ]) {
      const r = await run(...line);
      assert.equal(r.code, 0, `${line.join(' ')}: ${r.stderr}`);
    }
    const workers = Array.from({ length: 12 }, () => generateKeyPair().address);
    const file = join(dir, 'workers.txt');
    writeFileSync(file, [...workers, workers[3]].join('\n'));
    const r = await run('solution', 'nominate-batch', 'batch.solution', file, '--chunk', '5', '--json');
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /^ewx: 1 of 13 nominations refused \(the other 12 applied\); first: line 13: worker: nomination of /);
    const out = JSON.parse(r.stdout);
    assert.deepEqual([out.applied, out.refused, out.refusedItems[0].line, out.refusedItems[0].code], [12, 1, 13, 6]);
    const shown = JSON.parse((await run('solution', 'show', 'batch.solution', '--json')).stdout);
    assert.deepEqual([...shown.nominatedWorkers].sort(), [...workers].sort());
    writeFileSync(file, workers.slice(0, 4).join('\n'));
    const un = await run('solution', 'nominate-batch', 'batch.solution', file, '--remove');
    assert.equal(un.code, 0, un.stderr);
    assert.match(un.stdout, /^4 unnominations applied/);
    const after = JSON.parse((await run('solution', 'show', 'batch.solution', '--json')).stdout);
    assert.deepEqual([...after.nominatedWorkers].sort(), workers.slice(4).sort());
  });

  test('account list: every account in address order, paged, as a table and as JSON', async () => {
    const json = await run('account', 'list', '--page-size', '4', '--json');
    assert.equal(json.code, 0, json.stderr);
    const list = JSON.parse(json.stdout) as { address: string; free: string }[];
    assert.ok(list.length >= 26, `${list.length} accounts`);
    assert.deepEqual(
      list.map((a) => a.address),
      list.map((a) => a.address).sort(),
    );
    const table = await run('account', 'list');
    assert.match(table.stdout, /^ACCOUNT\s+FREE\s+RESERVED\s+UNCLAIMED\n/);
    assert.equal(table.stdout.trim().split('\n').length, list.length + 1);
    const limited = JSON.parse((await run('account', 'list', '--limit', '3', '--page-size', '2', '--json')).stdout);
    assert.deepEqual(limited, list.slice(0, 3));
    assert.equal((await run('account', 'list', '--page-size', '501')).code, 2);
  });
});
