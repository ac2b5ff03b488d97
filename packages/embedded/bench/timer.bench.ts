/**
 * The automatic block timer (issue 13): events an idle stretch of TIMER_BENCH_BLOCKS timed blocks
 * adds to each service's log, with BLOCK_RUN_MAX = 1 (the baseline: one event per block per log,
 * what the timer wrote before runs) and with BLOCK_RUN_MAX = TIMER_BENCH_RUN_MAX (default 100), in
 * the same run: a fresh embedded system (in this process, in memory, no group, nothing but the
 * clock) per setting. The stretch is measured between two heights every service has recorded
 * (untilHeight), not after a sleep. Also prints the wall time of the stretch and the load average.
 *
 *   npm run bench -w @ewx/embedded   (or: npx tsx packages/embedded/bench/timer.bench.ts)
 *   TIMER_BENCH_BLOCKS=600  TIMER_BENCH_BLOCK_MS=20  TIMER_BENCH_RUN_MAX=100
 */
import { loadavg } from 'node:os';
import { runEmbedded } from '@ewx/platform';
import { freePort } from '@ewx/platform/testing';
import { connect, counterNonces, generateKeyPair, keySigner, untilHeight } from '@ewx/client';
import { ALL_MODULES } from '../src/index.js';

const K = Number(process.env.TIMER_BENCH_BLOCKS ?? 600);
const BLOCK_MS = Number(process.env.TIMER_BENCH_BLOCK_MS ?? 20);
const RUN_MAX = Number(process.env.TIMER_BENCH_RUN_MAX ?? 100);
const SERVICES = ['registry', 'voting', 'consensus', 'rewards', 'distance'] as const;
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function idleStretch(runMax: number): Promise<{ added: number[]; ms: number }> {
  const admin = generateKeyPair();
  const port = await freePort();
  const system = await runEmbedded(
    ALL_MODULES,
    {
      DATA_DIR: 'memory',
      GRPC_PORT: String(port),
      BLOCK_TIME_MS: String(BLOCK_MS),
      BLOCK_RUN_MAX: String(runMax),
      ADMIN_ADDRESS: admin.address,
      LOG_LEVEL: 'error',
      SNAPSHOT_EVERY: '0',
    },
    { signals: false },
  );
  const ewx = connect({ address: `127.0.0.1:${port}`, signer: keySigner(admin, counterNonces()) });
  try {
    const positions = async (): Promise<number[]> => Promise.all(SERVICES.map(async (s) => Number((await ewx[s].getStatus({})).logPosition)));
    const h0 = BigInt(Math.max(runMax, 1) + 1);
    await untilHeight(ewx, h0, { timeoutMs: 600_000 });
    const before = await positions();
    const t = performance.now();
    await untilHeight(ewx, h0 + BigInt(K), { timeoutMs: 600_000 });
    const ms = performance.now() - t;
    const added = (await positions()).map((a, i) => a - before[i]!);
    return { added, ms };
  } finally {
    ewx.close();
    await system.stop();
  }
}

process.stdout.write(`# timer bench: ${K} idle blocks of ${BLOCK_MS} ms; load average ${load()}\n`);
const old = await idleStretch(1);
process.stdout.write(`# after BLOCK_RUN_MAX=1: load average ${load()}\n`);
const now = await idleStretch(RUN_MAX);
process.stdout.write(`# after BLOCK_RUN_MAX=${RUN_MAX}: load average ${load()}\n`);
const row = (name: string, r: { added: number[]; ms: number }) =>
  `| ${name} | ${r.added.join(' | ')} | ${(r.ms / 1000).toFixed(1)} s (${((K * 1000) / r.ms).toFixed(1)} blocks/s; nominal ${(1000 / BLOCK_MS).toFixed(0)}) |`;
console.log(`| events added by ${K} idle timed blocks | ${SERVICES.join(' | ')} | wall time |`);
console.log(`|---|${SERVICES.map(() => '---|').join('')}---|`);
console.log(row('BLOCK_RUN_MAX=1 (baseline, one event per block)', old));
console.log(row(`BLOCK_RUN_MAX=${RUN_MAX}`, now));
console.log(`ratio (baseline / runs), per log: ${old.added.map((o, i) => (o / Math.max(1, now.added[i]!)).toFixed(1)).join(', ')}`);
process.exit(0);
