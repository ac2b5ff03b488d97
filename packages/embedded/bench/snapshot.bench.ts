/**
 * Restart of a service's runtime after N events, with and without a snapshot, in one run (issue 13:
 * "restart time after 1,000,000 events with and without a snapshot"). The registry's real decider
 * over a log written straight into an in-memory PGlite store of this process: N events, half
 * deposits to 10,000 accounts (signed, so nonces are kept too), half inbox copies of BlockProduced.
 * Then, timed from createRuntime to start() resolved:
 *   - full replay (snapshots off: SNAPSHOT_EVERY=0) — the baseline;
 *   - start from the snapshot stored at the previous stop, no tail;
 *   - start from that snapshot with a tail of TAIL events appended after it;
 * with the cost of taking one snapshot (serialise + store) and its size, and a check that the state
 * from snapshot + tail equals the full replay (firstDifference). One JSON object on stdout.
 * This is the runtime's replay only: a process start adds its fixed costs (PGlite, gRPC, Kafka).
 *
 *   npm run bench -w @ewx/embedded     (no Kafka/PostgreSQL needed)
 *   SNAPSHOT_BENCH_EVENTS=1000000 (default 200000), SNAPSHOT_BENCH_TAIL (default 10000)
 */
import { loadavg } from 'node:os';
import { createRuntime, firstDifference, pgliteEventStore, type EventData, type EventStore, type Logger } from '@ewx/platform';
import { registryDecider, REGISTRY_STATE_VERSION } from '@ewx/registry';

const N = Number(process.env.SNAPSHOT_BENCH_EVENTS ?? 200_000);
const TAIL = Number(process.env.SNAPSHOT_BENCH_TAIL ?? 10_000);
const t0 = Date.now();
const note = (what: string): void => void process.stderr.write(`# ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}\n`);

const account = (i: number): string => `ed25519:${(i % 10_000).toString(16).padStart(64, '0')}`;
const admin = `ed25519:${'ab'.repeat(32)}`;
let nonce = 1;
let height = 0;
let deposits = 0;
let chainVersion = -1;

/** Appends `count` events: deposits (one stream per append) and inbox BlockProduced copies, alternating. */
async function grow(store: EventStore, count: number): Promise<void> {
  for (let done = 0; done < count; ) {
    const n = Math.min(1000, count - done);
    const dep: EventData[] = [];
    const blocks: EventData[] = [];
    for (let i = 0; i < n; i++) {
      if (i % 2 === 0)
        dep.push({
          type: 'Deposited',
          data: { account: account(deposits++), amount: '1000000000000000000' },
          metadata: { signer: admin, nonce: String(nonce++), prevOfType: -1 },
        });
      else {
        chainVersion++;
        blocks.push({
          type: 'BlockProduced',
          data: { height: ++height },
          metadata: { source: 'consensus', sourceStream: 'chain', sourceVersion: chainVersion, sourcePosition: String(chainVersion + 1) },
        });
      }
    }
    await store.append(`ledger:bench${deposits}`, dep, -1);
    await store.append('inbox:consensus:chain', blocks, chainVersion - blocks.length);
    done += n;
  }
}

/** The snapshot log lines (serialise ms, bytes) of a runtime. */
const lines: Record<string, unknown>[] = [];
const logger: Logger = {
  info: (m, f) => void lines.push({ m, ...f }),
  warn: (m, f) => void lines.push({ m, ...f }),
  error: () => undefined,
  child: () => logger,
};

const store = await pgliteEventStore(`snapbench${Date.now().toString(36)}`);
note(`writing ${N} events`);
await grow(store, N);
note('written');

const timedStart = async (every: number): Promise<{ ms: number; rt: ReturnType<typeof createRuntime<ReturnType<typeof registryDecider.initialState>>> }> => {
  const t = performance.now();
  const rt = createRuntime('registry', store, registryDecider, logger, { snapshots: { every, version: REGISTRY_STATE_VERSION } });
  await rt.start();
  return { ms: performance.now() - t, rt };
};

note('full replay (snapshots off)');
const full = await timedStart(0);
await full.rt.stop();
note(`full replay: ${Math.round(full.ms)} ms`);

note('full replay with snapshots on (none stored yet), then a stop that stores one');
const first = await timedStart(1_000_000_000);
const ts = performance.now();
await first.rt.stop();
const stopMs = performance.now() - ts;
const stored = lines.find((l) => l.m === 'snapshot stored')!;

const fromSnap = await timedStart(1_000_000_000);
const restored = lines.filter((l) => l.m === 'state restored from a snapshot').at(-1)!;
const equalNoTail = firstDifference(fromSnap.rt.state(), full.rt.state()) === undefined && fromSnap.rt.position() === full.rt.position();
await fromSnap.rt.stop();
note(`from the snapshot: ${Math.round(fromSnap.ms)} ms`);

// A tail after the newest snapshot (the last stop stored none: nothing moved since the one loaded).
note(`appending a tail of ${TAIL} events after the snapshot`);
await grow(store, TAIL);
const tail = await timedStart(1_000_000_000);
const fullAgain = await timedStart(0);
const diff = firstDifference(tail.rt.state(), fullAgain.rt.state());
const equalWithTail = diff === undefined && tail.rt.position() === fullAgain.rt.position();
await tail.rt.stop();
await fullAgain.rt.stop();
await store.close();

const perEventUs = (full.ms * 1000) / N;
console.log(
  JSON.stringify(
    {
      bench: 'restart of a runtime (registry decider) with and without a snapshot',
      events: N,
      tail: TAIL,
      fullReplayMs: Math.round(full.ms),
      fullReplayWithTailMs: Math.round(fullAgain.ms),
      fromSnapshotMs: Math.round(fromSnap.ms),
      fromSnapshotPlusTailMs: Math.round(tail.ms),
      speedup: +(full.ms / fromSnap.ms).toFixed(1),
      snapshot: { bytes: stored.bytes, serializeMs: stored.serializeMs, storeMs: stored.ms, stopWithSnapshotMs: Math.round(stopMs), loadMs: restored.ms },
      equalsFullReplay: { noTail: equalNoTail, withTail: equalWithTail, ...(diff ? { firstDifference: diff } : {}) },
      fullReplayUsPerEvent: +perEventUs.toFixed(2),
      extrapolatedFullReplay1MEventsS: +(((full.ms / N) * 1e6) / 1000).toFixed(1),
      note: 'in-memory PGlite in the bench process; the state is the registry ledger of 10,000 accounts; extrapolation is linear in events',
      loadAverage: loadavg().map((x) => +x.toFixed(1)),
    },
    null,
    1,
  ),
);
if (!equalNoTail || !equalWithTail) process.exit(1);
process.exit(0);
