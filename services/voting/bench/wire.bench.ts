/**
 * The wire format alone, on the real Kafka: voting's relay publishing N `VoteCast`-shaped events
 * (from a log in memory, so no database work is counted) and a consumer reading them back
 * (kafkajs fetch + `envelopesOf`), as one record per event (RELAY_RUN_RECORDS=0, the form before
 * run records) and as run records, alternating in one process. Prints this process's CPU per event
 * for each side (load-independent) and the records written; tracing on without an exporter (the
 * services' default), so each event carries a traceparent.
 * Run: npx tsx services/voting/bench/wire.bench.ts (needs Kafka on 127.0.0.1:9092 or KAFKA_BROKERS)
 * Knobs: WIRE_BENCH_EVENTS (20000), WIRE_BENCH_READ (500: events per relay read, as the relay's
 * batch; smaller reads make shorter runs), WIRE_BENCH_PAIRS (3).
 */
import { loadavg } from 'node:os';
import {
  encodePosition,
  decodePosition,
  envelopesOf,
  kafkaBus,
  setTracing,
  silentLogger,
  startRelay,
  START,
  type EventStore,
  type LogPosition,
  type RecordedEvent,
} from '@ewx/platform';
import { realInfra, uniqueNamespace } from '@ewx/platform/testing';

const EVENTS = Number(process.env.WIRE_BENCH_EVENTS ?? 20_000);
const READ = Number(process.env.WIRE_BENCH_READ ?? 500);
const PAIRS = Number(process.env.WIRE_BENCH_PAIRS ?? 3);

const { infra, skip } = await realInfra();
if (!infra) {
  console.log(JSON.stringify({ bench: 'wire format', skipped: skip }));
  process.exit(0);
}
setTracing(true, false);

const hex = (n: number, len: number): string => n.toString(16).padStart(len, '0');
/** Voting's log: VoteCast events of 10 rounds, each with the metadata the runtime stamps. */
const events: RecordedEvent[] = Array.from({ length: EVENTS }, (_, i) => ({
  streamId: `round:sol:r${Math.floor(i / 2000)}`,
  version: i % 2000,
  position: encodePosition([BigInt(i + 1)]),
  type: 'VoteCast',
  data: { solution: 'sol', roundId: `r${Math.floor(i / 2000)}`, worker: `0x${hex(i, 40)}`, result: '0107' },
  metadata: { signer: `0x${hex(i, 40)}`, nonce: '1', prevOfType: (i % 2000) - 1, traceparent: `00-${hex(i + 1, 32)}-${hex(i + 7, 16)}-01` },
  recordedAt: new Date(0).toISOString(),
})) as unknown as RecordedEvent[];

/** A log in memory: only what the relay's subscription reads. */
const memoryLog = (): EventStore => {
  const checkpoints = new Map<string, LogPosition>();
  return {
    readAll: async (after: LogPosition, limit: number) => {
      const from = after === START ? 0 : Number(decodePosition(after)[0]);
      return events.slice(from, from + Math.min(limit, READ));
    },
    getCheckpoint: async (name: string) => checkpoints.get(name) ?? START,
    saveCheckpoint: async (name: string, p: LogPosition) => {
      checkpoints.set(name, p);
    },
    waitForAppend: (ms: number) => new Promise((r) => setTimeout(r, ms)),
    close: async () => undefined,
  } as unknown as EventStore;
};

const cpu = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

const run = async (runRecords: boolean) => {
  const ns = uniqueNamespace(runRecords ? 'wirerun' : 'wireone');
  const bus = kafkaBus({ brokers: infra.brokers, clientId: `${ns}-wire`, log: silentLogger });
  const store = memoryLog();
  // The topic and the producer's connection first: their set-up is not the relay's cost.
  await bus.publish(`${ns}.warm`, [{ key: 'k', value: '{}' }]);
  const c0 = cpu();
  const t0 = performance.now();
  const relay = startRelay(store, bus, 'voting', silentLogger, ns, 'voting', runRecords);
  await relay.caughtUp;
  const produceSec = cpu() - c0;
  const produceWall = (performance.now() - t0) / 1000;
  await relay.stop();
  let seen = 0;
  let records = 0;
  let start = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => {
    done = r;
  });
  const consumer = await bus.consume({
    groupId: `${ns}.reader`,
    topics: [`${ns}.ewx.voting.events.v1`],
    handler: async () => undefined,
    handleBatch: async (messages) => {
      if (start === 0) start = cpu();
      for (const m of messages) seen += envelopesOf(m.value, m.headers).length;
      records += messages.length;
      if (seen >= EVENTS) done();
    },
  });
  await all;
  const consumeSec = cpu() - start;
  await consumer.stop();
  await bus.close();
  return {
    form: runRecords ? 'run' : 'single',
    records,
    produceUsPerEvent: +((produceSec * 1e6) / EVENTS).toFixed(1),
    consumeUsPerEvent: +((consumeSec * 1e6) / EVENTS).toFixed(1),
    produceEventsPerSecond: Math.round(EVENTS / produceWall),
    load: +loadavg()[0]!.toFixed(1),
  };
};

const results: Awaited<ReturnType<typeof run>>[] = [];
for (let i = 0; i < PAIRS; i++) {
  results.push(await run(false));
  results.push(await run(true));
}
const mean = (form: string, k: 'produceUsPerEvent' | 'consumeUsPerEvent') => {
  const xs = results.filter((r) => r.form === form).map((r) => r[k]);
  return +(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1);
};
console.log(
  JSON.stringify(
    {
      bench: 'wire format: relay → Kafka → consumer, CPU of this process per event',
      events: EVENTS,
      read: READ,
      runs: results,
      mean: {
        single: { produceUs: mean('single', 'produceUsPerEvent'), consumeUs: mean('single', 'consumeUsPerEvent') },
        run: { produceUs: mean('run', 'produceUsPerEvent'), consumeUs: mean('run', 'consumeUsPerEvent') },
      },
    },
    null,
    1,
  ),
);
process.exit(0);
