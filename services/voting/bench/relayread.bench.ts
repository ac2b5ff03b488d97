/**
 * Voting's relay over its PostgreSQL log, without Kafka: N `VoteCast`-shaped events (as the runtime
 * stamps them) appended once, then the relay's subscription reading them all and building its run
 * records for a bus that only counts them — with the data read as its stored JSON text and spliced
 * in (`dataAsText`, this build's relay) and with the data parsed by the driver and serialised again
 * (the option withheld, as before), alternating in one process. Prints this process's CPU per event
 * for each (load-independent; the database's share is not counted) and checks both published the
 * same values.
 * Run: npx tsx services/voting/bench/relayread.bench.ts (needs PostgreSQL; DATABASE_URL)
 * Knobs: RELAYREAD_BENCH_EVENTS (20000), RELAYREAD_BENCH_PAIRS (3).
 */
import { loadavg } from 'node:os';
import { envelopesOf, postgresEventStore, setTracing, silentLogger, startRelay, type Bus, type EventStore } from '@ewx/platform';
import { realInfra, uniqueNamespace } from '@ewx/platform/testing';
import pg from 'pg';

const EVENTS = Number(process.env.RELAYREAD_BENCH_EVENTS ?? 20_000);
const PAIRS = Number(process.env.RELAYREAD_BENCH_PAIRS ?? 3);
const { infra, skip } = await realInfra();
if (!infra) {
  console.log(JSON.stringify({ bench: 'relay read', skipped: skip }));
  process.exit(0);
}
setTracing(true, false);
const hex = (n: number, len: number): string => n.toString(16).padStart(len, '0');
const category = uniqueNamespace('relayread');
const store = await postgresEventStore(infra.databaseUrl, category);
for (let i = 0; i < EVENTS; i += 500) {
  const round = `r${Math.floor(i / 2000)}`;
  await store.append(
    `round:sol:${round}`,
    Array.from({ length: 500 }, (_, k) => ({
      type: 'VoteCast',
      data: { solution: 'sol', roundId: round, worker: `0x${hex(i + k, 40)}`, result: '0107', nonce: '1', signature: hex(i + k, 128) },
      metadata: { signer: `0x${hex(i + k, 40)}`, nonce: '1', prevOfType: ((i + k) % 2000) - 1, traceparent: `00-${hex(i + k + 1, 32)}-${hex(i + k + 7, 16)}-01` },
    })),
    (i % 2000) - 1,
  );
}
const cpu = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};
const run = async (asText: boolean, n: number) => {
  // The option withheld: the driver parses the data and the relay serialises it again (the build before).
  const s: EventStore = asText ? store : { ...store, readAll: (after, limit, opts) => store.readAll(after, limit, opts && { ...opts, dataAsText: undefined }) };
  const values: string[] = [];
  let events = 0;
  const bus: Bus = {
    async publish(_t, ms) {
      for (const m of ms) values.push(m.value);
    },
    consume: async () => ({ stop: async () => undefined }),
    close: async () => undefined,
  };
  // A fresh checkpoint name per run: each reads the whole log.
  const c0 = cpu();
  const relay = startRelay({ ...s, getCheckpoint: async () => '' as never, saveCheckpoint: async () => undefined }, bus, 'voting', silentLogger);
  await relay.caughtUp;
  const sec = cpu() - c0;
  await relay.stop();
  for (const v of values) events += envelopesOf(v).length;
  if (events !== EVENTS) throw new Error(`run ${n}: ${events} events published, expected ${EVENTS}`);
  return { us: +((sec / EVENTS) * 1e6).toFixed(1), values };
};
const text: number[] = [];
const parsed: number[] = [];
await run(true, -1); // warm-up
for (let p = 0; p < PAIRS; p++) {
  const a = await run(false, p);
  const b = await run(true, p);
  const same = a.values.flatMap((v) => envelopesOf(v).map((d) => JSON.stringify(d.envelope))).join('\n') === b.values.flatMap((v) => envelopesOf(v).map((d) => JSON.stringify(d.envelope))).join('\n');
  if (!same) throw new Error('the two forms published different events');
  parsed.push(a.us);
  text.push(b.us);
}
const db = new pg.Client({ connectionString: infra.databaseUrl });
await db.connect();
await db.query(`DROP SCHEMA IF EXISTS ewx_${category} CASCADE`);
await db.end();
await store.close();
const mean = (xs: number[]): number => +(xs.reduce((a, x) => a + x, 0) / xs.length).toFixed(1);
console.log(JSON.stringify({
  bench: 'voting relay reading its PostgreSQL log into run records (no Kafka), process CPU per event',
  events: EVENTS,
  dataAsTextUs: text,
  parsedUs: parsed,
  meanDataAsTextUs: mean(text),
  meanParsedUs: mean(parsed),
  ratio: +(mean(text) / mean(parsed)).toFixed(3),
  loadAverage: loadavg().map((x) => +x.toFixed(1)),
}, null, 1));
