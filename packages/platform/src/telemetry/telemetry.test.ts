import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPglite } from '../eventstore/pglite.js';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { inProcessBus } from '../bus/inprocess.js';
import { logTailBus } from '../bus/logtail.js';
import type { Bus, ConsumerOptions, OutgoingMessage } from '../bus/types.js';
import { readEnv } from '../config.js';
import { pgliteEventStore } from '../eventstore/pglite.js';
import { START, type RecordedEvent } from '../eventstore/types.js';
import { startInbox } from '../inbox.js';
import { createLogger, silentLogger } from '../log.js';
import { startRelay } from '../relay.js';
import { createRuntime } from '../runtime.js';
import { waitFor } from '../testing/wait.js';
import { startTelemetry, telemetrySettingsFrom } from './setup.js';
import { contextFrom, inSpan, SpanKind, traceCarrier, traceCauses } from './trace.js';

/**
 * In process, with an in-memory span exporter: a command's trace reaches the events it appends
 * (metadata), another service's inbox through the embedded bus, the reaction it triggers, and a
 * deadline decision that follows it; log lines carry the ids. Turned off, nothing is stamped.
 */
test('trace context: command → append metadata → inbox → reaction → deadline decision, one trace; off stamps nothing', async () => {
  const exporter = new InMemorySpanExporter();
  const telemetry = await startTelemetry(telemetrySettingsFrom(readEnv({ METRICS_PORT: '0' }), 'test', '127.0.0.1'), silentLogger, [
    new SimpleSpanProcessor(exporter),
  ]);
  const db = await openPglite();
  try {
    const a = createRuntime('a', await pgliteEventStore('otel_a', db), { initialState: () => 0, evolve: (s: number) => s + 1 }, silentLogger);
    const bStore = await pgliteEventStore('otel_b', db);
    const b = createRuntime('b', bStore, { initialState: () => 0, evolve: (s: number) => s + 1 }, silentLogger);
    await a.start();
    await b.start();
    const bus = logTailBus(silentLogger);
    bus.register('a', a.store);
    // b reacts to A's Pinged with its own command, and a later "deadline" decision follows it.
    const causes = traceCauses();
    const reacted = new Promise<void>((resolve) =>
      b.onEvent((e) => {
        if (e.type !== 'Pinged') return;
        causes.note('k');
        void b.execute('reaction', () => [{ type: 'Ponged', data: {} }]).then(() => resolve());
      }),
    );
    const inbox = await startInbox(bus, b, { a: ['Pinged'] }, silentLogger);
    let lines = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => {
      lines += s;
      return true;
    }) as typeof process.stdout.write;
    const traceId = await inSpan('ewx.v1.A/Ping', { kind: SpanKind.SERVER }, async (span) => {
      createLogger({}, 'info').info('handling ping');
      await a.execute('ping', () => [{ type: 'Pinged', data: {} }]);
      return span.spanContext().traceId;
    }).finally(() => {
      process.stdout.write = write;
    });
    assert.match(lines, new RegExp(`"trace_id":"${traceId}","span_id":"[0-9a-f]{16}"`));
    await reacted;
    // A block (another trace) makes the deadline due: the decision continues the noted trace.
    await inSpan('block', {}, () => causes.follow('k', () => b.execute('deadline', () => [{ type: 'Decided', data: {} }])));
    await inbox.stop();

    const [pinged] = await a.store.readStream('ping');
    assert.match(String((pinged!.metadata as { traceparent?: string }).traceparent), new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    const bLog = await bStore.readAll(START, 100);
    assert.deepEqual(
      bLog.map((e) => e.type),
      ['Pinged', 'Ponged', 'Decided'],
    );
    for (const e of bLog) assert.ok(String((e.metadata as { traceparent?: string }).traceparent).includes(traceId), `${e.type} carries the ping's trace`);
    const spans = await waitFor('the spans', async () => {
      const s = exporter.getFinishedSpans();
      return s.some((x) => x.name === 'b execute deadline') ? s : undefined;
    });
    const names = spans.filter((s) => s.spanContext().traceId === traceId).map((s) => s.name);
    for (const n of [
      'ewx.v1.A/Ping',
      'a execute ping',
      'eventstore append',
      'ewx.a.events.v1 process',
      'b inbox record Pinged',
      'b execute reaction',
      'b execute deadline',
    ])
      assert.ok(names.includes(n), `${n} in the trace: ${names.join(', ')}`);
    const deadline = spans.find((s) => s.name === 'b execute deadline')!;
    assert.equal(deadline.links.length, 1, 'the deadline decision links the block that made it due');

    // /metrics serves the appended events.
    const text = await (await fetch(`http://127.0.0.1:${telemetry.metricsPort}/metrics`)).text();
    assert.match(text, /ewx_events_appended_total\{service="b",type="Ponged"[^}]*\} 1/);
    await a.stop();
    await b.stop();
  } finally {
    await telemetry.shutdown();
  }
  // Off (as after shutdown, or with OTEL_SDK_DISABLED=true): no trace metadata.
  const store = await pgliteEventStore('otel_off', db);
  const c = createRuntime('c', store, { initialState: () => 0, evolve: (s: number) => s + 1 }, silentLogger);
  await c.start();
  await inSpan('x', {}, () => c.execute('s', () => [{ type: 'E', data: {} }]));
  assert.deepEqual((await store.readStream('s'))[0]!.metadata, { prevOfType: -1 });
  await c.stop();
  await db.close();
});

test('telemetry settings: checked before connecting; OTLP export only with an OTEL_EXPORTER_OTLP_* endpoint', () => {
  const s = (vars: Record<string, string>) => telemetrySettingsFrom(readEnv(vars), 'voting', '0.0.0.0');
  assert.deepEqual(s({}), { disabled: false, serviceName: 'ewx-voting', metricsHost: '0.0.0.0', otlpTraces: false, otlpMetrics: false });
  assert.deepEqual(s({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', METRICS_PORT: '9464', OTEL_SERVICE_NAME: 'v1' }), {
    disabled: false,
    serviceName: 'v1',
    metricsPort: 9464,
    metricsHost: '0.0.0.0',
    otlpTraces: true,
    otlpMetrics: true,
  });
  assert.equal(s({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces', OTEL_METRICS_EXPORTER: 'none' }).otlpMetrics, false);
  assert.equal(s({ OTEL_SDK_DISABLED: 'true' }).disabled, true);
  assert.throws(() => s({ METRICS_PORT: 'http' }), /METRICS_PORT/);
  assert.throws(() => s({ OTEL_TRACES_EXPORTER: 'zipkin' }), /OTEL_TRACES_EXPORTER/);
  assert.throws(() => s({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), /OTEL_EXPORTER_OTLP_PROTOCOL/);
});

/**
 * Without a span processor (no OTLP endpoint) nothing is recorded but the ids still travel: a
 * command's trace reaches its events, the other service's inbox copy and reaction, and the log
 * lines. With a processor, a trace whose parent is not sampled records no span and keeps its flags.
 */
test('ids only: no processor → the trace still reaches events, inbox and logs; an unsampled parent records nothing', async () => {
  const db = await openPglite();
  const flow = async (tag: string, parent?: string): Promise<{ traceId: string; lines: string; a: RecordedEvent[]; b: RecordedEvent[] }> => {
    const a = createRuntime('a', await pgliteEventStore(`ids_a_${tag}`, db), { initialState: () => 0, evolve: (s: number) => s + 1 }, silentLogger);
    const bStore = await pgliteEventStore(`ids_b_${tag}`, db);
    const b = createRuntime('b', bStore, { initialState: () => 0, evolve: (s: number) => s + 1 }, silentLogger);
    await a.start();
    await b.start();
    const bus = logTailBus(silentLogger);
    bus.register('a', a.store);
    const reacted = new Promise<void>((resolve) =>
      b.onEvent((e) => {
        if (e.type === 'Pinged') void b.execute('reaction', () => [{ type: 'Ponged', data: {} }]).then(() => resolve());
      }),
    );
    const inbox = await startInbox(bus, b, { a: ['Pinged'] }, silentLogger);
    let lines = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => {
      lines += s;
      return true;
    }) as typeof process.stdout.write;
    const traceId = await inSpan(
      'ewx.v1.A/Ping',
      { kind: SpanKind.SERVER, ...(parent ? { parent: contextFrom({ traceparent: parent }) } : {}) },
      async (span) => {
        createLogger({}, 'info').info('handling ping');
        await a.execute('ping', () => [{ type: 'Pinged', data: {} }]);
        return span.spanContext().traceId;
      },
    ).finally(() => {
      process.stdout.write = write;
    });
    await reacted;
    await inbox.stop();
    const r = { traceId, lines, a: await a.store.readAll(START, 100), b: await bStore.readAll(START, 100) };
    await a.stop();
    await b.stop();
    return r;
  };
  const tp = (e: RecordedEvent): string => String((e.metadata as { traceparent?: string }).traceparent);

  const none = await startTelemetry(telemetrySettingsFrom(readEnv({}), 'test', '127.0.0.1'), silentLogger);
  try {
    const r = await flow('none');
    assert.match(r.traceId, /^[0-9a-f]{32}$/);
    assert.notEqual(r.traceId, '0'.repeat(32));
    assert.match(r.lines, new RegExp(`"trace_id":"${r.traceId}","span_id":"[0-9a-f]{16}"`));
    assert.match(tp(r.a[0]!), new RegExp(`^00-${r.traceId}-[0-9a-f]{16}-01$`), 'sampled, so a process that records continues it');
    assert.deepEqual(
      r.b.map((e) => e.type),
      ['Pinged', 'Ponged'],
    );
    for (const e of r.b) assert.match(tp(e), new RegExp(`^00-${r.traceId}-[0-9a-f]{16}-01$`), `${e.type} carries the ping's trace`);
    assert.notEqual(tp(r.b[0]!), tp(r.a[0]!), 'the inbox copy has its own span id');
  } finally {
    await none.shutdown();
  }

  const exporter = new InMemorySpanExporter();
  const rec = await startTelemetry(telemetrySettingsFrom(readEnv({}), 'test', '127.0.0.1'), silentLogger, [new SimpleSpanProcessor(exporter)]);
  try {
    const unsampled = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    const r = await flow('unsampled', unsampled);
    assert.equal(r.traceId, '0af7651916cd43dd8448eb211c80319c');
    for (const e of [...r.a, ...r.b]) assert.match(tp(e), /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/, `${e.type} keeps the unsampled flags`);
    assert.deepEqual(
      exporter
        .getFinishedSpans()
        .filter((s) => s.spanContext().traceId === r.traceId)
        .map((s) => s.name),
      [],
      'no span of an unsampled trace is recorded',
    );
    // A trace state goes through the W3C propagator (both ways).
    const c = contextFrom({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'k=v' });
    assert.deepEqual(traceCarrier(c), { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'k=v' });
    assert.deepEqual(traceCarrier(contextFrom({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })), {
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
    assert.equal(
      traceCarrier(contextFrom({ traceparent: '00-00000000000000000000000000000000-b7ad6b7169203331-01' })),
      undefined,
      'an all-zero trace id is no trace',
    );
  } finally {
    await rec.shutdown();
  }
  await db.close();
});

test("trace causes: an input's own recorded trace wins over the context it was applied in (a vote appended in another vote's batch)", async () => {
  const exporter = new InMemorySpanExporter();
  const telemetry = await startTelemetry(telemetrySettingsFrom(readEnv({ METRICS_PORT: '0' }), 'test', '127.0.0.1'), silentLogger, [
    new SimpleSpanProcessor(exporter),
  ]);
  try {
    const own = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const causes = traceCauses();
    // Applied while another call's span is active (the batch's flush), with its own traceparent recorded.
    await inSpan('another vote', {}, async () => causes.note('round', { traceparent: own }));
    const followed = await inSpan('block', {}, async () => causes.follow('round', () => traceCarrier()?.traceparent));
    assert.match(String(followed), /^00-0af7651916cd43dd8448eb211c80319c-/, 'the deadline decision continues the input’s own trace');
    // Without recorded metadata, the active context is the cause, as before.
    const active = await inSpan('vote', {}, async (span) => {
      causes.note('round2');
      return span.spanContext().traceId;
    });
    assert.match(String(causes.follow('round2', () => traceCarrier()?.traceparent)), new RegExp(`^00-${active}-`));
  } finally {
    await telemetry.shutdown();
  }
});

/**
 * Run records over the relay: two events of two traces in one Kafka record. Each keeps its own
 * trace: its producer span (a child of its append), the consumer span of its delivery (a child of
 * that producer span, from the event's entry in the run, not the record's headers) and its inbox
 * record, in the batched inbox and one record at a time alike.
 */
test('run records: each event of a run continues its own trace — publish → process → inbox record — batched or not', async () => {
  const exporter = new InMemorySpanExporter();
  const telemetry = await startTelemetry(telemetrySettingsFrom(readEnv({}), 'test', '127.0.0.1'), silentLogger, [new SimpleSpanProcessor(exporter)]);
  const db = await openPglite();
  const a = createRuntime('a', await pgliteEventStore('runs_a', db), { initialState: () => 0, evolve: (s: number) => s + 1 }, silentLogger);
  const bus = inProcessBus(silentLogger);
  try {
    await a.start();
    const traces: string[] = [];
    for (const id of ['x', 'y'])
      traces.push(
        await inSpan(`ewx.v1.A/Ping ${id}`, { kind: SpanKind.SERVER }, async (span) => {
          await a.execute(`ping:${id}`, () => [{ type: 'Pinged', data: { id } }]);
          return span.spanContext().traceId;
        }),
      );
    // The relay starts after both appends: one read, one run record.
    const records: OutgoingMessage[] = [];
    const spy: Bus = {
      ...bus,
      publish: async (t, ms) => {
        records.push(...ms);
        await bus.publish(t, ms);
      },
    };
    const relay = startRelay(a.store, spy, 'a', silentLogger);
    await relay.caughtUp;
    await relay.stop();
    assert.equal(records.length, 1, 'one run record');
    assert.equal(records[0]!.headers, undefined, 'no record-level trace header');
    const spans = () => exporter.getFinishedSpans();
    const publishes = spans().filter((s) => s.name === 'ewx.a.events.v1 publish');
    assert.deepEqual(publishes.map((s) => s.spanContext().traceId).sort(), [...traces].sort(), 'a producer span per event, in its trace');
    for (const p of publishes) assert.equal(p.attributes['ewx.run_record'], true);

    const check = async (tag: string, consume: (b: ReturnType<typeof createRuntime<number>>) => Promise<() => Promise<void>>): Promise<void> => {
      const bStore = await pgliteEventStore(`runs_b_${tag}`, db);
      const b = createRuntime(`b${tag}`, bStore, { initialState: () => 0, evolve: (s: number) => s + 1 }, silentLogger);
      await b.start();
      const stop = await consume(b);
      const recorded = await waitFor(`b${tag} records both`, async () => {
        const l = await bStore.readAll(START, 10);
        return l.length === 2 ? l : undefined;
      }).finally(async () => {
        await stop();
        await b.stop();
      });
      recorded.forEach((e, i) => {
        const trace = traces[i]!;
        assert.match(
          String((e.metadata as { traceparent?: string }).traceparent),
          new RegExp(`^00-${trace}-[0-9a-f]{16}-01$`),
          `${tag}: record ${i} in its trace`,
        );
        const inTrace = spans().filter((s) => s.spanContext().traceId === trace);
        const publish = inTrace.find((s) => s.name === 'ewx.a.events.v1 publish')!;
        const process_ = inTrace.find((s) => s.name === 'ewx.a.events.v1 process' && s.attributes['ewx.service'] === `b${tag}`);
        assert.ok(process_, `${tag}: a consumer span in trace ${i}`);
        assert.equal(process_.parentSpanContext?.spanId, publish.spanContext().spanId, `${tag}: the consumer span follows the event's producer span`);
        const record = inTrace.find((s) => s.name === `b${tag} inbox record Pinged`);
        assert.equal(record?.parentSpanContext?.spanId, process_.spanContext().spanId, `${tag}: the inbox record inside the consumer span`);
      });
    };
    // One record at a time (the in-process bus calls the handler per record).
    await check('one', async (b) => {
      const inbox = await startInbox(bus, b, { a: ['Pinged'] }, silentLogger);
      return () => inbox.stop();
    });
    // Batched (as from Kafka): the record handed to handleBatch.
    await check('batch', async (b) => {
      let options: ConsumerOptions | undefined;
      const handing: Bus = {
        ...bus,
        consume: async (o) => {
          options = o;
          return { stop: async () => undefined };
        },
      };
      await startInbox(handing, b, { a: ['Pinged'] }, silentLogger);
      await options!.handleBatch!(records.map((m, i) => ({ ...m, topic: 'ewx.a.events.v1', partition: 0, offset: String(i) })));
      return async () => undefined;
    });
  } finally {
    await a.stop();
    await bus.close();
    await telemetry.shutdown();
    await db.close();
  }
});
