import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { openPglite } from './pglite.js';
import { logTailBus } from '../bus/logtail.js';
import type { Bus, OutgoingMessage } from '../bus/types.js';
import { envelopesOf } from '../envelope.js';
import { serviceStatus } from '../grpc/status.js';
import { startInbox } from '../inbox.js';
import { silentLogger } from '../log.js';
import { startRelay } from '../relay.js';
import { createRuntime, type Decider } from '../runtime.js';
import { eventStoreContract } from '../testing/contract.js';
import { realInfra } from '../testing/infra.js';
import { pglitePairEventStore, postgresPairEventStore, type PairStoreOptions } from '../testing/pairs.js';
import { waitFor } from '../testing/wait.js';
import { START, comparePositions, decodePosition, type EventStore, type RecordedEvent } from './types.js';

/**
 * The code above the port over a store whose positions are sparse (commit, prepare) pairs shared
 * within an append (testing/pairs.ts): nothing may compute, count or densely assume positions.
 */
const { infra, skip } = await realInfra();
const db = await openPglite();
after(() => db.close());

eventStoreContract('sparse pairs over PGlite', (category) => pglitePairEventStore(category, db));
eventStoreContract('sparse pairs over PostgreSQL', (category) => postgresPairEventStore(infra!.databaseUrl, category), { skip });

interface Tally {
  total: number;
  seen: string[];
  height: number;
}
const decider: Decider<Tally> = {
  initialState: () => ({ total: 0, seen: [], height: 0 }),
  evolve: (s, e: RecordedEvent) => {
    s.total += (e.data as { n?: number }).n ?? 0;
    s.seen.push(`${e.streamId}@${e.version}#${e.position}`);
    return s;
  },
};
const adds =
  (...ns: number[]) =>
  () =>
    ns.map((n) => ({ type: 'Added', data: { n } }));

let n = 0;
const fresh = (): string => `p${process.pid.toString(36)}${Date.now().toString(36)}${n++}`;
type Open = (category: string, o?: PairStoreOptions) => Promise<EventStore>;
const backends: [string, Open, string | undefined][] = [
  ['PGlite', (c, o) => pglitePairEventStore(c, db, o), undefined],
  ['PostgreSQL', (c, o) => postgresPairEventStore(infra!.databaseUrl, c, o), skip],
];

for (const [backend, open, skipped] of backends) {
  for (const reportWritten of [true, false]) {
    describe(`runtime, relay, inbox over sparse pairs (${backend}, ${reportWritten ? 'positions reported by append' : 'read back, like KurrentDB'})`, {
      skip: skipped,
    }, () => {
      test("commands apply their own events at the store's positions; a replay is identical; GetStatus reports the commit part", async () => {
        const cat = fresh();
        const store = await open(cat, { reportWritten });
        let readBacks = 0;
        const readStream = store.readStream.bind(store);
        const counted: EventStore = {
          ...store,
          readStream: (s, v) => {
            readBacks++;
            return readStream(s, v);
          },
        };
        const rt = createRuntime(cat, counted, decider, silentLogger);
        await rt.start();
        const r1 = await rt.execute('a', adds(1, 2, 3));
        const r2 = await rt.execute('b', adds(4));
        const r3 = await rt.execute('a', adds(5, 6));
        const all = await store.readAll(START, 100);
        assert.deepEqual(
          [...r1, ...r2, ...r3].map((e) => e.position),
          all.map((e) => e.position),
          'applied at the positions the store gave',
        );
        assert.equal(new Set(all.map((e) => decodePosition(e.position)[0])).size, 3, 'three appends, three commit values');
        assert.equal(readBacks, reportWritten ? 0 : 3, reportWritten ? 'fast path: nothing read back' : 'no written positions: each append read back');
        assert.equal(rt.position(), all.at(-1)!.position);
        const status = await serviceStatus(rt)();
        assert.equal(status.logPosition, decodePosition(all.at(-1)!.position)[0]);
        await rt.stop();
        const replay = createRuntime(cat, await open(cat, { reportWritten }), decider, silentLogger);
        await replay.start();
        assert.equal(JSON.stringify(replay.state()), JSON.stringify(rt.state()));
        assert.equal(replay.position(), rt.position());
        await replay.stop();
        await replay.store.close();
        await store.close();
      });

      test('two processes on one log: conflicts retried, every event applied once by both', async () => {
        const cat = fresh();
        const a = createRuntime(cat, await open(cat, { reportWritten }), decider, silentLogger);
        const b = createRuntime(cat, await open(cat, { reportWritten }), decider, silentLogger);
        await a.start();
        await b.start();
        await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).execute(i % 3 ? 'shared' : `own${i}`, adds(1, 1))));
        await a.catchUp();
        await b.catchUp();
        assert.equal(a.state().total, 24);
        assert.equal(b.state().total, 24);
        assert.deepEqual(a.state().seen, b.state().seen);
        assert.equal(a.position(), b.position());
        await a.stop();
        await b.stop();
        await a.store.close();
        await b.store.close();
      });

      test('the relay publishes every own event once, in order, across a restart, with batches cutting appends', async () => {
        const cat = fresh();
        const store = await open(cat, { reportWritten });
        // 75 appends of 7 events: the relay's first batch of 500 ends inside the 72nd append.
        for (let i = 0; i < 75; i++)
          await store.append(
            `s${i % 5}`,
            Array.from({ length: 7 }, (_, k) => ({ type: 'E', data: { i: i * 7 + k } })),
            'any',
          );
        await store.append('inbox:x:y', [{ type: 'Copied', data: {} }], 'any');
        const published: number[] = [];
        const bus: Bus = {
          async publish(_t, ms: readonly OutgoingMessage[]) {
            for (const m of ms) for (const d of envelopesOf(m.value)) published.push((d.envelope.data as { i: number }).i);
          },
          consume: async () => ({ stop: async () => undefined }),
          close: async () => undefined,
        };
        let relay = startRelay(store, bus, 'src', silentLogger);
        await relay.caughtUp;
        await relay.stop();
        assert.deepEqual(
          published,
          Array.from({ length: 525 }, (_, i) => i),
        );
        const cp = await store.getCheckpoint('relay');
        assert.equal(cp, (await store.readAll(START, 1000)).at(-1)!.position);
        await store.append(
          'late',
          [0, 1, 2].map((k) => ({ type: 'E', data: { i: 525 + k } })),
          -1,
        );
        relay = startRelay(store, bus, 'src', silentLogger);
        await relay.caughtUp;
        await relay.stop();
        assert.deepEqual(
          published,
          Array.from({ length: 528 }, (_, i) => i),
          'resumed after its checkpoint: nothing twice',
        );
        await store.close();
      });

      test('the inbox over the log-tail bus records every event once across a consumer restart', async () => {
        const src = await open(fresh(), { reportWritten });
        const dstCat = fresh();
        const producer = createRuntime('src', src, decider, silentLogger);
        await producer.start();
        for (let i = 0; i < 40; i++) await producer.execute(`s${i % 3}`, adds(1, 2, 3));
        const bus = logTailBus(silentLogger);
        bus.register('src', src);
        const dst = createRuntime('dst', await open(dstCat, { reportWritten }), decider, silentLogger);
        await dst.start();
        let consumer = await startInbox(bus, dst, { src: ['Added'] }, silentLogger);
        await waitFor('the first 240 events', () => (dst.state().total === 240 ? true : undefined));
        await consumer.stop();
        for (let i = 0; i < 10; i++) await producer.execute(`s${i % 3}`, adds(1, 2, 3));
        consumer = await startInbox(bus, dst, { src: ['Added'] }, silentLogger);
        await waitFor('all 300 events', () => (dst.state().total === 300 ? true : undefined));
        await consumer.stop();
        assert.equal(dst.state().seen.length, 150);
        const recorded = await dst.store.readAll(START, 1000);
        const sources = recorded.map((e) => (e.metadata as { sourcePosition: string }).sourcePosition);
        assert.deepEqual(
          sources,
          (await src.readAll(START, 1000)).map((e) => e.position),
          'each source event recorded once, in order',
        );
        for (let i = 1; i < recorded.length; i++) assert.ok(comparePositions(recorded[i]!.position, recorded[i - 1]!.position) > 0);
        await dst.stop();
        await producer.stop();
        await bus.close();
        await src.close();
        await dst.store.close();
      });
    });
  }
}
