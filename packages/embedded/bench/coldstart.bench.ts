/**
 * The embedded system's cold start (empty data folder → health SERVING) and idle memory, as
 * `npm start` runs it (packages/embedded/dist/main.js, the dashboard beside it on a free port),
 * against the goals of issue 13: < 2 s, < 200 MB.
 *
 * Per run: a new data folder; the time from spawn to SERVING; the process's RSS at SERVING, after
 * 3 s idle, and after a full GC (the child runs with --expose-gc and a one-line hook that collects
 * on SIGUSR2); the load average. The machine's cluster templates (EWX_PGLITE_TEMPLATE) are made
 * once, before the timed runs, by an untimed start: they are a per-machine cache, like node_modules.
 *
 * Baseline in the same run: COLDSTART_BENCH_BASELINE=<root of another built checkout> (e.g. the
 * previous commit: `git worktree add /tmp/base <commit> && cd /tmp/base && npm ci && npx tsc -b`);
 * its runs alternate with this checkout's, so both see the same load.
 *
 *   npm run bench -w @ewx/embedded     (no Kafka/PostgreSQL needed)
 *   COLDSTART_BENCH_RUNS=3 (default) — runs per checkout; COLDSTART_BENCH_BASELINE — see above.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, healthStatus, isServing, REPO_ROOT } from '@ewx/platform/testing';

const RUNS = Number(process.env.COLDSTART_BENCH_RUNS ?? 3);
const BASELINE = process.env.COLDSTART_BENCH_BASELINE;
const scratch = mkdtempSync(join(tmpdir(), 'ewx-coldstart-bench-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const hook = join(scratch, 'gc-on-sigusr2.mjs');
writeFileSync(hook, "process.on('SIGUSR2', () => { globalThis.gc(); globalThis.gc(); });\n");

const rssMb = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : Number.NaN;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  ms: number;
  rssServing: number;
  rssIdle: number;
  rssGc: number;
  load: number;
}

async function coldStart(root: string): Promise<Run> {
  const dataDir = mkdtempSync(join(scratch, 'data-'));
  const port = await freePort();
  const t = performance.now();
  const child = spawn(process.execPath, ['--expose-gc', '--import', pathToFileURL(hook).href, resolve(root, 'packages/embedded/dist/main.js')], {
    env: { ...process.env, DATA_DIR: dataDir, GRPC_PORT: String(port), DASHBOARD_PORT: String(await freePort()), BLOCK_TIME_MS: 'manual', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-5000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`embedded exited: ${out}`);
      if (performance.now() - t > 180_000) throw new Error(`not SERVING after 180 s: ${out}`);
      const s = await healthStatus(`127.0.0.1:${port}`, 'ewx.v1.Registry').catch(() => undefined);
      if (s !== undefined && isServing(s)) break;
      await sleep(10);
    }
    const ms = performance.now() - t;
    const rssServing = rssMb(child.pid!);
    await sleep(3000);
    const rssIdle = rssMb(child.pid!);
    child.kill('SIGUSR2');
    await sleep(1000);
    return { ms, rssServing, rssIdle, rssGc: rssMb(child.pid!), load: loadavg()[0]! };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const checkouts: [string, string][] = [['this checkout', REPO_ROOT], ...(BASELINE ? [['baseline', resolve(BASELINE)] as [string, string]] : [])];
process.stderr.write('# warming the machine caches (cluster templates): one untimed start per checkout\n');
for (const [, root] of checkouts) await coldStart(root);
const runs = new Map<string, Run[]>(checkouts.map(([name]) => [name, []]));
for (let i = 0; i < RUNS; i++) {
  for (const [name, root] of i % 2 === 0 ? checkouts : [...checkouts].reverse()) {
    const r = await coldStart(root);
    runs.get(name)!.push(r);
    process.stderr.write(
      `# ${name} run ${i + 1}: ${Math.round(r.ms)} ms, RSS ${r.rssServing} MB at SERVING, ${r.rssIdle} MB idle 3 s, ${r.rssGc} MB after GC (load ${r.load.toFixed(1)})\n`,
    );
  }
}
const summary = Object.fromEntries(
  [...runs].map(([name, rs]) => [
    name,
    {
      root: checkouts.find(([n]) => n === name)![1],
      coldStartMs: { median: Math.round(median(rs.map((r) => r.ms))), min: Math.round(Math.min(...rs.map((r) => r.ms))) },
      rssMb: { atServing: median(rs.map((r) => r.rssServing)), idle: median(rs.map((r) => r.rssIdle)), afterGc: median(rs.map((r) => r.rssGc)) },
      load: rs.map((r) => Number(r.load.toFixed(1))),
    },
  ]),
);
const mine = runs.get('this checkout')!;
const base = runs.get('baseline');
console.log(
  JSON.stringify(
    {
      bench: 'embedded cold start',
      runs: RUNS,
      goals: { coldStartMs: 2000, idleRssMb: 200 },
      ...summary,
      ...(base
        ? {
            ratioBaselineOverThis: {
              coldStart: Number((median(base.map((r) => r.ms)) / median(mine.map((r) => r.ms))).toFixed(2)),
              rssAfterGc: Number((median(base.map((r) => r.rssGc)) / median(mine.map((r) => r.rssGc))).toFixed(2)),
            },
          }
        : {}),
    },
    null,
    2,
  ),
);
process.exit(0);
