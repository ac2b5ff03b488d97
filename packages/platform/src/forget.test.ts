import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openPglite, pgliteEventStore } from './eventstore/pglite.js';
import { START, type EventStore, type RecordedEvent } from './eventstore/types.js';
import { silentLogger } from './log.js';
import { createRuntime, type Decider, type Runtime } from './runtime.js';
import { deserializeState, snapshotsOf, snapshotVersion, type RuntimeImage } from './snapshot.js';

/** Items opened, noted and closed, each in its own stream `item:<n>`; a closed item's stream is finished. */
interface Items {
  notes: number;
  open: string[];
}
const items: Decider<Items> = {
  initialState: () => ({ notes: 0, open: [] }),
  evolve: (s, e: RecordedEvent) => {
    if (e.type === 'Opened') s.open.push(e.streamId);
    if (e.type === 'Noted') s.notes++;
    if (e.type === 'Closed') s.open = s.open.filter((x) => x !== e.streamId);
    return s;
  },
};
const forgetting: Decider<Items> = { ...items, finishedStreams: (_s, e) => (e.type === 'Closed' ? [e.streamId] : undefined) };
const VERSION = 1;
const snapshots = { every: 1_000_000, version: VERSION };

/** The maps a runtime keeps beside its state, as its snapshot at the stop stores them. */
async function imageAtStop(rt: Runtime<Items>, store: EventStore): Promise<RuntimeImage<Items>> {
  await rt.stop();
  const snap = await snapshotsOf(store)!.loadSnapshot(snapshotVersion(VERSION, items.initialState()));
  return deserializeState<RuntimeImage<Items>>(snap!.data);
}
const prevOfType = (e: RecordedEvent): unknown => (e.metadata as { prevOfType?: number }).prevOfType;

describe('runtime: finished streams are forgotten (Decider.finishedStreams), and an append to one still gets its right versions', () => {
  test('the versions of closed items leave the maps; an append to a closed item anyway reads them back: the next version, the right previous of its type, the same log as a runtime that forgets nothing', async () => {
    const db = await openPglite();
    const logs: { type: string; version: number; prevOfType: unknown }[][] = [];
    const images: RuntimeImage<Items>[] = [];
    for (const [name, decider] of [
      ['keeps', items],
      ['forgets', forgetting],
    ] as const) {
      const store = await pgliteEventStore(`forget_${name}`, db);
      const rt = createRuntime('items', store, decider, silentLogger, { snapshots });
      await rt.start();
      for (let n = 0; n < 5; n++) {
        await rt.execute(`item:${n}`, () => [{ type: 'Opened', data: {} }]);
        await rt.execute(`item:${n}`, () => [{ type: 'Noted', data: {} }]);
        await rt.execute(`item:${n}`, () => [{ type: 'Noted', data: {} }]);
        if (n < 4) await rt.execute(`item:${n}`, () => [{ type: 'Closed', data: {} }]);
      }
      // A closed item written again (the decider said it would not be): a Noted after its Closed.
      await rt.execute('item:1', () => [{ type: 'Noted', data: {} }]);
      await rt.execute('item:1', () => [{ type: 'Noted', data: {} }]);
      logs.push((await store.readStream('item:1')).map((e) => ({ type: e.type, version: e.version, prevOfType: prevOfType(e) })));
      images.push(await imageAtStop(rt, store));
    }
    const [kept, forgot] = images as [RuntimeImage<Items>, RuntimeImage<Items>];
    assert.deepEqual(logs[1], logs[0], 'the same versions and per-type chain as the runtime that forgets nothing');
    assert.deepEqual(
      logs[0]!.map((e) => [e.type, e.version, e.prevOfType]),
      [
        ['Opened', 0, -1],
        ['Noted', 1, -1],
        ['Noted', 2, 1],
        ['Closed', 3, -1],
        ['Noted', 4, 2],
        ['Noted', 5, 4],
      ],
    );
    assert.deepEqual([...kept.versions.keys()].sort(), ['item:0', 'item:1', 'item:2', 'item:3', 'item:4']);
    assert.deepEqual([...forgot.versions].sort(), [
      ['item:1', 5],
      ['item:4', 2],
    ]);
    assert.deepEqual(
      [...forgot.typeVersions.keys()].filter((k) => !k.startsWith('item:1|')),
      ['item:4|Opened', 'item:4|Noted'],
      'closed items 0, 2 and 3 left typeVersions; item 1 is back, read from the log',
    );
    assert.equal(forgot.typeVersions.get('item:1|Noted'), 5);
    assert.equal(forgot.typeVersions.get('item:1|Closed'), 3, 'read back with the rest of its stream');
    assert.deepEqual(forgot.state, kept.state);
    await db.close();
  });

  test('given a restart from the snapshot, and another process that wrote a forgotten stream meanwhile, the next append still follows the log', async () => {
    const db = await openPglite();
    const store = await pgliteEventStore('forget_restart', db);
    const a = createRuntime('items', store, forgetting, silentLogger, { snapshots });
    await a.start();
    for (const id of ['item:7', 'item:8']) {
      await a.execute(id, () => [{ type: 'Opened', data: {} }]);
      await a.execute(id, () => [{ type: 'Noted', data: {} }]);
      await a.execute(id, () => [{ type: 'Closed', data: {} }]);
    }
    const image = await imageAtStop(a, store);
    assert.deepEqual([...image.versions.keys(), ...image.typeVersions.keys()], [], 'both forgotten in the snapshot');
    // Restart from that snapshot: an append to a forgotten stream reads its versions back.
    const b = createRuntime('items', store, forgetting, silentLogger, { snapshots });
    await b.start();
    await b.execute('item:7', () => [{ type: 'Noted', data: {} }]);
    // Another process writes item:8 (a Noted); b applies it, so it knows the stream's version but not its last Closed.
    const other = createRuntime('items', store, forgetting, silentLogger);
    await other.start();
    await other.execute('item:8', () => [{ type: 'Noted', data: {} }]);
    await other.stop();
    await b.catchUp();
    await b.execute('item:8', () => [{ type: 'Closed', data: {} }]);
    await b.stop();
    const log = async (id: string) => (await store.readStream(id)).map((e) => [e.type, e.version, prevOfType(e)]);
    assert.deepEqual(await log('item:7'), [
      ['Opened', 0, -1],
      ['Noted', 1, -1],
      ['Closed', 2, -1],
      ['Noted', 3, 1],
    ]);
    assert.deepEqual(await log('item:8'), [
      ['Opened', 0, -1],
      ['Noted', 1, -1],
      ['Closed', 2, -1],
      ['Noted', 3, 1],
      ['Closed', 4, 2],
    ]);
    assert.equal((await store.readAll(START, 100)).length, 9, 'nothing appended twice');
    await db.close();
  });

  test('a forgotten stream another process wrote before a snapshot was taken: after a restart from it, the next append still has the right previous of its type', async () => {
    const db = await openPglite();
    const store = await pgliteEventStore('forget_snapshot', db);
    const a = createRuntime('items', store, forgetting, silentLogger, { snapshots });
    await a.start();
    await a.execute('item:9', () => [{ type: 'Opened', data: {} }]);
    await a.execute('item:9', () => [{ type: 'Noted', data: {} }]);
    await a.execute('item:9', () => [{ type: 'Closed', data: {} }]);
    const other = createRuntime('items', store, forgetting, silentLogger);
    await other.start();
    await other.execute('item:9', () => [{ type: 'Noted', data: {} }]);
    await other.stop();
    await a.catchUp();
    const image = await imageAtStop(a, store);
    assert.deepEqual([...image.versions.keys(), ...image.typeVersions.keys()], [], 'still forgotten in the snapshot after the other write');
    const b = createRuntime('items', store, forgetting, silentLogger, { snapshots });
    await b.start();
    await b.execute('item:9', () => [{ type: 'Closed', data: {} }]);
    await b.stop();
    assert.deepEqual(
      (await store.readStream('item:9')).map((e) => [e.type, e.version, prevOfType(e)]),
      [
        ['Opened', 0, -1],
        ['Noted', 1, -1],
        ['Closed', 2, -1],
        ['Noted', 3, 1],
        ['Closed', 4, 2],
      ],
    );
    await db.close();
  });
});
