import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Envelope } from './envelope.js';
import { openPglite, pgliteEventStore } from './eventstore/pglite.js';
import { START, type EventStore, type RecordedEvent } from './eventstore/types.js';
import { silentLogger } from './log.js';
import { createRuntime, type Decider, type Runtime } from './runtime.js';
import { deserializeState, snapshotsOf, snapshotVersion, type RuntimeImage } from './snapshot.js';

/**
 * Deliveries of a source `src`: each stream's `Done` finishes it (the decider names its inbox copy
 * in `finishedInboxStreams`); the state sums the `n` of every recorded copy, so a copy recorded
 * twice shows.
 */
interface Sum {
  total: number;
  copies: number;
}
const base: Decider<Sum> = {
  initialState: () => ({ total: 0, copies: 0 }),
  evolve: (s, e: RecordedEvent) => {
    s.total += (e.data as { n?: number } | null)?.n ?? 0;
    s.copies++;
    return s;
  },
};
const forgetting: Decider<Sum> = {
  ...base,
  finishedInboxStreams: (_s, e) => (e.type === 'Done' && e.streamId.startsWith('inbox:') ? [e.streamId] : undefined),
};

const env = (streamId: string, version: number, type: string, n: number, prevOfType: number): Envelope => ({
  source: 'src',
  streamId,
  version,
  position: String(version + 1),
  type,
  data: { n },
  prevOfType,
});
/** Source stream s: A v0, B v1, A v2 (previous A v0), Done v3. */
const s = [env('s', 0, 'A', 1, -1), env('s', 1, 'B', 10, -1), env('s', 2, 'A', 100, 0), env('s', 3, 'Done', 1000, -1)];

const VERSION = 1;
const snapshots = { every: 1_000_000, version: VERSION };

async function imageAtStop(rt: Runtime<Sum>, store: EventStore, version = VERSION): Promise<RuntimeImage<Sum>> {
  await rt.stop();
  const snap = await snapshotsOf(store)!.loadSnapshot(snapshotVersion(version, base.initialState()));
  return deserializeState<RuntimeImage<Sum>>(snap!.data);
}
const marksOf = (img: RuntimeImage<Sum>) => ({
  versions: [...img.versions].sort(),
  inboxSeen: [...img.inboxSeen].sort(),
  inboxTypeSeen: [...img.inboxTypeSeen].sort(),
});

for (const mode of ['ingest', 'ingestBatch'] as const) {
  const deliver = async (rt: Runtime<Sum>, envs: readonly Envelope[]): Promise<boolean[]> => {
    if (mode === 'ingestBatch') return rt.ingestBatch!(envs);
    const out: boolean[] = [];
    for (const e of envs) out.push(await rt.ingest(e));
    return out;
  };

  describe(`runtime (${mode}): a finished inbox stream's marks are forgotten (Decider.finishedInboxStreams); redeliveries stay duplicates, gaps stay gaps`, () => {
    test('the marks of a finished stream leave the maps and the snapshot; every redelivery of its events is ignored, before and after a restart from that snapshot; a real gap is still refused', async () => {
      const db = await openPglite();
      const store = await pgliteEventStore(`inbox_forget_${mode.toLowerCase()}`, db);
      const a = createRuntime('sum', store, forgetting, silentLogger, { snapshots });
      await a.start();
      assert.deepEqual(await deliver(a, s), [true, true, true, true]);
      assert.deepEqual(await deliver(a, [env('t', 0, 'A', 5, -1)]), [true], 'an unfinished stream t');
      const events = (await store.readAll(START, 100)).length;
      const total = a.state().total;
      // Every event of the finished stream again, one by one and as one batch: none recorded.
      for (const e of s) assert.deepEqual(await deliver(a, [e]), [false], `v${e.version} again`);
      assert.deepEqual(await deliver(a, s), [false, false, false, false]);
      assert.equal((await store.readAll(START, 100)).length, events, 'nothing recorded twice');
      assert.equal(a.state().total, total);
      const image = await imageAtStop(a, store);
      assert.deepEqual(marksOf(image), {
        versions: [['inbox:src:t', 0]],
        inboxSeen: [['src|t', 0]],
        inboxTypeSeen: [['src|t|A', 0]],
      });

      // A restart from that snapshot: the same.
      const b = createRuntime('sum', store, forgetting, silentLogger, { snapshots });
      await b.start();
      assert.equal(b.state().total, total);
      for (const e of [...s].reverse()) assert.deepEqual(await deliver(b, [e]), [false], `v${e.version} again after the restart`);
      assert.deepEqual(await deliver(b, [s[1]!, s[2]!, env('t', 0, 'A', 5, -1)]), [false, false, false]);
      assert.equal((await store.readAll(START, 100)).length, events, 'nothing recorded twice after the restart');
      // A real gap, in the finished stream (A v4 lost: A v5 names it) and in the live one: refused, nothing recorded.
      await assert.rejects(
        deliver(b, [env('s', 5, 'A', 7, 4)]),
        (e: Error) => e.name === 'InboxGapError' && /gap in src stream s: A v5 follows A v4, but the last recorded A of that stream is v2/.test(e.message),
      );
      await assert.rejects(
        deliver(b, [env('t', 2, 'A', 7, 1)]),
        (e: Error) => e.name === 'InboxGapError' && /last recorded A of that stream is v0/.test(e.message),
      );
      await assert.rejects(
        deliver(b, [env('u', 1, 'A', 7, 0)]),
        (e: Error) => e.name === 'InboxGapError' && /last recorded A of that stream is none/.test(e.message),
        'a stream never seen',
      );
      assert.equal((await store.readAll(START, 100)).length, events);
      // The finished stream written again by its source (A v4 after Done): recorded once, at the next
      // version of its copy, and not noted (it stays forgotten); then its A v5 follows it.
      assert.deepEqual(await deliver(b, [env('s', 4, 'A', 10_000, 2)]), [true]);
      assert.deepEqual(await deliver(b, [env('s', 4, 'A', 10_000, 2), env('s', 5, 'A', 100_000, 4)]), [false, true]);
      assert.deepEqual(await deliver(b, [env('s', 5, 'A', 100_000, 4)]), [false]);
      assert.deepEqual(
        (await store.readStream('inbox:src:s')).map((e) => [e.version, e.type, (e.metadata as { sourceVersion: number }).sourceVersion]),
        [
          [0, 'A', 0],
          [1, 'B', 1],
          [2, 'A', 2],
          [3, 'Done', 3],
          [4, 'A', 4],
          [5, 'A', 5],
        ],
      );
      assert.equal(b.state().total, total + 110_000);
      const lived = await imageAtStop(b, store);
      assert.deepEqual(marksOf(lived), marksOf(image), 'the finished stream stays forgotten');

      // A full replay (a decider of another version: the snapshot is not used) keeps the same maps and state as the runtime that lived it.
      const c = createRuntime('sum', store, forgetting, silentLogger, { snapshots: { ...snapshots, version: VERSION + 1 } });
      await c.start();
      const replayed = await imageAtStop(c, store, VERSION + 1);
      assert.deepEqual(replayed, lived);
      await db.close();
    });

    test('without the hook nothing is forgotten (the maps as before)', async () => {
      const db = await openPglite();
      const store = await pgliteEventStore(`inbox_keep_${mode.toLowerCase()}`, db);
      const a = createRuntime('sum', store, base, silentLogger, { snapshots });
      await a.start();
      assert.deepEqual(await deliver(a, s), [true, true, true, true]);
      assert.deepEqual(await deliver(a, s), [false, false, false, false]);
      const image = await imageAtStop(a, store);
      assert.deepEqual(marksOf(image), {
        versions: [['inbox:src:s', 3]],
        inboxSeen: [['src|s', 3]],
        inboxTypeSeen: [
          ['src|s|A', 2],
          ['src|s|B', 1],
          ['src|s|Done', 3],
        ],
      });
      await db.close();
    });
  });
}
