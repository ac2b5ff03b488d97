import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Bus, ConsumerOptions, IncomingMessage } from './bus/types.js';
import { runEntry, runRecord, type Envelope } from './envelope.js';
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

/** What consensus keeps of any recorded source event, in the order recorded. */
const anyDecider: Decider<string[]> = {
  initialState: () => [],
  evolve: (s, e: RecordedEvent) => {
    const md = e.metadata as { sourceStream?: string; sourceVersion?: number } | null;
    if (md?.sourceStream !== undefined) s.push(`${md.sourceStream}@${md.sourceVersion}`);
    return s;
  },
};

/** A bus that only hands over its consumer's options (the test delivers as Kafka would). */
function handingBus(): Bus & { options?: ConsumerOptions } {
  const bus: Bus & { options?: ConsumerOptions } = {
    publish: async () => undefined,
    consume: async (c) => {
      bus.options = c;
      return { stop: async () => undefined };
    },
    close: async () => undefined,
  };
  return bus;
}

/** A source log's event as the relay reads it (prevOfType per stream and type). */
const sourceEvent = (streamId: string, version: number, type: string, position: number, prevOfType = version - 1): RecordedEvent =>
  ({ streamId, version, position: String(position), type, data: { at: `${streamId}@${version}` }, metadata: { prevOfType } }) as unknown as RecordedEvent;

/** consensus's topic as written by an old build (single-event records) then by this one (run records). */
function mixedTopic(): { messages: IncomingMessage[]; order: string[] } {
  const ev = [
    sourceEvent('round:s:a', 0, 'RoundSettled', 1),
    sourceEvent('round:s:a', 1, 'RoundSettled', 2),
    sourceEvent('round:s:a', 2, 'RoundSettled', 3),
    sourceEvent('round:s:b', 0, 'RoundSettled', 4),
    sourceEvent('clock', 0, 'BlocksProduced', 5),
    sourceEvent('round:s:a', 3, 'RoundSettled', 6),
    sourceEvent('round:s:b', 1, 'RoundSettled', 7),
    sourceEvent('clock', 1, 'BlockProduced', 8, -1),
    sourceEvent('round:s:b', 2, 'RoundSettled', 9),
  ];
  const m = (offset: number, value: string): IncomingMessage => ({
    topic: 'ewx.consensus.events.v1',
    partition: 0,
    offset: String(offset),
    key: 'consensus',
    value,
  });
  const single = (e: RecordedEvent): string =>
    JSON.stringify({
      source: 'consensus',
      streamId: e.streamId,
      version: e.version,
      position: e.position,
      type: e.type,
      data: e.data,
      prevOfType: (e.metadata as { prevOfType: number }).prevOfType,
    });
  return {
    messages: [
      m(0, single(ev[0]!)),
      m(1, single(ev[1]!)),
      m(
        2,
        runRecord(
          'consensus',
          ev.slice(2, 7).map((e) => runEntry(e)),
        ),
      ),
      m(
        3,
        runRecord(
          'consensus',
          ev.slice(7).map((e) => runEntry(e)),
        ),
      ),
    ],
    order: ev.map((e) => `${e.streamId}@${e.version}`),
  };
}

test('inbox, batched: single-event records then run records (a topic an old build wrote, then this one) — every event once, in order; a block in a run is recorded on its own turn; a redelivery records nothing', async () => {
  const store = await pgliteEventStore('inboxruns');
  const rt = createRuntime('rewards', store, anyDecider, silentLogger);
  await rt.start();
  const turns: string[][] = [];
  const watched = {
    ...rt,
    ingestBatch: (envs: readonly Envelope[], traces?: readonly (Record<string, string> | undefined)[]) => {
      turns.push(envs.map((e) => `${e.streamId}@${e.version}`));
      return rt.ingestBatch!(envs, traces);
    },
  };
  const bus = handingBus();
  await startInbox(bus, watched, { consensus: ['RoundSettled', 'BlockProduced', 'BlocksProduced'] }, silentLogger);
  const { messages, order } = mixedTopic();
  await bus.options!.handleBatch!(messages);
  assert.deepEqual(rt.state(), order);
  assert.deepEqual(turns, [
    ['round:s:a@0', 'round:s:a@1', 'round:s:a@2', 'round:s:b@0'],
    ['clock@0'],
    ['round:s:a@3', 'round:s:b@1'],
    ['clock@1'],
    ['round:s:b@2'],
  ]);
  // Redelivered (a rebalance after a crash), then from the run on (a commit landed in between).
  await bus.options!.handleBatch!(messages);
  await bus.options!.handleBatch!(messages.slice(2));
  assert.deepEqual(rt.state(), order, 'nothing twice');
  await rt.stop();
  const again = createRuntime('rewards', store, anyDecider, silentLogger);
  await again.start();
  assert.deepEqual(again.state(), order, 'the log replays to the same state');
  await again.stop();
  await store.close();
});

test('inbox, one record at a time (no batch ingest): run records and single-event records, every event once and in order; a gap inside a run redelivers the record', async () => {
  const store = await pgliteEventStore('inboxrunsone');
  const rt = createRuntime('rewards', store, anyDecider, silentLogger);
  await rt.start();
  const bus = handingBus();
  await startInbox(bus, { ...rt, ingestBatch: undefined }, { consensus: ['RoundSettled', 'BlockProduced', 'BlocksProduced'] }, silentLogger);
  assert.equal(bus.options!.handleBatch, undefined);
  const { messages, order } = mixedTopic();
  // A run whose second event claims a predecessor of its type that was never recorded: the first is
  // recorded, the record fails (redelivered), nothing after the gap is recorded.
  const gapped = {
    ...messages[2]!,
    value: runRecord('consensus', [runEntry(sourceEvent('round:s:c', 0, 'RoundSettled', 20)), runEntry(sourceEvent('round:s:c', 2, 'RoundSettled', 21, 1))]),
  };
  await assert.rejects(bus.options!.handler(gapped), /gap/);
  assert.deepEqual(rt.state(), ['round:s:c@0']);
  for (const m of [...messages, ...messages]) await bus.options!.handler(m);
  assert.deepEqual(rt.state(), ['round:s:c@0', ...order]);
  await rt.stop();
  await store.close();
});

test("inbox, batched, spans not recorded: each event of a run record continues its own trace (from its entry), not its neighbours'", async () => {
  const { setTracing } = await import('./telemetry/trace.js');
  setTracing(true, false);
  try {
    const store = await pgliteEventStore('inboxruntrace');
    const rt = createRuntime('consensus', store, decider, silentLogger);
    await rt.start();
    const bus = handingBus();
    await startInbox(bus, rt, { voting: ['VoteCast'] }, silentLogger);
    const traceOf = (i: number): string => (i + 1).toString(16).padStart(32, '0');
    const entries = [0, 1, 2, 3].map((i) =>
      runEntry(sourceEvent('round:s:a', i, 'VoteCast', i + 1), i === 3 ? undefined : { traceparent: `00-${traceOf(i)}-${'1'.repeat(16)}-0${i % 2}` }),
    );
    // A header on the record (an outside producer's) is not any event's trace.
    await bus.options!.handleBatch!([
      {
        topic: 'ewx.voting.events.v1',
        partition: 0,
        offset: '0',
        key: 'voting',
        value: runRecord('voting', entries),
        headers: { traceparent: `00-${'f'.repeat(32)}-${'2'.repeat(16)}-01` },
      },
    ]);
    const recorded = (await store.readAll('0' as never, 100)).filter((e) => e.type === 'VoteCast');
    const tps = recorded.map((e) => /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec((e.metadata as { traceparent: string }).traceparent)!);
    for (const i of [0, 1, 2]) {
      assert.equal(tps[i]![1], traceOf(i), `event ${i}: its own trace`);
      assert.notEqual(tps[i]![2], '1'.repeat(16), 'a span of its own');
      assert.equal(tps[i]![3], `0${i % 2}`, 'its sampled flag');
    }
    assert.ok(![...Array(3).keys()].map(traceOf).includes(tps[3]![1]) && tps[3]![1] !== 'f'.repeat(32), 'an untraced event starts a trace of its own');
    await rt.stop();
    await store.close();
  } finally {
    setTracing(false);
  }
});
