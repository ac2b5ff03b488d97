import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Bus, ConsumerOptions, IncomingMessage } from './bus/types.js';
import { pgliteEventStore } from './eventstore/pglite.js';
import type { EventStore, RecordedEvent } from './eventstore/types.js';
import { startInbox } from './inbox.js';
import { silentLogger } from './log.js';
import { createRuntime, type Decider } from './runtime.js';

/** What consensus keeps of voting's votes, reduced: the votes in the order recorded. */
const decider: Decider<string[]> = {
  initialState: () => [],
  evolve: (s, e: RecordedEvent) => {
    if (e.type === 'VoteCast') s.push(`${(e.metadata as { sourceStream: string }).sourceStream}@${(e.metadata as { sourceVersion: number }).sourceVersion}`);
    return s;
  },
};

/** Voting's relay output: VoteCast of two rounds interleaved, each event with its previous of its type. */
function published(): IncomingMessage[] {
  const order: [string, number][] = [
    ['round:s:a', 0],
    ['round:s:a', 1],
    ['round:s:a', 2],
    ['round:s:b', 0],
    ['round:s:b', 1],
    ['round:s:a', 3],
    ['round:s:a', 4],
    ['round:s:b', 2],
  ];
  return order.map(([streamId, version], i) => ({
    topic: 'ewx.voting.events.v1',
    partition: 0,
    offset: String(i),
    key: 'voting',
    value: JSON.stringify({ source: 'voting', streamId, version, position: String(i + 1), type: 'VoteCast', data: { i }, prevOfType: version - 1 }),
  }));
}

test('inbox, batched: a fetched batch is recorded in order, one append per run of a source stream; a crash between runs loses nothing and records nothing twice', async () => {
  const store = await pgliteEventStore('inboxbatch');
  let appends = 0;
  let failAt = -1;
  const flaky: EventStore = {
    ...store,
    append: (...a: Parameters<EventStore['append']>) => {
      if (appends++ === failAt) return Promise.reject(new Error('connection lost'));
      return store.append(...a);
    },
  };
  let options: ConsumerOptions | undefined;
  const bus: Bus = {
    publish: async () => undefined,
    consume: async (c) => {
      options = c;
      return { stop: async () => undefined };
    },
    close: async () => undefined,
  };
  const rt = createRuntime('consensus', flaky, decider, silentLogger);
  await rt.start();
  await startInbox(bus, rt, { voting: ['VoteCast'] }, silentLogger);
  assert.ok(options?.handleBatch, 'the runtime records batches');
  const batch = published();

  // The third run (round a, v3–v4) fails: the two runs before it are recorded, the batch is not acknowledged.
  failAt = 2;
  await assert.rejects(options.handleBatch!(batch), /connection lost/);
  assert.deepEqual(rt.state(), ['round:s:a@0', 'round:s:a@1', 'round:s:a@2', 'round:s:b@0', 'round:s:b@1']);
  // The bus delivers the batch again (after a restart or a retry): the rest once, in order.
  appends = 0;
  failAt = -1;
  await options.handleBatch!(batch);
  const all = ['round:s:a@0', 'round:s:a@1', 'round:s:a@2', 'round:s:b@0', 'round:s:b@1', 'round:s:a@3', 'round:s:a@4', 'round:s:b@2'];
  assert.deepEqual(rt.state(), all);
  assert.equal(appends, 2, 'only the runs not yet recorded were appended: a v3–v4, b v2');
  // A third delivery records nothing.
  appends = 0;
  await options.handleBatch!(batch);
  assert.equal(appends, 0);
  assert.deepEqual(rt.state(), all);
  await rt.stop();

  // The log replays to the same state.
  const again = createRuntime('consensus', store, decider, silentLogger);
  await again.start();
  assert.deepEqual(again.state(), all);
  await again.stop();
  await store.close();
});

test('inbox, batched, spans not recorded: each record carries its message trace (a new span id) without making spans; a failed append still fails the batch', async () => {
  const { setTracing } = await import('./telemetry/trace.js');
  setTracing(true, false);
  try {
    const store = await pgliteEventStore('inboxtrace');
    let fail = true;
    const flaky: EventStore = {
      ...store,
      append: (...a: Parameters<EventStore['append']>) => (fail ? Promise.reject(new Error('connection lost')) : store.append(...a)),
    };
    let options: ConsumerOptions | undefined;
    const bus: Bus = {
      publish: async () => undefined,
      consume: async (c) => {
        options = c;
        return { stop: async () => undefined };
      },
      close: async () => undefined,
    };
    const rt = createRuntime('consensus', flaky, decider, silentLogger);
    await rt.start();
    await startInbox(bus, rt, { voting: ['VoteCast'] }, silentLogger);
    const trace = 'ab'.repeat(16);
    const batch = published().map((m, i) =>
      i === 0 ? m : { ...m, headers: { traceparent: `00-${trace}-${(i + 1).toString(16).padStart(16, '0')}-${i % 2 ? '01' : '00'}` } },
    );
    await assert.rejects(options!.handleBatch!(batch), /connection lost/, 'not acknowledged: the bus redelivers it');
    assert.deepEqual(rt.state(), []);
    fail = false;
    await options!.handleBatch!(batch);
    assert.equal(rt.state().length, batch.length);
    const recorded = (await store.readAll('0' as never, 100)).filter((e) => e.type === 'VoteCast');
    const parents = recorded.map((e) => /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec((e.metadata as { traceparent: string }).traceparent)!);
    // The first message had no trace context: its record starts a sampled trace of its own.
    assert.notEqual(parents[0]![1], trace);
    assert.equal(parents[0]![3], '01');
    for (let i = 1; i < batch.length; i++) {
      assert.equal(parents[i]![1], trace, 'the message trace continues');
      assert.notEqual(parents[i]![2], batch[i]!.headers!.traceparent!.split('-')[2], 'a span of its own');
      assert.equal(parents[i]![3], i % 2 ? '01' : '00', 'the sampled flag kept');
    }
    await rt.stop();
    await store.close();
  } finally {
    setTracing(false);
  }
});
