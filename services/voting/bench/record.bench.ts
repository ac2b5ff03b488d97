/**
 * The platform's part of consensus's record of the votes, in one process on PostgreSQL: fetched
 * slices of voting's `VoteCast` messages (as its relay publishes them, each with a traceparent
 * header) through the batched inbox into a runtime's log (one append per run of one source stream),
 * the relay tailing that log (it skips inbox copies), tracing on with no exporter (the services'
 * default). A trivial decider (a count): no consensus domain. Prints this process's CPU and its
 * PostgreSQL backends' CPU per message — load-independent, so two builds can be compared: run this
 * file from each checkout, alternately.
 * Run: npx tsx services/voting/bench/record.bench.ts (needs PostgreSQL; DATABASE_URL)
 * Knobs: RECORD_BENCH_MESSAGES (20000), RECORD_BENCH_SLICE (150: messages per fetched batch),
 * RECORD_BENCH_RUN=1 (each slice one run record instead of single-event records). The messages are
 * made before the clock starts.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { loadavg } from 'node:os';
import pg from 'pg';
import { createRuntime, postgresEventStore, setTracing, silentLogger, startInbox, startRelay, type Bus, type ConsumerOptions, type IncomingMessage } from '@ewx/platform';

const MESSAGES = Number(process.env.RECORD_BENCH_MESSAGES ?? 20_000);
const SLICE = Number(process.env.RECORD_BENCH_SLICE ?? 150);
const PER_ROUND = 2000;
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/ewx_test';

const cpuOf = async (pid: number): Promise<number> => {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
/** This process's PostgreSQL backends (its TCP connections to 5432 matched to pg_stat_activity) and their CPU seconds. */
const backends = async (db: pg.Client): Promise<Map<number, number>> => {
  const portOf = new Map<string, number>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6'])
    for (const line of (await readFile(f, 'utf8').catch(() => '')).split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length >= 10 && c[2]!.endsWith(':1538')) portOf.set(c[9]!, Number.parseInt(c[1]!.split(':')[1]!, 16));
    }
  const byPort = new Map((await db.query('SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL')).rows.map((r) => [r.client_port as number, r.pid as number]));
  const out = new Map<number, number>();
  for (const fd of await readdir('/proc/self/fd')) {
    const inode = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/self/fd/${fd}`).catch(() => ''))?.[1];
    const b = inode === undefined ? undefined : byPort.get(portOf.get(inode) ?? -1);
    if (b !== undefined) out.set(b, await cpuOf(b).catch(() => 0));
  }
  return out;
};

const category = `recbench${process.pid.toString(36)}${Date.now().toString(36)}`;
const store = await postgresEventStore(url, category);
const db = new pg.Client({ connectionString: url });
await db.connect();
setTracing(true, false);
const rt = createRuntime('consensus', store, { initialState: () => 0, evolve: (n: number) => n + 1 }, silentLogger);
await rt.start();
let options: ConsumerOptions | undefined;
const bus: Bus = {
  publish: async () => undefined,
  consume: async (c) => {
    options = c;
    return { stop: async () => undefined };
  },
  close: async () => undefined,
};
await startInbox(bus, rt, { voting: ['VoteCast'] }, silentLogger);
const relay = startRelay(store, bus, 'consensus', silentLogger);
const hex = (n: number, w: number): string => n.toString(16).padStart(w, '0');
const message = (i: number): IncomingMessage => {
  const round = Math.floor(i / PER_ROUND);
  const version = i % PER_ROUND;
  const worker = `5${hex(i, 8)}${'W'.repeat(39)}`;
  const env = {
    source: 'voting',
    streamId: `round:sol:${round}`,
    version,
    position: String(i + 1),
    type: 'VoteCast',
    data: { solution: 'sol', roundId: String(round), worker, result: hex(i * 7919, 64), height: String(100 + round) },
    prevOfType: version - 1,
  };
  return {
    topic: 'ewx.voting.events.v1',
    partition: 0,
    offset: String(i),
    key: 'voting',
    value: JSON.stringify(env),
    headers: { traceparent: `00-${hex(i + 1, 32)}-${hex(i + 7, 16)}-01` },
  };
};
/** RECORD_BENCH_RUN=1: each slice as one run record (the relay's form since RELAY_RUN_RECORDS), each event with its traceparent. */
const RUN = process.env.RECORD_BENCH_RUN === '1';
const asRun = (ms: IncomingMessage[]): IncomingMessage[] => [
  {
    ...ms[0]!,
    headers: undefined,
    value: `{"v":2,"source":"voting","events":[${ms
      .map((m) => {
        const { source: _, ...e } = JSON.parse(m.value) as Record<string, unknown>;
        return JSON.stringify({ ...e, traceparent: m.headers!.traceparent });
      })
      .join(',')}]}`,
  },
];
/** The slices, made before the clock starts (so both forms time only their delivery). */
const slices = (from: number, to: number): IncomingMessage[][] => {
  const out: IncomingMessage[][] = [];
  for (let i = from; i < to; i += SLICE) {
    const ms = Array.from({ length: Math.min(SLICE, to - i) }, (_, k) => message(i + k));
    out.push(RUN ? asRun(ms) : ms);
  }
  return out;
};
const feed = async (from: number, to: number, made = slices(from, to)): Promise<void> => {
  for (const batch of made) await options!.handleBatch!(batch);
  // Until the relay has passed every copy (its reads are part of the cost).
  while (relay.position() !== rt.position()) await new Promise((r) => setTimeout(r, 5));
};
await feed(0, PER_ROUND); // warm-up: one round
const made = slices(PER_ROUND, PER_ROUND + MESSAGES);
const b0 = await backends(db);
const c0 = process.cpuUsage();
const t0 = performance.now();
await feed(PER_ROUND, PER_ROUND + MESSAGES, made);
const ms = performance.now() - t0;
const c = process.cpuUsage(c0);
const b1 = await backends(db);
let backendSec = 0;
for (const [b, v] of b1) backendSec += v - (b0.get(b) ?? 0);
const recorded = (await db.query(`SELECT count(*)::int AS n FROM ewx_${category}.events WHERE type = 'VoteCast'`)).rows[0].n as number;
const appends = (await db.query(`SELECT count(DISTINCT recorded_at)::int AS n FROM ewx_${category}.events`)).rows[0].n as number;
await relay.stop();
await rt.stop();
await db.query(`DROP SCHEMA ewx_${category} CASCADE`);
await db.end();
await store.close();
console.log(
  JSON.stringify({
    bench: "consensus's record of votes, platform part (batched inbox + append + relay tail), one process on PostgreSQL",
    messages: MESSAGES,
    slice: SLICE,
    form: RUN ? 'run records' : 'single-event records',
    recorded,
    appends,
    seconds: +(ms / 1000).toFixed(2),
    messagesPerSecond: Math.round(MESSAGES / (ms / 1000)),
    cpuUsPerMessage: { process: +(((c.user + c.system) / MESSAGES)).toFixed(1), postgresBackends: +((backendSec * 1e6) / MESSAGES).toFixed(1), backends: b1.size },
    loadAverage: loadavg().map((x) => +x.toFixed(1)),
  }),
);
