import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Bus, OutgoingMessage } from './bus/types.js';
import { envelopesOf, parseEnvelope } from './envelope.js';
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
  const published = sends.flat().flatMap((m) => envelopesOf(m.value).map((d) => (d.envelope.data as { i: number }).i));
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
    sent.flatMap((m) => envelopesOf(m.value).map((d) => [m.key, d.envelope.type])),
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
  // Run records take each event's data as its stored JSON text (spliced in, not parsed and re-serialised).
  assert.deepEqual(reads[0], { withoutBodiesUnder: 'inbox:', dataAsText: true });
  assert.deepEqual(
    sent.flatMap((m) => envelopesOf(m.value)).map(({ envelope: e }) => [e.streamId, e.data]),
    [['round:s:r', { r: 1 }]],
  );
  assert.equal(await store.getCheckpoint('relay'), (await store.readAll('0' as never, 10))[2]!.position);
  // Single-event records (RELAY_RUN_RECORDS=0) build envelopes from the parsed data: no text asked for.
  const single = startRelay(watched, bus, 'consensus', silentLogger, '', 'consensus', false);
  await single.caughtUp;
  await single.stop();
  assert.deepEqual(reads.at(-1), { withoutBodiesUnder: 'inbox:' });
  await store.close();
});

/** A bus that keeps what is published and refuses a send over Kafka's default 1 MiB, as the broker does. */
function keepingBus(): Bus & { sends: OutgoingMessage[][] } {
  const sends: OutgoingMessage[][] = [];
  return {
    sends,
    async publish(_topic, messages) {
      const bytes = messages.reduce((a, m) => a + Buffer.byteLength(m.value) + Buffer.byteLength(m.key), 0);
      if (bytes > 1024 * 1024) throw new Error('The request included a message larger than the max message size the server will accept');
      sends.push([...messages]);
    },
    consume: async () => ({ stop: async () => undefined }),
    close: async () => undefined,
  };
}

test('relay, run records: the own events of a read go out as one record each read, cut below 512 KB, every event once and in log order', async () => {
  const store = await pgliteEventStore('relayruns');
  // 1,200 events of ≈ 1.5 KB (multi-byte text: the cut counts bytes, not characters) over three
  // streams, then inbox copies that are not published.
  const text = 'é'.repeat(700);
  for (let i = 0; i < 40; i++)
    await store.append(
      `round:s:r${i % 3}`,
      Array.from({ length: 30 }, (_, k) => ({ type: 'VoteCast', data: { i: i * 30 + k, text } })),
      'any',
    );
  await store.append('inbox:x:y', [{ type: 'Copied', data: {} }], 'any');
  const bus = keepingBus();
  const relay = startRelay(store, bus, 'voting', silentLogger, '', 'voting_p0');
  await relay.caughtUp;
  await relay.stop();
  const records = bus.sends.flat();
  assert.ok(
    bus.sends.every((s) => s.length === 1),
    'one record per send',
  );
  for (const m of records) {
    assert.equal(m.key, 'voting_p0');
    assert.ok(Buffer.byteLength(m.value) + Buffer.byteLength(m.key) <= 512 * 1024, `a record of ${Buffer.byteLength(m.value)} bytes`);
    assert.equal((JSON.parse(m.value) as { v: number }).v, 2, 'a run record');
  }
  const events = records.flatMap((m) => envelopesOf(m.value).map((d) => d.envelope));
  assert.deepEqual(
    events.map((e) => (e.data as { i: number }).i),
    Array.from({ length: 1200 }, (_, i) => i),
  );
  assert.ok(events.every((e) => e.source === 'voting' && e.type === 'VoteCast'));
  // Reads of 500 events: 1,200 events are at least three records, and a record of ≈ 500 × 1.5 KB is cut in two.
  assert.ok(records.length >= 5 && records.length <= 8, `${records.length} records`);
  assert.deepEqual(
    envelopesOf(records[0]!.value)
      .map((d) => [d.envelope.streamId, d.envelope.version])
      .slice(0, 2),
    [
      ['round:s:r0', 0],
      ['round:s:r0', 1],
    ],
  );
  await store.close();
});

test('relay, run records: an event larger than 512 KB goes alone in its record, between runs of the others', async () => {
  const store = await pgliteEventStore('relaybig');
  await store.append('a', [{ type: 'Small', data: { i: 0 } }], -1);
  await store.append('a', [{ type: 'Big', data: { i: 1, chunk: 'x'.repeat(700 * 1024) } }], 0);
  await store.append(
    'a',
    [
      { type: 'Small', data: { i: 2 } },
      { type: 'Small', data: { i: 3 } },
    ],
    1,
  );
  const bus = keepingBus();
  const relay = startRelay(store, bus, 'distance', silentLogger);
  await relay.caughtUp;
  await relay.stop();
  assert.deepEqual(
    bus.sends.flat().map((m) => envelopesOf(m.value).map((d) => (d.envelope.data as { i: number }).i)),
    [[0], [1], [2, 3]],
  );
  await store.close();
});

test('relay, RELAY_RUN_RECORDS=0 (a rolling upgrade with older consumers): one single-event record per event, as older builds read', async () => {
  const store = await pgliteEventStore('relaysingle');
  await store.append(
    'round:s:r',
    Array.from({ length: 7 }, (_, i) => ({ type: 'VoteCast', data: { i } })),
    -1,
  );
  const bus = keepingBus();
  const relay = startRelay(store, bus, 'voting', silentLogger, '', 'voting', false);
  await relay.caughtUp;
  await relay.stop();
  assert.deepEqual(
    bus.sends.flat().map((m) => (parseEnvelope(m.value).data as { i: number }).i),
    [0, 1, 2, 3, 4, 5, 6],
  );
  const { runRecordsFrom } = await import('./relay.js');
  const { readEnv } = await import('./config.js');
  assert.equal(runRecordsFrom(readEnv({})), true, 'run records by default');
  assert.equal(runRecordsFrom(readEnv({ RELAY_RUN_RECORDS: '0' })), false);
  assert.throws(() => runRecordsFrom(readEnv({ RELAY_RUN_RECORDS: 'yes' })), /RELAY_RUN_RECORDS/);
  await store.close();
});
