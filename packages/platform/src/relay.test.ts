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
