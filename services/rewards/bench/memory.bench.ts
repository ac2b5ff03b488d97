/**
 * Memory of rewards' decision state after P closed periods of N operators, in process (pure
 * domain: the rule and the fold, no store): every period gets R settled rounds (VoteMetadata of all
 * N operators), is closed by the service's decision and each of its payout chunks is credited by the
 * registry, as in the service. Events go through JSON on their way to the fold, as a read from the
 * store gives them. Prints, at checkpoints, the heap used after a full GC and the size of the state
 * serialised as a snapshot stores it (node:v8), for the fold of today and for the fold before bounded
 * memory (bench/reference-evolve.ts, commit 893702a), run first in the same process; then what a
 * query of a closed period costs now that its rows are read back from its events (parse + fold, the
 * store's read not included).
 * Run: `npx tsx bench/memory.bench.ts` in services/rewards.
 * Knobs: MEMORY_BENCH_OPERATORS (default 1000), MEMORY_BENCH_PERIODS (100), MEMORY_BENCH_ROUNDS (10 per period),
 * MEMORY_BENCH_BASELINE (1; 0 = skip the reference fold), MEMORY_BENCH_DATABASE_URL (also the store figures on
 * PostgreSQL, in a schema of its own dropped at the end).
 */
import * as v8 from 'node:v8';
import { encodePosition, pgliteEventStore, type EventData, type EventStore, type RecordedEvent } from '@ewx/platform';
import { withPostgresSchema } from '@ewx/platform/testing';
import { loadAverage, memoryProbe } from '@ewx/platform/testing/memory';
import { periodArchive } from '../src/app/archive.js';
import { periodRows } from '../src/domain/closed.js';
import { decide } from '../src/domain/decide.js';
import { evolve } from '../src/domain/evolve.js';
import { addr, ev, tokens } from '../src/domain/fixtures.js';
import { initialState, type RewardsState } from '../src/domain/state.js';
import { referenceEvolve, referenceInitialState } from './reference-evolve.js';

const N = Number(process.env.MEMORY_BENCH_OPERATORS ?? 1000);
const P = Number(process.env.MEMORY_BENCH_PERIODS ?? 100);
const R = Number(process.env.MEMORY_BENCH_ROUNDS ?? 10);
const BASELINE = process.env.MEMORY_BENCH_BASELINE !== '0';
const G = 'grp';
const LENGTH = 10;

type Fold = (s: RewardsState, e: RecordedEvent) => RewardsState;

/** The last period's decision events as stored (JSON), for the query figures. */
let lastDecision = '';
/** When set, every period's decision events are kept here (the store figures' run only: not while measuring memory). */
let decisions: EventData[][] | undefined;

function run(name: string, fold: Fold, initial: () => RewardsState): Record<string, unknown> {
  let s = initial();
  const probe = memoryProbe(name, () => s);
  let position = 0;
  const versions = new Map<string, number>();
  // Through JSON, as the store gives events back: no string is shared with the decision that wrote it.
  const apply = (events: readonly EventData[], streamId: string): RecordedEvent[] =>
    events.map((e) => {
      const version = (versions.get(streamId) ?? -1) + 1;
      versions.set(streamId, version);
      const recorded: RecordedEvent = { type: e.type, data: JSON.parse(JSON.stringify(e.data)), streamId, version, position: encodePosition([BigInt(++position)]) };
      s = fold(s, recorded);
      return recorded;
    });
  const ops = Array.from({ length: N }, (_, i) => addr(1000 + i));
  apply(
    [
      ev.schedule(LENGTH),
      ev.group(G, { subscriptionRewardPerBlock: tokens(1), votingRewardPerBlock: tokens(2), slaVotingThreshold: 50 }, tokens(10n ** 12n)),
      ...ops.map((op, i) => ev.subscribed(G, op, tokens(1000 + i), 0)),
    ],
    'inbox:registry',
  );
  const checkpoint = (done: number): void => probe.checkpoint({ periods: done, rows: done * N });
  checkpoint(0);
  const marks = new Set([1, 10, 100, 1000, P]);
  for (let p = 0; p < P; p++) {
    // R settled rounds: every operator eligible, a varying two thirds or so correct.
    apply(
      Array.from({ length: R }, (_, r) =>
        ev.round(
          G,
          p,
          `r${p}-${r}`,
          ops,
          ops.filter((_, i) => (i + r + p) % 3 !== 0),
        ),
      ),
      'inbox:consensus',
    );
    apply([ev.block((p + 1) * LENGTH)], 'inbox:consensus');
    const decision = apply(decide({ type: 'ClosePeriod', group: G, period: p, settlementDelay: 0 }, s), `group:${G}`);
    if (decision.length === 0) throw new Error(`period ${p}: nothing decided`);
    // The registry credits each payout chunk (once each).
    apply(
      decision
        .filter((e) => e.type === 'RewardsComputed')
        .map((e) => {
          const d = e.data as { chunk: number; subtotal: string };
          return { type: 'RewardsCredited', data: { group: G, rewardPeriod: p, chunk: d.chunk, total: d.subtotal, payouts: [] } };
        }),
      'inbox:registry',
    );
    if (p === P - 1) lastDecision = JSON.stringify(decision);
    decisions?.push(decision.map((e) => ({ type: e.type, data: e.data })));
    if (marks.has(p + 1)) checkpoint(p + 1);
  }
  return {
    fold: name,
    periods: P,
    operators: N,
    roundsPerPeriod: R,
    points: probe.points,
    perPeriodAfterTheFirst: probe.perUnit('periods'),
    state: s,
  };
}

const loadBefore = loadAverage();
const baseline = BASELINE
  ? run('before (reference-evolve, keeps every row)', referenceEvolve as unknown as Fold, referenceInitialState as unknown as () => RewardsState)
  : undefined;
const baselineState = baseline?.state as { earned: Map<string, Map<string, bigint>> } | undefined;
if (baseline) delete baseline.state;
const now = run('now (a closed period keeps its summary)', evolve, initialState);
const state = now.state as RewardsState;
delete now.state;
// The same decisions: what each operator earned.
const same = baselineState === undefined ? undefined : v8.serialize(baselineState.earned).equals(v8.serialize(state.earned));

// A query of a closed period: its rows folded back from its decision events (JSON parse included, store read not).
const c = state.groups.get(G)!.closed.get(P - 1)!;
const times: number[] = [];
let rows = 0;
for (let i = 0; i < 20; i++) {
  const t = performance.now();
  const events = JSON.parse(lastDecision) as RecordedEvent[];
  rows = periodRows(G, c, events).size;
  times.push(performance.now() - t);
}
const readMs = +Math.min(...times).toFixed(2);

// Through a store (in-memory PGlite in this process): the decisions of a second run of the fold appended
// as the service appends them (one append per period), then GetOperatorRewards' and ListOperatorRewards'
// reads through the archive: a listing of every period cold (nothing kept) and again (all kept).
decisions = [];
const again = run('again (for the store figures)', evolve, initialState).state as RewardsState;
const periods = [...again.groups.get(G)!.closed.values()].sort((a, b) => b.period - a.period);
/** One closed period read cold, every period cold (a listing of all of them), and again with all kept. */
async function storeFigures(store: EventStore): Promise<Record<string, number>> {
  let version = -1;
  for (const events of decisions!) {
    await store.append(`group:${G}`, events, version);
    version += events.length;
  }
  const archive = periodArchive(store, (P + 1) * N);
  let t = performance.now();
  await archive.read(G, periods[0]!);
  const oneColdMs = +(performance.now() - t).toFixed(1);
  t = performance.now();
  for (const c of periods.slice(1)) await archive.read(G, c);
  const listColdMs = +(performance.now() - t + oneColdMs).toFixed(1);
  t = performance.now();
  for (const c of periods) await archive.read(G, c);
  const listKeptMs = +(performance.now() - t).toFixed(1);
  return { oneColdMs, periods: periods.length, listColdMs, listKeptMs };
}
const pglite = await pgliteEventStore('rewards_memory_bench');
const pgliteFigures = await storeFigures(pglite);
await pglite.close();
let postgresFigures: Record<string, number> | undefined;
const url = process.env.MEMORY_BENCH_DATABASE_URL;
if (url) {
  postgresFigures = await withPostgresSchema(url, `rewards_memory_bench_${process.pid}`, storeFigures);
}
console.log(
  JSON.stringify(
    {
      bench: 'rewards memory after P closed periods × N operators (domain fold, in process)',
      loadAverage: { before: loadBefore, after: loadAverage() },
      baseline,
      now,
      sameEarned: same,
      // The per-operator index of closed periods (ListOperatorRewards): one run per operator that stayed subscribed.
      members: { operators: state.groups.get(G)!.members.size, serializedBytes: v8.serialize(state.groups.get(G)!.members).length },
      ratio:
        baseline && (baseline.perPeriodAfterTheFirst as { heapBytes: number } | undefined)
          ? {
              heapAtEnd: +(
                (baseline.points as { heapUsedMB: number }[]).at(-1)!.heapUsedMB / (now.points as { heapUsedMB: number }[]).at(-1)!.heapUsedMB
              ).toFixed(1),
              serializedAtEnd: +(
                (baseline.points as { serializedBytes: number }[]).at(-1)!.serializedBytes /
                (now.points as { serializedBytes: number }[]).at(-1)!.serializedBytes
              ).toFixed(1),
            }
          : undefined,
      query: {
        note: 'one closed period read back from its decision events (parse + fold, min of 20); a ListOperatorRewards of k periods not kept costs k of these plus k store reads',
        rows,
        bytes: lastDecision.length,
        ms: readMs,
      },
      store: {
        note: 'one closed period read from the store and folded back (cold), every period so (a ListOperatorRewards over all of them, cold), and again with all of them kept',
        pglite: pgliteFigures,
        postgres: postgresFigures,
      },
    },
    null,
    1,
  ),
);
