import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { pgliteEventStore } from '../eventstore/pglite.js';
import { START, type EventData, type EventStore, type LogPosition, type RecordedEvent } from '../eventstore/types.js';
import { silentLogger } from '../log.js';
import { createRuntime, type Decider, type Runtime } from '../runtime.js';
import { followLog, type FollowOptions, type FollowStats, type WatchEventMessage, type WatchQuery } from './watch.js';

// followLog against a real runtime on PGlite: the live hand-over (store → applied-event
// notification) must give each watcher exactly what the store path gives, in order.

const decider: Decider<{ n: number }> = { initialState: () => ({ n: 0 }), evolve: (s) => ({ n: s.n + 1 }) };
const add = (i: number) => (): EventData[] => [{ type: i % 10 === 0 ? 'BlockProduced' : 'Added', data: i % 10 === 0 ? { height: i } : { i, s: `x${i}` } }];

/** A store that counts readAll calls (the cost live following removes). */
const counting = (store: EventStore): EventStore & { reads: number } => {
  const c = Object.create(store) as EventStore & { reads: number };
  c.reads = 0;
  c.readAll = (after, limit) => {
    c.reads++;
    return store.readAll(after, limit);
  };
  return c;
};

interface Watcher {
  q: WatchQuery;
  got: WatchEventMessage[];
  done: Promise<FollowStats>;
  abort: AbortController;
  until(n: number): Promise<void>;
}
function watch(rt: Runtime<unknown>, query: WatchQuery, opts: FollowOptions = {}, gate?: Promise<void>): Watcher {
  const got: WatchEventMessage[] = [];
  const abort = new AbortController();
  let want = Infinity;
  let reached: (() => void) | undefined;
  const done = followLog(
    rt,
    query,
    async (e) => {
      if (gate) await gate;
      got.push(e);
      if (got.length >= want) reached?.();
      return true;
    },
    abort.signal,
    opts,
  );
  return {
    q: query,
    got,
    done,
    abort,
    until: (n) =>
      new Promise<void>((resolve) => {
        want = n;
        reached = resolve;
        if (got.length >= n) resolve();
      }),
  };
}
const q = (from: LogPosition, includeInputs = false): WatchQuery => ({ from, types: new Set(), includeInputs });
const shape = (e: WatchEventMessage) => `${e.position}|${e.streamId}|${e.type}|${e.version}|${e.height}|${e.source}|${e.sourceStreamId}|${e.dataJson}`;

test('watch: N concurrent live watchers over a burst of appends (two writers, inbox copies) each receive exactly the log in order, as the store path gives it', async (t) => {
  const db = await PGlite.create();
  const store = counting(await pgliteEventStore('w1', db));
  const other = createRuntime('w1', store, decider, silentLogger); // another process sharing the store
  await other.start();
  t.after(() => other.stop());
  for (let i = 1; i <= 25; i++) await other.execute(`s${i % 3}`, add(i));
  const rt = createRuntime('w1', store, decider, silentLogger) as Runtime<unknown>;
  // A watcher that starts before the runtime is live (its replay notifies nobody).
  const early = watch(rt, q(START, true));
  t.after(() => rt.stop());
  await rt.start();
  const mid = (await store.readAll(START, 12)).at(-1)!.position;
  const N = 20;
  const watchers: Watcher[] = [early];
  for (let i = 0; i < N / 2; i++) watchers.push(watch(rt, q(i % 2 === 0 ? START : mid, i % 3 === 0), { readBatch: 1 + i }));
  const baseline = [
    watch(rt, q(START, false), { mode: 'store' }),
    watch(rt, q(START, true), { mode: 'store' }),
    watch(rt, q(mid, false), { mode: 'store' }),
    watch(rt, q(mid, true), { mode: 'store' }),
  ];
  const ops: Promise<unknown>[] = [];
  for (let i = 26; i <= 400; i++) {
    ops.push(i % 4 === 0 ? other.execute(`s${i % 5}`, add(i)) : rt.execute(`s${i % 7}`, add(i)));
    if (i % 9 === 0) ops.push(rt.ingest({ source: 'peer', streamId: 'p', version: i / 9, position: String(i), type: 'PeerEvent', data: { i } }));
    // Half the watchers join while the burst is in flight (their catch-up reads race the appends;
    // small read batches make the store hand them events already queued, which they must skip).
    if (i % 40 === 0) watchers.push(watch(rt, q(i % 80 === 0 ? START : mid, i % 120 === 0), { readBatch: i % 80 === 0 ? 7 : 500 }));
  }
  await Promise.all(ops);
  await rt.catchUp();
  assert.equal(watchers.length, N + 1);
  const log = await store.readAll(START, 100_000);
  const after = (from: LogPosition, inputs: boolean) =>
    log.filter((e) => (from === START || log.findIndex((x) => x.position === from) < log.indexOf(e)) && (inputs || !e.streamId.startsWith('inbox')));
  const expected = new Map<string, string[]>();
  for (const b of [0, 1, 2, 3]) {
    const w = baseline[b]!;
    const from = b < 2 ? START : mid;
    const inputs = b % 2 === 1;
    const want = after(from, inputs);
    await w.until(want.length);
    assert.deepEqual(
      w.got.map((e) => e.position),
      want.map((e: RecordedEvent) => e.position),
    );
    expected.set(`${from}|${inputs}`, w.got.map(shape));
  }
  assert.ok(
    expected.get(`${START}|true`)!.some((s) => s.includes('|inbox')),
    'inbox copies are in the log',
  );
  assert.ok(
    expected.get(`${START}|false`)!.some((s) => s.split('|')[4] === '400'),
    'heights are carried',
  );
  for (const [i, w] of watchers.entries()) {
    const key = `${w.q.from}|${w.q.includeInputs}`;
    const want = expected.get(key)!;
    await w.until(want.length);
    assert.deepEqual(w.got.map(shape), want, `watcher ${i} (${key}) receives exactly the log in order`);
  }
  for (const w of [...watchers, ...baseline]) w.abort.abort();
  const stats = await Promise.all(watchers.map((w) => w.done));
  let fromLive = 0;
  for (const [i, s] of stats.entries()) {
    assert.equal(s.fallbacks, 0, `watcher ${i} never fell back`);
    assert.equal(s.fromStore + s.fromLive, after(watchers[i]!.q.from, true).length, `watcher ${i} passed each event once`);
    fromLive += s.fromLive;
  }
  const baseStats = await Promise.all(baseline.map((w) => w.done));
  assert.ok(fromLive > 0, 'live watchers were served from the notification');
  const liveReads = stats.reduce((n, s) => n + s.storeReads, 0) / stats.length;
  const storeReads = baseStats.reduce((n, s) => n + s.storeReads, 0) / baseStats.length;
  assert.ok(liveReads * 4 < storeReads, `a live watcher reads the store far less than a store-path one (${liveReads} vs ${storeReads} reads)`);
});

test('watch: a slow client past the queue bound falls back to the store from its last sent position, and still receives exactly the log in order', async (t) => {
  const db = await PGlite.create();
  const store = counting(await pgliteEventStore('w2', db));
  const rt = createRuntime('w2', store, decider, silentLogger) as Runtime<unknown>;
  t.after(() => rt.stop());
  await rt.start();
  for (let i = 1; i <= 5; i++) await rt.execute('a', add(i));
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const slow = watch(rt, q(START), { maxQueued: 4 }, gate);
  const fast = watch(rt, q(START), { maxQueued: 4 });
  await fast.until(5);
  // The slow client holds its first event while 60 more are applied, one append each.
  for (let i = 6; i <= 65; i++) await rt.execute(i % 2 ? 'a' : 'b', add(i));
  await fast.until(65);
  const readsBefore = store.reads;
  open();
  await slow.until(65);
  const log = (await store.readAll(START, 1000)).map((e) => e.position);
  assert.deepEqual(
    slow.got.map((e) => e.position),
    log,
  );
  assert.deepEqual(slow.got.map(shape), fast.got.map(shape));
  slow.abort.abort();
  fast.abort.abort();
  const [s, f] = await Promise.all([slow.done, fast.done]);
  assert.ok(s.fallbacks >= 1, `the slow watcher's queue went past its bound (fallbacks ${s.fallbacks})`);
  assert.ok(store.reads > readsBefore, 'it read the store again');
  assert.equal(s.fromStore + s.fromLive, 65);
  assert.equal(f.fallbacks, 0, 'the fast watcher kept up');
  assert.equal(f.fromStore + f.fromLive, 65);
});
