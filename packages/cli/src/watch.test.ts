import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { runInMemory } from '@ewx/embedded';
import { connect, counterNonces, generateKeyPair, keySigner, type Ewx } from '@ewx/client';
import type { Embedded } from '@ewx/platform';
import { freePort } from '@ewx/platform/testing';
import { CLI, runCli, type Run } from './testing.js';

const run = (env: Record<string, string>, args: string[]): Promise<Run> => runCli(env, args, 60_000);

describe("ewx watch: a service's events, then live; Ctrl-C stops", { timeout: 400_000 }, () => {
  const admin = generateKeyPair();
  const accounts = [generateKeyPair().address, generateKeyPair().address];
  let system: Embedded;
  let client: Ewx;
  let env: Record<string, string>;

  before(async () => {
    const port = await freePort();
    system = await runInMemory(port, { ADMIN_ADDRESS: admin.address });
    env = { EWX_ADDRESS: `127.0.0.1:${port}` };
    client = connect({ address: env.EWX_ADDRESS!, signer: keySigner(admin, counterNonces()) });
    for (const a of accounts) await client.registry.deposit({ account: a, amount: '9' });
  });
  after(async () => {
    client?.close();
    await system?.stop();
  });

  test('--json --count: one JSON object per line, from the start; --from resumes after a position', async () => {
    const r = await run(env, ['watch', 'registry', '--type', 'Deposited', '--count', '2', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { position: string; type: string; data: { account: string } });
    assert.deepEqual(
      events.map((e) => [e.type, e.data.account]),
      accounts.map((a) => ['Deposited', a]),
    );
    const resumed = await run(env, ['watch', 'registry', '--type', 'Deposited', '--from', events[0]!.position, '--count', '1', '--json']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal((JSON.parse(resumed.stdout) as { position: string }).position, events[1]!.position);
    const human = await run(env, ['watch', 'registry', '--type', 'Deposited', '--count', '1']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`^${events[0]!.position} +Deposited .*${accounts[0]}`));
  });

  test('follows live from now until Ctrl-C (SIGINT), then exits 0', async () => {
    const child = spawn(process.execPath, [CLI, 'watch', 'registry', '--from', 'now', '--json'], { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const fresh = generateKeyPair().address;
    const line = new Promise<string>((resolve) =>
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out);
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Deposit until the watcher (whose start position is taken when it connects) prints one.
    const depositing = (async () => {
      for (let i = 0; !out.includes('\n') && i < 100; i++) {
        await client.registry.deposit({ account: fresh, amount: '1' });
        await Promise.race([line, new Promise((r) => setTimeout(r, 200))]);
      }
    })();
    const first = JSON.parse((await line).split('\n')[0]!) as { type: string; data: { account: string } };
    await depositing;
    assert.equal(first.type, 'Deposited');
    assert.equal(first.data.account, fresh);
    child.kill('SIGINT');
    assert.equal(await exited, 0, err);
    assert.equal(err, '');
  });

  test('bad input: one line, exit 2, nothing sent', async () => {
    for (const [args, message] of [
      [['watch', 'ledger'], /^ewx: service: expected one of registry, voting, consensus, rewards, distance, got "ledger"\n$/],
      [['watch', 'registry', '--from', 'x1'], /^ewx: --from: expected a log position/],
      [['watch', 'registry', '--count', '0'], /^ewx: --count: expected a whole number/],
      [
        ['watch', 'registry', '--type', 'no spaces', '--count', '1'],
        /^ewx: Watch refused \(INVALID_ARGUMENT\): types\[0\]: "no spaces" is not an event type name/,
      ],
    ] as const) {
      const r = await run(env, [...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.equal(r.stdout, '');
    }
    const help = await run(env, ['watch', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: ewx watch \[options\] <service>/);
    assert.match(help.stdout, /--from <position>/);
  });
});
