import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Bus, OutgoingMessage } from './bus/types.js';
import { pgliteEventStore } from './eventstore/pglite.js';
import { silentLogger } from './log.js';
import { startRelay } from './relay.js';

test("relay: large chunk events of one stream are published in sends below Kafka's 1 MiB record batch limit, in order", async () => {
  const store = await pgliteEventStore('relaysplit');
  const chunk = 'x'.repeat(300 * 1024);
  await store.append(
    'round:s:r',
    Array.from({ length: 6 }, (_, i) => ({ type: 'RoundSnapshot', data: { i, chunk } })),
    -1,
  );
  const sends: OutgoingMessage[][] = [];
  const bus: Bus = {
    async publish(_topic, messages) {
      const bytes = messages.reduce((a, m) => a + Buffer.byteLength(m.value), 0);
      if (bytes > 1024 * 1024) throw new Error('The request included a message larger than the max message size the server will accept');
      sends.push([...messages]);
    },
    consume: async () => ({ stop: async () => undefined }),
    close: async () => undefined,
  };
  const relay = startRelay(store, bus, 'voting', silentLogger);
  await relay.caughtUp;
  await relay.stop();
  const published = sends.flat().map((m) => (JSON.parse(m.value) as { data: { i: number } }).data.i);
  assert.deepEqual(published, [0, 1, 2, 3, 4, 5]);
  assert.ok(sends.length >= 4, `split into ${sends.length} sends`);
  await store.close();
});

test('relay: every event of one log is published with one key, so a consumer sees the log in its order across streams', async () => {
  const store = await pgliteEventStore('relaykey');
  await store.append('round:s:r1', [{ type: 'RoundSettled', data: { r: 1 } }], -1);
  await store.append('clock', [{ type: 'BlocksProduced', data: { from: '1', to: '9' } }], -1);
  await store.append('round:s:r2', [{ type: 'RoundSettled', data: { r: 2 } }], -1);
  const sent: OutgoingMessage[] = [];
  const bus: Bus = {
    async publish(_topic, messages) {
      sent.push(...messages);
    },
    consume: async () => ({ stop: async () => undefined }),
    close: async () => undefined,
  };
  const relay = startRelay(store, bus, 'consensus', silentLogger);
  await relay.caughtUp;
  await relay.stop();
  assert.deepEqual(
    sent.map((m) => [m.key, (JSON.parse(m.value) as { type: string }).type]),
    [
      ['consensus', 'RoundSettled'],
      ['consensus', 'BlocksProduced'],
      ['consensus', 'RoundSettled'],
    ],
  );
  await store.close();
});

test("relay: inbox copies are read without their bodies and never published; the checkpoint passes them; the service's own events are published whole", async () => {
  const store = await pgliteEventStore('relayinbox');
  await store.append('inbox:voting:round:s:r', [{ type: 'VoteCast', data: { v: 0 }, metadata: { source: 'voting' } }], -1);
  await store.append('round:s:r', [{ type: 'RoundSettled', data: { r: 1 } }], -1);
  await store.append('inbox:voting:round:s:r', [{ type: 'VoteCast', data: { v: 1 } }], 0);
  const reads: (object | undefined)[] = [];
  const watched = {
    ...store,
    readAll: (after: Parameters<typeof store.readAll>[0], limit: number, opts?: Parameters<typeof store.readAll>[2]) => {
      reads.push(opts);
      return store.readAll(after, limit, opts);
    },
  };
  const sent: OutgoingMessage[] = [];
  const bus: Bus = {
    async publish(_topic, messages) {
      sent.push(...messages);
    },
    consume: async () => ({ stop: async () => undefined }),
    close: async () => undefined,
  };
  const relay = startRelay(watched, bus, 'consensus', silentLogger);
  await relay.caughtUp;
  await relay.stop();
  assert.deepEqual(reads[0], { withoutBodiesUnder: 'inbox:' });
  assert.deepEqual(
    sent.map((m) => JSON.parse(m.value) as { streamId: string; data: unknown }).map((e) => [e.streamId, e.data]),
    [['round:s:r', { r: 1 }]],
  );
  assert.equal(await store.getCheckpoint('relay'), (await store.readAll('0' as never, 10))[2]!.position);
  await store.close();
});
