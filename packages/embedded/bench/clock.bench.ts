/**
 * The embedded system (`npm start`: five services, PGlite, in-process bus, one process) against the
 * goals of issue 13, in one run:
 *   - cold start (spawn → SERVING) and idle memory (RSS of the process) — goals < 2 s, < 200 MB;
 *   - blocks per second through one ProduceBlocks of CLOCK_BENCH_BLOCKS blocks (one BlocksProduced
 *     run per call in each log), timed until every service recorded the last block — goal ≥ 10,000
 *     blocks/s; baseline in the same run and process: blocks one per call (a BlockProduced event per
 *     block in each of the five logs, what every block cost before runs);
 *   - events an idle reward period adds to each log, for two period lengths (a fresh system each,
 *     REWARD_PERIOD_BLOCKS = L): must not depend on L;
 *   - memory after those blocks, and restart time (SIGTERM → SERVING) with the log length replayed;
 *   - with the timed clock (BLOCK_TIME_MS = CLOCK_BENCH_BLOCK_MS, one group without operators, whose
 *     periods close idle): events per idle reward period per log for each length in
 *     CLOCK_BENCH_TIMED_PERIODS, at BLOCK_RUN_MAX = 1 (the baseline: an event per block), at the
 *     embedded default (half the period, at most 100) and at 1,000,000 (runs only at the services'
 *     deadlines: must not depend on the length) in the same run, a fresh system each.
 * Also: single-event appends per second to an in-memory PGlite event store in this (bench) process —
 * what the store alone does, without deciders, inbox or relay.
 *
 *   npm run bench -w @ewx/embedded     (no Kafka/PostgreSQL needed)
 *   CLOCK_BENCH_BLOCKS=100000 (default) — blocks of the one call; CLOCK_BENCH_SINGLE=300 — per-block baseline;
 *   CLOCK_BENCH_PERIODS=100,10000 — the two idle period lengths.
 *   CLOCK_BENCH_TIMED_PERIODS=20,80  CLOCK_BENCH_BLOCK_MS=20  CLOCK_BENCH_TIMED_COUNT=3 (periods measured);
 *   CLOCK_BENCH_PARTS=timed — only the timed part (default: all).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { keyPairFromSeed, nonceCounter, pgliteEventStore, signCommand } from '@ewx/platform';
import { connect, counterNonces, generateKeyPair, keySigner } from '@ewx/client';
import { testGroupConfig } from '@ewx/client/testing';
import { freePort, healthStatus, insecureClient, isServing, REPO_ROOT, rpc, waitFor } from '@ewx/platform/testing';
import { ConsensusClient, ProduceBlocksRequest } from '@ewx/proto/consensus';
import { DistanceClient } from '@ewx/proto/distance';
import { RegistryClient } from '@ewx/proto/registry';
import { RewardsClient } from '@ewx/proto/rewards';
import { VotingClient } from '@ewx/proto/voting';

const BLOCKS = Number(process.env.CLOCK_BENCH_BLOCKS ?? 100_000);
const SINGLE = Number(process.env.CLOCK_BENCH_SINGLE ?? 300);
const PERIODS = (process.env.CLOCK_BENCH_PERIODS ?? '100,10000').split(',').map(Number);
const TIMED_PERIODS = (process.env.CLOCK_BENCH_TIMED_PERIODS ?? '20,80').split(',').map(Number);
const BLOCK_MS = Number(process.env.CLOCK_BENCH_BLOCK_MS ?? 20);
const TIMED_COUNT = Number(process.env.CLOCK_BENCH_TIMED_COUNT ?? 3);
const ONLY_TIMED = process.env.CLOCK_BENCH_PARTS === 'timed';
const t0 = Date.now();
const note = (what: string): void => void process.stderr.write(`# ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}\n`);
const rssMb = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
};

let dataDir = mkdtempSync(join(tmpdir(), 'ewx-clock-bench-'));
const dirs = [dataDir];
let child: ChildProcess | undefined;
process.on('exit', () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(port: number, env: Record<string, string> = {}): Promise<{ ms: number; out: () => string }> {
  const t = performance.now();
  child = spawn(process.execPath, [resolve(REPO_ROOT, 'packages/embedded/dist/main.js')], {
    env: { ...process.env, DATA_DIR: dataDir, GRPC_PORT: String(port), BLOCK_TIME_MS: 'manual', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  });
  child.stderr!.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  });
  const c = child;
  await waitFor(
    'embedded SERVING',
    async () => {
      if (c.exitCode !== null) throw new Error(`embedded exited: ${out.slice(-2000)}`);
      const s = await healthStatus(`127.0.0.1:${port}`, 'ewx.v1.Registry');
      return s !== undefined && isServing(s) ? true : undefined;
    },
    180_000,
    20,
  );
  return { ms: performance.now() - t, out: () => out };
}

const port = await freePort();
const address = `127.0.0.1:${port}`;
const consensus = insecureClient(ConsensusClient, address);
const clients = {
  registry: insecureClient(RegistryClient, address),
  voting: insecureClient(VotingClient, address),
  consensus,
  rewards: insecureClient(RewardsClient, address),
  distance: insecureClient(DistanceClient, address),
};
const heights = async (): Promise<bigint[]> =>
  Promise.all(Object.values(clients).map(async (c) => (await rpc(c as never as RegistryClient, 'getStatus', {})).height as bigint));
const SERVICES = Object.keys(clients) as (keyof typeof clients)[];
const positions = async (): Promise<Record<string, number>> =>
  Object.fromEntries(
    await Promise.all(SERVICES.map(async (n) => [n, Number((await rpc(clients[n] as never as RegistryClient, 'getStatus', {})).logPosition)] as const)),
  );
const stopChild = async (): Promise<void> => {
  const c = child!;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await exited;
};

/**
 * Idle reward periods with the timed clock: a fresh system (REWARD_PERIOD_BLOCKS = L, timed blocks,
 * BLOCK_RUN_MAX as given or the default) with one group and no operator (each period closes, with its
 * empty decision: rewards' deadline), the events each log gained while consensus's producer counted
 * from the first block of period 2 to TIMED_COUNT periods later (GetStatus counted_height: the
 * wall-clock height, whether or not it is recorded yet), scaled to one period.
 */
async function timedIdle(length: number, runMax: number | undefined): Promise<Record<string, number> & { blocks: number; ms: number }> {
  dataDir = mkdtempSync(join(tmpdir(), 'ewx-clock-bench-'));
  dirs.push(dataDir);
  await start(port, {
    BLOCK_TIME_MS: String(BLOCK_MS),
    REWARD_PERIOD_BLOCKS: String(length),
    SNAPSHOT_EVERY: '0',
    ...(runMax === undefined ? {} : { BLOCK_RUN_MAX: String(runMax) }),
  });
  await registerIdleGroup();
  const counted = async (): Promise<bigint> => {
    const s = await rpc(consensus, 'getStatus', {});
    // biome-ignore lint/complexity/useMathMinMax: heights are bigint, which Math.max does not take
    return s.countedHeight > s.height ? s.countedHeight : s.height;
  };
  const countedFrom = (h: bigint) => waitFor(`consensus counted ${h} blocks`, async () => ((await counted()) >= h ? true : undefined), 600_000, 5);
  await countedFrom(BigInt(2 * length));
  const hA = await counted();
  const before = await positions();
  const t = performance.now();
  await countedFrom(hA + BigInt(TIMED_COUNT * length));
  const ms = performance.now() - t;
  const after = await positions();
  const hB = await counted();
  await stopChild();
  const blocks = Number(hB - hA);
  return { ...Object.fromEntries(SERVICES.map((s) => [s, +(((after[s]! - before[s]!) * length) / blocks).toFixed(1)])), blocks, ms: Math.round(ms) };
}

/** One group with no operator, through the admin key of the running system: rewards closes each of its periods. */
async function registerIdleGroup(): Promise<void> {
  const T = 10n ** 18n;
  const admin = keyPairFromSeed(readFileSync(join(dataDir, 'admin.key'), 'utf8').trim());
  const registrar = generateKeyPair();
  const nonces = counterNonces();
  const ewx = connect({ address, signer: keySigner(admin, nonces) });
  try {
    await ewx.registry.deposit({ account: registrar.address, amount: (1000n * T).toString() });
    const R = ewx.withSigner(keySigner(registrar, nonces));
    await R.registry.signUpRegistrar({ friendlyName: 'bench registrar', legalLocation: 'DE' });
    await R.registry.registerGroup({
      config: testGroupConfig('bench.idle', { info: 'bench', operationEndBlock: 1_000_000n }),
      budget: (500n * T).toString(),
      allowList: [],
    });
  } finally {
    ewx.close();
  }
}
/** BLOCK_RUN_MAX far above any period: idle blocks are recorded only at the services' deadlines. */
const DEADLINES_ONLY = 1_000_000;
const timed: Record<string, unknown> = {};
if (ONLY_TIMED) {
  for (const L of TIMED_PERIODS) {
    note(`timed idle reward periods of ${L} blocks: BLOCK_RUN_MAX=1, the default, then ${DEADLINES_ONLY}`);
    const one = await timedIdle(L, 1);
    const loadOne = loadavg().map((x) => +x.toFixed(1));
    const dflt = await timedIdle(L, undefined);
    const loadDefault = loadavg().map((x) => +x.toFixed(1));
    const deadlines = await timedIdle(L, DEADLINES_ONLY);
    timed[`L=${L}`] = {
      'BLOCK_RUN_MAX=1': one,
      loadAfter1: loadOne,
      [`default (${Math.min(100, Math.floor(L / 2))})`]: dflt,
      loadAfterDefault: loadDefault,
      [`BLOCK_RUN_MAX=${DEADLINES_ONLY} (deadlines only)`]: deadlines,
      loadAfterDeadlinesOnly: loadavg().map((x) => +x.toFixed(1)),
    };
  }
  console.log(
    JSON.stringify(
      {
        bench: 'embedded system: events per idle reward period per log, timed clock',
        blockMs: BLOCK_MS,
        periodsMeasured: TIMED_COUNT,
        eventsPerIdlePeriodPerLog: timed,
        note: 'events each log gained over the measured blocks, scaled to one period; baseline BLOCK_RUN_MAX=1 in the same run',
      },
      null,
      1,
    ),
  );
  process.exit(0);
}

// Baseline: the store alone.
note('baseline: single-event appends to an in-memory PGlite store');
const store = await pgliteEventStore(`clockbase${Date.now().toString(36)}`);
const BASE = Math.min(BLOCKS, 2000);
const tb = performance.now();
for (let i = 0; i < BASE; i++) await store.append('clock', [{ type: 'BlockProduced', data: { height: i + 1 } as never }], i - 1);
const baseAppendsPerSec = Math.round(BASE / ((performance.now() - tb) / 1000));
await store.close();

note('cold start');
const cold = await start(port);
const idleRss = rssMb(child!.pid!);
const admin = keyPairFromSeed(readFileSync(join(dataDir, 'admin.key'), 'utf8').trim());
const nonce = nonceCounter(BigInt(Date.now()));
const produceBlocks = (count: number) =>
  rpc(
    consensus,
    'produceBlocks',
    signCommand(admin, '/ewx.v1.Consensus/ProduceBlocks', { auth: undefined, count }, nonce(), (m) => ProduceBlocksRequest.encode(m).finish()),
  );
const allAt = (target: bigint) =>
  waitFor(`every service at height ${target}`, async () => ((await heights()).every((h) => h === target) ? true : undefined), 600_000, 5);

// Baseline: one block per call (a BlockProduced in every log per block, the cost before runs).
note(`baseline: ${SINGLE} blocks, one per call`);
const hs = (await rpc(consensus, 'getStatus', {})).height;
const ts = performance.now();
for (let i = 0; i < SINGLE; i++) await produceBlocks(1);
await allAt(hs + BigInt(SINGLE));
const singleMs = performance.now() - ts;
const singlePerSec = Math.round(SINGLE / (singleMs / 1000));

note(`producing ${BLOCKS} blocks in one call`);
const h0 = (await rpc(consensus, 'getStatus', {})).height;
const p0 = await positions();
const tp = performance.now();
await produceBlocks(BLOCKS);
const produced = performance.now() - tp;
const target = h0 + BigInt(BLOCKS);
await allAt(target);
const allRecorded = performance.now() - tp;
const p1 = await positions();
const runEvents = Object.fromEntries(SERVICES.map((n) => [n, p1[n]! - p0[n]!]));
const afterRss = rssMb(child!.pid!);
const logEvents = (
  await Promise.all(Object.values(clients).map(async (c) => Number((await rpc(c as never as RegistryClient, 'getStatus', {})).logPosition)))
).reduce((a, b) => a + b, 0);

note('restart (SIGTERM, then a new process on the same data)');
const c0 = child!;
const exited = new Promise((r) => c0.once('exit', r));
const tr = performance.now();
c0.kill('SIGTERM');
await exited;
const stopMs = performance.now() - tr;
const again = await start(port);
const restartRss = rssMb(child!.pid!);
{
  const c = child!;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await exited;
}

/**
 * An idle reward period of length L on a fresh system (REWARD_PERIOD_BLOCKS = L): the events each
 * log gained while the height went from the first block of period 1 to the first block of period 2,
 * in runs of at most L / 4 blocks (four ProduceBlocks calls per period, as a clock would go).
 */
async function idlePeriod(length: number): Promise<Record<string, number>> {
  dataDir = mkdtempSync(join(tmpdir(), 'ewx-clock-bench-'));
  dirs.push(dataDir);
  await start(port, { REWARD_PERIOD_BLOCKS: String(length) });
  const key = keyPairFromSeed(readFileSync(join(dataDir, 'admin.key'), 'utf8').trim());
  const n = nonceCounter(BigInt(Date.now()));
  const produce = async (count: number): Promise<bigint> => {
    for (let left = count; left > 0; left -= Math.max(1, Math.floor(length / 4))) {
      await rpc(
        consensus,
        'produceBlocks',
        signCommand(key, '/ewx.v1.Consensus/ProduceBlocks', { auth: undefined, count: Math.min(left, Math.max(1, Math.floor(length / 4))) }, n(), (m) =>
          ProduceBlocksRequest.encode(m).finish(),
        ),
      );
    }
    const h = (await rpc(consensus, 'getStatus', {})).height;
    await allAt(h);
    return h;
  };
  await produce(length + 1); // into period 1 (and period 0 closed)
  await new Promise((r) => setTimeout(r, 500)); // reactions to period 1's start (bench only: not an assertion)
  const before = await positions();
  await produce(length);
  await new Promise((r) => setTimeout(r, 500));
  const after = await positions();
  const c = child!;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  await exited;
  return Object.fromEntries(SERVICES.map((s) => [s, after[s]! - before[s]!]));
}
const idle: Record<string, Record<string, number>> = {};
for (const L of PERIODS) {
  note(`idle reward period of ${L} blocks`);
  idle[`L=${L}`] = await idlePeriod(L);
}
const others = SERVICES.filter((s) => s !== 'consensus');
const idleEqual = others.every((s) => PERIODS.every((L) => idle[`L=${L}`]![s] === idle[`L=${PERIODS[0]}`]![s]));
for (const L of TIMED_PERIODS) {
  note(`timed idle reward periods of ${L} blocks: BLOCK_RUN_MAX=1, the default, then ${DEADLINES_ONLY}`);
  timed[`L=${L}`] = {
    'BLOCK_RUN_MAX=1': await timedIdle(L, 1),
    [`default (${Math.min(100, Math.floor(L / 2))})`]: await timedIdle(L, undefined),
    [`BLOCK_RUN_MAX=${DEADLINES_ONLY} (deadlines only)`]: await timedIdle(L, DEADLINES_ONLY),
  };
}

const blocksPerSec = Math.round(BLOCKS / (allRecorded / 1000));
console.log(
  JSON.stringify(
    {
      bench: 'embedded system: clock, cold start, memory, restart',
      blocks: BLOCKS,
      blocksPerSecond: {
        figure: blocksPerSec,
        goal: 10_000,
        met: blocksPerSec >= 10_000,
        callMs: Math.round(produced),
        allRecordedMs: Math.round(allRecorded),
        eventsAddedPerLog: runEvents,
      },
      baseline: {
        oneBlockPerCall: {
          blocks: SINGLE,
          blocksPerSecond: singlePerSec,
          msPerBlock: +(singleMs / SINGLE).toFixed(2),
          note: 'a BlockProduced event per block in every log (the per-block clock)',
        },
        ratio: +(blocksPerSec / singlePerSec).toFixed(1),
        pgliteSingleEventAppendsPerSecond: baseAppendsPerSec,
      },
      idleRewardPeriod: {
        eventsAddedPerLog: idle,
        independentOfLength: idleEqual,
        note: 'fresh system per length, no group: one period of blocks in 4 ProduceBlocks calls',
      },
      timedIdleRewardPeriod: {
        blockMs: BLOCK_MS,
        eventsPerIdlePeriodPerLog: timed,
        note: 'timed clock, fresh system per length and setting; events scaled to one period',
      },
      coldStart: {
        note: 'first start on an empty data directory (includes creating the PGlite databases)',
        ms: Math.round(cold.ms),
        goalMs: 2000,
        met: cold.ms < 2000,
        idleRssMb: idleRss,
        goalMb: 200,
      },
      afterBlocks: { rssMb: afterRss, logEvents },
      restart: {
        ms: Math.round(again.ms),
        stopMs: Math.round(stopMs),
        logEventsReplayed: logEvents,
        msPerThousandEvents: +(again.ms / (logEvents / 1000)).toFixed(1),
        rssMb: restartRss,
      },
      loadAverage: loadavg().map((x) => +x.toFixed(1)),
    },
    null,
    1,
  ),
);
process.exit(0);
