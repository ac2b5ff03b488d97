import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runInMemory } from '@ewx/embedded';
import type { Embedded } from '@ewx/platform';
import { freePort } from '@ewx/platform/testing';
import { runCli, type Run } from './testing.js';

const README = fileURLToPath(new URL('../../../README.md', import.meta.url));
const TOKEN = 10n ** 18n;

/** The shell lines of the README's "First reward with the CLI" block. */
function readmeLines(): string[] {
  const text = readFileSync(README, 'utf8');
  const section = text.slice(text.indexOf('## First reward with the CLI'));
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  assert.ok(block, 'the README has the walkthrough block');
  return block[1]!
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** Shell words of one `ewx …` line: double quotes group, `#` starts a comment. */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(#.*$)|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    if (m[2] !== undefined) break;
    out.push(m[1] ?? m[3]!);
  }
  return out;
}

/** Runs the built CLI (as a child process: the services answer from this process). */
const ewx = (env: Record<string, string>, args: string[]): Promise<Run> => runCli(env, args, 180_000);

describe("first reward with the CLI: the README's commands against the embedded system", { timeout: 900_000 }, () => {
  const keysDir = mkdtempSync(join(tmpdir(), 'ewx-walkthrough-'));
  let system: Embedded | undefined;
  let env: Record<string, string>;
  after(async () => {
    await system?.stop();
    rmSync(keysDir, { recursive: true, force: true });
  });

  test('from nothing to a claimed reward; bad input exits non-zero with one line and changes nothing', async (t) => {
    env = { EWX_KEYS_DIR: keysDir, EWX_ADDRESS: `127.0.0.1:${await freePort()}` };
    const outputs = new Map<string, Run>();
    const timings: string[] = [];
    const lines = readmeLines();
    assert.ok(lines.filter((l) => l.startsWith('ewx ')).length >= 20);
    for (const line of lines) {
      if (line.includes('npm start')) {
        // `ADMIN_ADDRESS=$(ewx keys show admin -q) BLOCK_TIME_MS=manual DATA_DIR=memory npm start`, in this process.
        assert.match(line, /BLOCK_TIME_MS=manual DATA_DIR=memory/);
        const admin = (await ewx(env, ['keys', 'show', 'admin', '-q'])).stdout.trim();
        system = await runInMemory(env.EWX_ADDRESS!.split(':')[1], { ADMIN_ADDRESS: admin });
        continue;
      }
      if (!line.startsWith('ewx ')) continue;
      const t0 = Date.now();
      const run = await ewx(env, words(line).slice(1));
      timings.push(`${Date.now() - t0} ms  ${line}`);
      assert.equal(run.code, 0, `${line}\n${run.stderr}${run.stdout}`);
      outputs.set(words(line).slice(1).join(' '), run);
    }

    t.diagnostic(`step timings:\n${timings.join('\n')}`);
    // Key files: 0600, addresses printed.
    assert.equal(statSync(join(keysDir, 'operator.key')).mode & 0o777, 0o600);
    assert.match(outputs.get('keys new operator')!.stdout, /address\s+ed25519:[0-9a-f]{64}/);
    const operator = (await ewx(env, ['keys', 'show', 'operator', '-q'])).stdout.trim();

    // The round settled on the worker's vote.
    assert.match(outputs.get('round show demo.solution round-1')!.stdout, /state\s+SETTLED/);
    assert.match(outputs.get('round show demo.solution round-1')!.stdout, /result\s+c0ffee/);

    // 100 blocks × (1 token subscription + 1 token voting reward), to the only operator.
    const expected = (200n * TOKEN).toString();
    const rewards = JSON.parse(outputs.get('operator rewards --group demo.group --period 1 --json')!.stdout);
    assert.deepEqual([rewards.closed, rewards.eligibleRounds, rewards.correctVotes, rewards.slaMet], [true, 1, 1, true]);
    assert.deepEqual([rewards.base, rewards.active, rewards.total], [(100n * TOKEN).toString(), (100n * TOKEN).toString(), expected]);
    const claim = JSON.parse(outputs.get('operator claim demo.group --json')!.stdout);
    assert.equal(claim.total, expected);
    assert.deepEqual(claim.claimed, [{ group: 'demo.group', amount: expected }]);
    assert.equal(claim.operator, operator);
    // 100 deposited, 10 staked, 200 claimed.
    assert.match(outputs.get('account show operator')!.stdout, /free\s+290\n/);

    // Reads, human and --json.
    const status = JSON.parse((await ewx(env, ['status', '--json'])).stdout) as { service: string; height: string }[];
    assert.deepEqual(
      status.map((s) => [s.service, s.height]),
      ['registry', 'voting', 'consensus', 'rewards', 'distance'].map((n) => [n, '202']),
    );
    assert.match((await ewx(env, ['status'])).stdout, /^SERVICE\s+HEIGHT\s+LOG_POSITION\nregistry\s+202\s+\d+/);
    const group = JSON.parse((await ewx(env, ['group', 'show', 'demo.group', '--json'])).stdout);
    assert.equal(group.budget, (300n * TOKEN).toString());
    assert.equal(group.operators, 1);
    assert.match((await ewx(env, ['operator', 'rewards'])).stdout, /demo\.group\s+200\s+200\s+0/);

    // Bad input: one line on stderr, a non-zero exit, nothing changed.
    const before = JSON.parse((await ewx(env, ['account', 'show', 'operator', '--json'])).stdout);
    const refusals: [string[], number, RegExp][] = [
      [['admin', 'deposit', 'operator', 'abc'], 2, /^ewx: amount: expected tokens/],
      [['admin', 'deposit', 'operator', '-5'], 2, /^error: unknown option '-5'|^ewx: amount/],
      [['admin', 'deposit', 'operator', '1.0000000000000000001'], 2, /^ewx: amount: .*at most 18 decimals/],
      [['admin', 'deposit', 'operator', '5', '--key', 'nobody'], 2, /^ewx: key file not found: .*nobody\.key/],
      [['operator', 'subscribe', 'no.such.group', '10'], 3, /^ewx: Subscribe refused \(NOT_FOUND\): /],
      [['group', 'show', 'no.such.group'], 3, /^ewx: GetGroup refused \(NOT_FOUND\): .*no\.such\.group/],
      [['admin', 'deposit', 'operator', '5', '--key', 'operator'], 4, /^ewx: Deposit refused \(PERMISSION_DENIED\): .*admin/],
      [['operator', 'subscribe', 'demo.group', '1000'], 2, /^ewx: Subscribe refused \(INVALID_ARGUMENT\): stake: /],
      [['operator', 'subscribe', 'demo.group', '10'], 4, /^ewx: Subscribe refused \((FAILED_PRECONDITION|ALREADY_EXISTS)\): /],
      [['solution', 'nominate', 'demo.solution', 'worker'], 4, /^ewx: NominateWorker refused \(FAILED_PRECONDITION\): .*nominations are off/],
      [['round', 'start', 'demo.solution', 'round-1'], 4, /^ewx: StartRound refused \(ALREADY_EXISTS\)/],
      [['worker', 'vote', 'demo.solution', 'round-1', 'c0ffee', '--key', 'operator'], 4, /^ewx: SubmitVote refused/],
      [['worker', 'vote', 'demo.solution', 'round-1', 'zz'], 2, /^ewx: result-hex: expected 1 to 64 bytes as hex/],
      [['admin', 'produce-blocks', '0'], 2, /^ewx: count: expected a whole number from 1/],
      [['keys', 'new', 'operator'], 2, /^ewx: key operator: .* already exists/],
      [['round', 'show'], 2, /^error: missing required argument 'solution'/],
      [['status', '--address', '127.0.0.1:1'], 5, /^ewx: cannot reach the service/],
    ];
    for (const [args, code, message] of refusals) {
      const r = await ewx(env, args);
      assert.equal(r.code, code, `ewx ${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line for ewx ${args.join(' ')}: ${r.stderr}`);
      assert.match(lines[0]!, message);
      assert.equal(r.stdout, '');
    }
    assert.deepEqual(JSON.parse((await ewx(env, ['account', 'show', 'operator', '--json'])).stdout), before);
    assert.equal(JSON.parse((await ewx(env, ['status', '--json'])).stdout)[2].height, '202');

    // Admin: the period length from the next period on.
    const set = JSON.parse((await ewx(env, ['admin', 'set-period-length', '20', '--json'])).stdout);
    assert.deepEqual(set.entry, { fromPeriod: 3, firstBlock: '301', length: 20 });
  });
});
