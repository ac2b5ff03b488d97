/**
 * The evaluator process's start: milliseconds from spawn to its `evaluator started` log line and its
 * resident memory (VmRSS) then, against a bare `node` process started the same way in the same run
 * (the baseline: the ratio says what the evaluator's own modules cost). The distance address is a
 * closed port, so nothing is evaluated: only loading and start-up are measured. One JSON line per
 * figure (median of EVALUATOR_BENCH_RUNS runs, default 7, runs interleaved).
 *
 *   npm run bench:evaluator -w @ewx/distance
 *   EVALUATOR_BENCH_SCRIPTS=dist/evaluator.js,dist/evaluator-before.js   (compare builds: paths from services/distance)
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url)); // services/distance/ (from dist-bench/bench/)
const runs = Number(process.env.EVALUATOR_BENCH_RUNS ?? 7);
const scripts = (process.env.EVALUATOR_BENCH_SCRIPTS ?? 'dist/evaluator.js').split(',').map((s) => s.trim()).filter(Boolean);
// A script that prints the same line at once: node's own start-up and a write.
const BASELINE = '-e';
const BASELINE_CODE = "process.stdout.write(JSON.stringify({ msg: 'evaluator started' }) + '\\n'); setInterval(() => {}, 1000);";

const rssKb = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : Number.NaN;
};

/** Spawns, waits for the start line, reads the RSS, stops the process. */
function once(script: string): Promise<{ ms: number; rssMb: number }> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const args = script === BASELINE ? ['-e', BASELINE_CODE] : [resolve(root, script)];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, EVALUATOR_KEY: '11'.repeat(32), DISTANCE_ADDRESS: '127.0.0.1:9', EVALUATOR_POLL_MS: '600000', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('evaluator started')) return;
      const ms = performance.now() - t0;
      const rssMb = rssKb(child.pid!) / 1024;
      child.kill('SIGKILL');
      done({ ms, rssMb });
    });
    child.on('exit', (code) => { if (!out.includes('evaluator started')) fail(new Error(`${script} exited ${code} before starting: ${err}`)); });
  });
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const all = [BASELINE, ...scripts];
const samples = new Map(all.map((s) => [s, { ms: [] as number[], rss: [] as number[] }]));
for (let i = 0; i < runs; i++) {
  for (const s of all) {
    const r = await once(s);
    samples.get(s)!.ms.push(r.ms);
    samples.get(s)!.rss.push(r.rssMb);
  }
}
const base = samples.get(BASELINE)!;
const [baseMs, baseRss] = [median(base.ms), median(base.rss)];
process.stdout.write(`${JSON.stringify({ figure: 'bare node (baseline)', ms: Math.round(baseMs), rssMb: Math.round(baseRss * 10) / 10, runs })}\n`);
for (const s of scripts) {
  const x = samples.get(s)!;
  const [ms, rss] = [median(x.ms), median(x.rss)];
  process.stdout.write(`${JSON.stringify({
    figure: `evaluator start (${s})`, ms: Math.round(ms), rssMb: Math.round(rss * 10) / 10,
    msOverBaseline: Math.round(ms - baseMs), rssMbOverBaseline: Math.round((rss - baseRss) * 10) / 10, msRatio: Math.round((ms / baseMs) * 100) / 100, runs, load: (await import('node:os')).loadavg()[0],
  })}\n`);
}
