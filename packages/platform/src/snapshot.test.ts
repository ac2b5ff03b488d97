import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPglite } from './eventstore/pglite.js';
import { pgliteEventStore } from './eventstore/pglite.js';
import { postgresEventStore } from './eventstore/postgres.js';
import { realInfra, uniqueNamespace } from './testing/infra.js';
import type { RecordedEvent } from './eventstore/types.js';
import type { Logger } from './log.js';
import { createRuntime, type Decider } from './runtime.js';
import { deserializeState, firstDifference, serializeState, snapshotsOf, snapshotVersion } from './snapshot.js';

interface Toy {
  total: bigint;
  byStream: Map<string, { n: number; seen: Set<string>; bytes: Uint8Array }>;
  order: string[];
  nested: { deep: { at?: string } };
}
const toy: Decider<Toy> = {
  initialState: () => ({ total: 0n, byStream: new Map(), order: [], nested: { deep: {} } }),
  evolve: (s, e: RecordedEvent) => {
    const n = (e.data as { n: number }).n;
    s.total += BigInt(n) * 10n ** 20n;
    const cur = s.byStream.get(e.streamId) ?? { n: 0, seen: new Set<string>(), bytes: new Uint8Array(0) };
    cur.n += n;
    cur.seen.add(`${e.version}`);
    cur.bytes = new Uint8Array([...cur.bytes, n & 255]);
    s.byStream.set(e.streamId, cur);
    s.order.push(e.position);
    s.nested.deep.at = e.position;
    return s;
  },
};
const add = (n: number) => () => [{ type: 'Added', data: { n } }];

/** A logger that keeps the messages, to assert what a start said. */
const recording = (): Logger & { lines: string[] } => {
  const lines: string[] = [];
  const l: Logger & { lines: string[] } = {
    lines,
    info: (m) => void lines.push(m),
    warn: (m) => void lines.push(m),
    error: (m) => void lines.push(m),
    child: () => l,
  };
  return l;
};

test('serializer: Maps, Sets, bigints, bytes, nested and shared objects round-trip exactly, in order', () => {
  const shared = { x: 1n };
  const v = {
    m: new Map<string, unknown>([
      ['b', shared],
      ['a', new Set(['z', 'y'])],
    ]),
    big: -(2n ** 200n),
    bytes: new Uint8Array([0, 255, 7]),
    list: [1, undefined, { q: 'r' }],
    again: shared,
    neg0: -0,
  };
  const back = deserializeState<typeof v>(serializeState(v));
  assert.equal(firstDifference(v, back), undefined);
  assert.deepEqual([...back.m.keys()], ['b', 'a']);
  assert.equal(back.m.get('b'), back.again, 'a shared object stays shared');
  assert.ok(Object.is(back.neg0, -0));
  // The comparison is strict: a changed bigint, byte, Set order or Map order is found, with its path.
  assert.match(firstDifference(v, { ...v, big: 1n })!.path, /\$\.big/);
  assert.match(firstDifference(v, { ...v, bytes: new Uint8Array([0, 255, 8]) })!.path, /\$\.bytes/);
  assert.match(
    firstDifference(v, {
      ...v,
      m: new Map<string, unknown>([
        ['a', new Set(['z', 'y'])],
        ['b', shared],
      ]),
    })!.path,
    /\$\.m\.keys\[0\]/,
  );
  assert.match(firstDifference({ s: new Set(['z', 'y']) }, { s: new Set(['y', 'z']) })!.path, /\$\.s\.values\[0\]/);
});

test('snapshot version: the decider version and the initial state shape both count', () => {
  assert.equal(snapshotVersion(1, toy.initialState()), snapshotVersion(1, toy.initialState()));
  assert.notEqual(snapshotVersion(1, toy.initialState()), snapshotVersion(2, toy.initialState()));
  assert.notEqual(snapshotVersion(1, toy.initialState()), snapshotVersion(1, { ...toy.initialState(), extra: new Map() }));
});

test('runtime: a start from a snapshot plus the tail equals a full replay; every N events and at stop', async () => {
  const db = await openPglite();
  const store = await pgliteEventStore('snap1', db);
  const opts = { snapshots: { every: 4, version: 1 } };
  const a = createRuntime('snap1', store, toy, recording(), opts);
  await a.start();
  for (let i = 1; i <= 10; i++) await a.execute(`s${i % 3}`, add(i));
  await a.stop();
  const stored = await snapshotsOf(store)!.loadSnapshot(snapshotVersion(1, toy.initialState()));
  assert.equal(stored?.position, a.position(), 'the stop stored a snapshot at the last position');
  assert.equal(stored?.events, 10);

  // A second process: from the snapshot, then more commands (a tail for the third).
  const logB = recording();
  const b = createRuntime('snap1', store, toy, logB, { snapshots: { every: 1000, version: 1 } });
  await b.start();
  assert.ok(logB.lines.includes('state restored from a snapshot'), logB.lines.join('\n'));
  assert.equal(firstDifference(b.state(), a.state()), undefined);
  for (let i = 11; i <= 15; i++) await b.execute(`s${i % 4}`, add(i));
  // Nonces and stream versions come back too: a used nonce is refused, the next version is appended.
  await b.execute('signed', add(1), { signer: 'acct', nonce: 5n });
  await b.stop();
  await db.query(`DELETE FROM ewx_snap1.snapshots WHERE position > $1`, [stored!.position]);

  const c = createRuntime('snap1', store, toy, recording(), { snapshots: { every: 1000, version: 1 } });
  const full = createRuntime('snap1', store, toy, recording());
  await c.start();
  await full.start();
  assert.equal(c.position(), full.position());
  assert.equal(firstDifference(c.state(), full.state()), undefined, 'snapshot + tail = full replay');
  assert.equal(c.lastNonce('acct'), 5n);
  await assert.rejects(c.execute('signed', add(1), { signer: 'acct', nonce: 5n }), /already used/);
  const [e] = await c.execute('s1', add(2));
  assert.equal(e!.version, full.state().byStream.get('s1')!.seen.size);
  await c.stop();
  await full.stop();
  await db.close();
});

test('runtime: snapshots spaced by the state size (bytesPerEvent) after one taken and after one loaded; 0 keeps every N', async () => {
  const db = await openPglite();
  const store = await pgliteEventStore('snap3', db);
  const snaps = snapshotsOf(store)!;
  const version = snapshotVersion(1, toy.initialState());
  // A failed assertion must not leave a runtime running (the test would hang instead of failing).
  const running = new Set<{ stop(): Promise<void> }>();
  const started = async <R extends { start(): Promise<void>; stop(): Promise<void> }>(r: R): Promise<R> => {
    await r.start();
    running.add(r);
    return r;
  };
  const stopped = async (r: { stop(): Promise<void> }): Promise<void> => {
    running.delete(r);
    await r.stop();
  };
  try {
    const rows = async () => (await db.query<{ events: number }>('SELECT events FROM ewx_snap3.snapshots ORDER BY position')).rows.map((r) => Number(r.events));
    // 1 byte per event: after the first snapshot (event 2, well over 30 bytes) none before ≥ 30 more events.
    const a = await started(createRuntime('snap3', store, toy, recording(), { snapshots: { every: 2, bytesPerEvent: 1, version: 1 } }));
    for (let i = 1; i <= 30; i++) await a.execute(`s${i % 3}`, add(i));
    await new Promise((r) => setImmediate(r));
    const first = await snaps.loadSnapshot(version);
    assert.ok(first !== undefined && first.data.byteLength > 30, 'a first snapshot larger than 30 bytes');
    assert.deepEqual(await rows(), [2], 'one snapshot, at the second event: the next waits for its bytes in events');
    await stopped(a);
    assert.deepEqual(await rows(), [2, 30], 'the clean stop still stores one');

    // Loaded: the gap comes from the loaded snapshot's size, so 10 more events store none before the stop.
    const b = await started(createRuntime('snap3', store, toy, recording(), { snapshots: { every: 2, bytesPerEvent: 1, version: 1 } }));
    for (let i = 1; i <= 10; i++) await b.execute(`s${i % 3}`, add(i));
    assert.deepEqual(await rows(), [2, 30]);
    await stopped(b);
    assert.deepEqual((await rows()).slice(-1), [40]);

    // bytesPerEvent 0 (or unset): every 2 events whatever the size.
    const c = await started(createRuntime('snap3', store, toy, recording(), { snapshots: { every: 2, bytesPerEvent: 0, version: 1 } }));
    for (let i = 1; i <= 10; i++) await c.execute(`s${i % 3}`, add(i));
    await stopped(c);
    const last = (await snaps.loadSnapshot(version))!;
    assert.equal(last.events, 50);
    const kept = await rows();
    assert.ok(
      kept.some((n) => n > 40 && n < 50),
      `a snapshot between the start and the stop: ${kept.join(',')}`,
    );
  } finally {
    for (const r of running) await r.stop().catch(() => undefined);
    await db.close();
  }
});

const { infra, skip } = await realInfra();

test('runtime on PostgreSQL: the snapshot is stored as bytes and a start restores from it; snapshot + tail = full replay', { skip }, async () => {
  const category = uniqueNamespace('snappg');
  const store = await postgresEventStore(infra!.databaseUrl, category, 2);
  const opts = { snapshots: { every: 4, version: 1 } };
  const a = createRuntime('snappg', store, toy, recording(), opts);
  await a.start();
  for (let i = 1; i <= 10; i++) await a.execute(`s${i % 3}`, add(i), { signer: 'acct', nonce: BigInt(i) });
  await a.stop();
  const sql = store as unknown as { projectionQuery(t: string): Promise<{ rows: { data: string | null; bytes: Uint8Array | null }[] }> };
  const rows = (await sql.projectionQuery(`SELECT data, bytes FROM ewx_${category}.snapshots`)).rows;
  assert.ok(rows.length > 0 && rows.every((r) => r.data === null && r.bytes !== null), 'stored as bytes, no base64');
  await a.execute('s1', add(11), { signer: 'acct', nonce: 11n }); // a tail after the last snapshot

  const logB = recording();
  const b = createRuntime('snappg', store, toy, logB, { snapshots: { every: 1000, version: 1 } });
  const full = createRuntime('snappg', store, toy, recording());
  await b.start();
  await full.start();
  assert.ok(logB.lines.includes('state restored from a snapshot'), logB.lines.join('\n'));
  assert.equal(b.position(), full.position());
  assert.equal(firstDifference(b.state(), full.state()), undefined, 'snapshot + tail = full replay');
  assert.equal(b.lastNonce('acct'), 11n);
  await b.stop();
  await full.stop();
  await sql.projectionQuery(`DROP SCHEMA ewx_${category} CASCADE`);
  await store.close();
});

test('runtime: a snapshot of another version, or unreadable, is ignored with a log line (full replay)', async () => {
  const db = await openPglite();
  const store = await pgliteEventStore('snap2', db);
  const a = createRuntime('snap2', store, toy, recording(), { snapshots: { every: 2, version: 1 } });
  await a.start();
  for (let i = 1; i <= 5; i++) await a.execute('s', add(i));
  await a.stop();

  const newer = recording();
  const b = createRuntime('snap2', store, toy, newer, { snapshots: { every: 100, version: 2 } });
  await b.start();
  assert.ok(
    newer.lines.some((l) => l.startsWith('snapshot ignored: taken by another version')),
    newer.lines.join('\n'),
  );
  assert.ok(!newer.lines.includes('state restored from a snapshot'));
  assert.equal(firstDifference(b.state(), a.state()), undefined);
  await b.stop(); // stores a version-2 snapshot

  await db.query(`UPDATE ewx_snap2.snapshots SET data = 'AQI='`);
  const broken = recording();
  const c = createRuntime('snap2', store, toy, broken, { snapshots: { every: 100, version: 2 } });
  await c.start();
  assert.ok(
    broken.lines.some((l) => l.startsWith('snapshot ignored: unreadable')),
    broken.lines.join('\n'),
  );
  assert.equal(firstDifference(c.state(), a.state()), undefined);
  await c.stop();

  // SNAPSHOT_EVERY=0: nothing loaded, nothing written.
  await db.query('DELETE FROM ewx_snap2.snapshots');
  const off = createRuntime('snap2', store, toy, recording(), { snapshots: { every: 0, version: 2 } });
  await off.start();
  await off.execute('s', add(1));
  await off.stop();
  assert.equal((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM ewx_snap2.snapshots')).rows[0]!.n, 0);
  await db.close();
});
