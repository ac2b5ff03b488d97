/**
 * Watch streams with many followers (e.g. 20 ewx-worker runtimes in `npm run demo`), on one
 * PGlite runtime: WATCH_BENCH_WATCHERS watchers follow the log live while WATCH_BENCH_EVENTS
 * commands are appended one at a time. For each mode of followLog, `store` (the path before: every
 * new event re-read from the store by every watcher) and `live` (the default: served from the
 * runtime's applied-event notification once caught up), prints store reads per event, latency from
 * an event applied to its delivery to each watcher (p50/p99), and the time the appends took (the
 * watchers' reads queue against them on PGlite's one connection). Both modes in the same run.
 *
 *   npm run bench -w @ewx/embedded   (or: npx tsx packages/embedded/bench/watch.bench.ts)
 */
import { setMaxListeners } from 'node:events';
import { PGlite } from '@electric-sql/pglite';
import { createRuntime, followLog, pgliteEventStore, silentLogger, START, type Decider, type EventStore } from '@ewx/platform';

const WATCHERS = Number(process.env.WATCH_BENCH_WATCHERS ?? 20);
const EVENTS = Number(process.env.WATCH_BENCH_EVENTS ?? 1000);
const decider: Decider<number> = { initialState: () => 0, evolve: (s) => s + 1 };

const pct = (xs: number[], p: number): number => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!);

async function run(mode: 'store' | 'live') {
  const db = await PGlite.create();
  const inner = await pgliteEventStore(`watchbench_${mode}`, db);
  let reads = 0;
  const store: EventStore = Object.create(inner) as EventStore;
  store.readAll = (after, limit) => {
    reads++;
    return inner.readAll(after, limit);
  };
  const rt = createRuntime(`watchbench_${mode}`, store, decider, silentLogger);
  await rt.start();
  const appliedAt = new Map<string, number>();
  rt.onEvent((e) => appliedAt.set(e.position, performance.now()));
  const abort = new AbortController();
  setMaxListeners(WATCHERS + 1, abort.signal);
  const latencies: number[] = [];
  let delivered = 0;
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const follows = Array.from({ length: WATCHERS }, () =>
    followLog(
      rt,
      { from: START, types: new Set(), includeInputs: false },
      async (e) => {
        latencies.push(performance.now() - appliedAt.get(e.position)!);
        if (++delivered === WATCHERS * EVENTS) allDone();
        return true;
      },
      abort.signal,
      { mode },
    ),
  );
  const readsBefore = reads;
  const t0 = performance.now();
  for (let i = 0; i < EVENTS; i++) await rt.execute(`s${i % 10}`, () => [{ type: 'Voted', data: { i } }]);
  const appendMs = performance.now() - t0;
  await done;
  const totalMs = performance.now() - t0;
  abort.abort();
  const stats = await Promise.all(follows);
  const watcherReads = stats.reduce((n, s) => n + s.storeReads, 0);
  await rt.stop();
  await db.close();
  return {
    mode,
    watchers: WATCHERS,
    events: EVENTS,
    watcherReadsPerEvent: +(watcherReads / EVENTS).toFixed(3),
    storeReadsPerEvent: +((reads - readsBefore) / EVENTS).toFixed(3),
    latencyP50Ms: +pct(latencies, 0.5).toFixed(3),
    latencyP99Ms: +pct(latencies, 0.99).toFixed(3),
    appendsPerS: Math.round(EVENTS / (appendMs / 1000)),
    allDeliveredMs: Math.round(totalMs),
    fromLive: stats.reduce((n, s) => n + s.fromLive, 0),
    fallbacks: stats.reduce((n, s) => n + s.fallbacks, 0),
  };
}

const baseline = await run('store');
console.log(JSON.stringify({ bench: 'watch', ...baseline }));
const live = await run('live');
console.log(JSON.stringify({ bench: 'watch', ...live }));
console.log(
  JSON.stringify({
    bench: 'watch',
    ratio: 'live/store',
    watcherReadsPerEvent: +(live.watcherReadsPerEvent / Math.max(baseline.watcherReadsPerEvent, 1e-9)).toFixed(4),
    latencyP50: +(live.latencyP50Ms / baseline.latencyP50Ms).toFixed(3),
    latencyP99: +(live.latencyP99Ms / baseline.latencyP99Ms).toFixed(3),
    appendsPerS: +(live.appendsPerS / baseline.appendsPerS).toFixed(3),
  }),
);
