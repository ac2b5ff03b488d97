import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

interface Line {
  event: string;
  atMs: number;
  [k: string]: unknown;
}

test('npm run demo: a first reward is credited, honest operators earn more, Ctrl-C stops cleanly and removes the data folder', {
  timeout: 300_000,
}, async (t) => {
  const child = spawn(process.execPath, [MAIN, '--workers', '5', '--wrong', '1', '--silent', '1', '--block-ms', '100', '--json', '--dashboard', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Line[] = [];
  let err = '';
  let buffer = '';
  let onLine: (() => void) | undefined;
  child.stdout.on('data', (b: Buffer) => {
    buffer += b;
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const p of parts) if (p.trim()) lines.push(JSON.parse(p) as Line);
    onLine?.();
  });
  child.stderr.on('data', (b: Buffer) => {
    err += b;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const until = (event: string, ms: number): Promise<Line> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${event} line after ${ms} ms: ${JSON.stringify(lines.map((l) => l.event))} ${err}`)), ms);
      onLine = () => {
        const l = lines.find((x) => x.event === event);
        if (l) {
          clearTimeout(timer);
          resolve(l);
        }
      };
      onLine();
    });
  try {
    const ready = await until('ready', 240_000);
    assert.deepEqual(ready.kinds, ['honest', 'honest', 'honest', 'wrong', 'silent']);
    assert.ok(existsSync(ready.dataDir as string), 'the data folder exists while the demo runs');
    // The dashboard serves the demo's network (its views are checked in a browser in packages/dashboard).
    const network = (await (await fetch(new URL('api/network', ready.dashboard as string))).json()) as { groups?: unknown[] };
    assert.ok(Array.isArray(network.groups) && network.groups.length === 1, JSON.stringify(network).slice(0, 300));
    const first = await until('first-reward', 120_000);
    // Its audit view reads the demo's own logs while it runs: every service's log replayed.
    const audit = await fetch(new URL('api/audit', ready.dashboard as string));
    const summary0 = (await audit.json()) as { source?: string; events?: number; services?: { service: string; events: number }[] };
    assert.equal(audit.status, 200, JSON.stringify(summary0).slice(0, 300));
    assert.match(summary0.source ?? '', /^the running demo \(/);
    assert.deepEqual(
      summary0.services?.map((x) => x.service),
      ['registry', 'voting', 'consensus', 'rewards', 'distance'],
    );
    assert.ok(summary0.services!.every((x) => x.events > 0) && summary0.events! > 0, JSON.stringify(summary0.services));
    t.diagnostic(
      `ready after ${ready.atMs} ms, first reward ${first.atMs - ready.atMs} ms later (${first.atMs} ms after start; the machine is shared, see the report)`,
    );
    assert.ok(BigInt(first.paid as string) > 0n);
    // Period 1 is the first with active stakes: its rewards are the first.
    assert.equal(first.period, 1);
    child.kill('SIGINT');
    assert.equal(await exited, 0, err);
    const summary = lines.find((l) => l.event === 'summary')!;
    assert.equal(summary.why, 'Ctrl-C');
    const ops = summary.operators as { kind: string; earned: string; slaLast?: number }[];
    const earned = (kind: string): bigint[] => ops.filter((o) => o.kind === kind).map((o) => BigInt(o.earned));
    // Honest operators met the SLA: base and voting rewards; the wrong and the silent one: base only.
    const [honestLeast] = earned('honest').sort((a, b) => (a < b ? -1 : 1));
    assert.ok(earned('wrong')[0]! > 0n && earned('silent')[0]! > 0n, 'everyone with active stake earns the base reward');
    assert.ok(honestLeast! > earned('wrong')[0]! && honestLeast! > earned('silent')[0]!, JSON.stringify(ops));
    assert.ok((summary.rounds as { settled: number }).settled >= 1);
    const outcomes = summary.outcomes as Record<string, Record<string, number>>;
    assert.ok(outcomes.honest!.accepted >= 3 && outcomes.wrong!.accepted >= 1, JSON.stringify(outcomes));
    assert.equal(outcomes.silent!.accepted, 0);
    assert.ok(outcomes.silent!.abstained >= 1);
    assert.equal(existsSync(ready.dataDir as string), false, 'the temporary data folder is removed');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('npm run demo refuses impossible proportions with one line and exit 2', async () => {
  const child = spawn(process.execPath, [MAIN, '--workers', '2', '--wrong', '2', '--silent', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b: Buffer) => {
    err += b;
  });
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 2);
  assert.match(err.trim(), /^demo: --wrong 2 and --silent 1 add up to more than --workers 2$/);
});
