/**
 * Benchmark: closing one reward period for a group of 100,000 operators whose period holds 100 (BENCH_ROUNDS, default; 1,000 in the full run)
 * settled rounds of vote metadata. Addresses are hashes (random order, as subscriptions arrive), not sorted.
 * Prints, separately:
 *   - folding the rounds of metadata into per-operator counts (done as the events arrive),
 *   - closing the period (BENCH_REPS times on copies of the same state; min and median): gathering
 *     inputs, computing every share, building the chunked decision events (inputs, decision, payouts)
 *     and applying them to the state — issue 13 goal < 1 s,
 *   - the same-run baseline: the close as it was before (bench/reference.ts: comparator sort, stakes
 *     parsed back from strings) on the same state, with a check that both write the same bytes,
 *     and a trivial pass (sorting the operators by a bigint stake),
 *   - serializing those events and appending them to an event store in one transaction
 *     (PGlite in memory; PostgreSQL too when DATABASE_URL is set).
 * Run: npm run bench -w @ewx/rewards   (after `npx tsc -b services/rewards`)
 */
import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { TOKEN, encodePosition, pgliteEventStore, postgresEventStore, type EventData, type EventStore, type RecordedEvent } from '@ewx/platform';
import { decide } from '../src/domain/decide.js';
import { evolve } from '../src/domain/evolve.js';
import { initialState, type RewardsState } from '../src/domain/state.js';
import { referenceClose } from './reference.js';

const OPERATORS = Number(process.env.BENCH_OPERATORS ?? 100_000);
// 100 rounds by default keeps the run under ~3 minutes on a loaded machine; the close works on folded per-operator counts, so its cost does not grow with rounds (BENCH_ROUNDS=1000 for the full fold).
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 100);
const REPS = Number(process.env.BENCH_REPS ?? 5);
const METADATA_CHUNK = 5_000;
const G = 'bench-group';

let position = 0n;
const apply = (s: RewardsState, e: EventData, streamId = 'inbox:bench'): RewardsState =>
  evolve(s, { ...e, streamId, version: 0, position: encodePosition([++position]) } as RecordedEvent);

// A deterministic generator, so every run sees the same stakes and accuracies.
let seed = 42;
const next = (): number => { seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648; return seed / 2_147_483_648; };

/** CPU time of this process (all its threads, GC included), ms: steadier than wall time on a loaded machine. */
const cpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const ms = (t0: number): string => `${(performance.now() - t0).toFixed(0)} ms`;

async function main(): Promise<void> {
  // Addresses as hashes: their order is not the subscription order, so the close really sorts them.
  const ops = Array.from({ length: OPERATORS }, (_, i) => `ed25519:${createHash('sha256').update(`operator ${i}`).digest('hex')}`);
  const accuracy = ops.map(() => 0.5 + next() / 2);
  let s = initialState();
  s = apply(s, { type: 'RewardPeriodScheduleChanged', data: { fromPeriod: 0, firstBlock: 1, length: 7200 } });
  s = apply(s, {
    type: 'GroupRegistered',
    data: {
      group: G, owner: 'ed25519:' + 'f'.repeat(64), height: 1, budget: (10n ** 12n * TOKEN).toString(),
      config: {
        namespace: G, info: '', minStake: '1', maxStake: (10n ** 9n * TOKEN).toString(), maxOperators: OPERATORS, allowListEnabled: false, startBlock: 0,
        subscriptionRewardPerBlock: TOKEN.toString(), votingRewardPerBlock: TOKEN.toString(), slaVotingThreshold: 80,
        operationStartBlock: 1, operationEndBlock: 0, withdrawalDelay: 1,
      },
    },
  });
  for (const [i, op] of ops.entries()) {
    s = apply(s, { type: 'OperatorSubscribed', data: { group: G, operator: op, stake: (BigInt(1 + Math.floor(next() * 10_000)) * TOKEN).toString(), activeFromPeriod: 0, height: 1 } });
    if (i % 1000 === 0) s = apply(s, { type: 'OperatorUnsubscribed', data: { group: G, operator: op, unsubscribedInPeriod: 0, finalPeriod: 0, height: 1 } });
  }

  let fold = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const chunks = Math.ceil(OPERATORS / METADATA_CHUNK);
    for (let c = 0; c < chunks; c++) {
      const eligible = ops.slice(c * METADATA_CHUNK, (c + 1) * METADATA_CHUNK);
      const correct = eligible.filter((_, i) => ((r * 7919 + i * 104_729) % 1000) / 1000 < accuracy[c * METADATA_CHUNK + i]!);
      const t = performance.now();
      s = apply(s, { type: 'VoteMetadata', data: { group: G, rewardPeriod: 0, solution: 'sol', roundId: `r${r}`, chunk: c, chunks, eligibleOperators: eligible, correctOperators: correct } });
      fold += performance.now() - t;
    }
  }
  console.log(`fold ${ROUNDS} settled rounds × ${OPERATORS} operators of vote metadata: ${fold.toFixed(0)} ms (as events arrive, not part of closing)`);
  s = apply(s, { type: 'BlockProduced', data: { height: 7202 } });

  const cmd = { type: 'ClosePeriod', group: G, period: 0, settlementDelay: 2 } as const;
  const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ');
  const loadBefore = load();
  const decideMs: number[] = [];
  const refMs: number[] = [];
  const applyMs: number[] = [];
  const decideCpu: number[] = [];
  const refCpu: number[] = [];
  const applyCpu: number[] = [];
  let events: EventData[] = [];
  let closed = s;
  for (let rep = 0; rep < REPS; rep++) {
    // Alternate which runs first, so neither always meets the other's garbage.
    const runNew = (): void => { const t = performance.now(); const u = cpu(); events = decide(cmd, s); decideMs.push(performance.now() - t); decideCpu.push(cpu() - u); };
    let reference: EventData[] = [];
    const runRef = (): void => { const t = performance.now(); const u = cpu(); reference = referenceClose(s, G, 0, 2); refMs.push(performance.now() - t); refCpu.push(cpu() - u); };
    if (rep % 2 === 0) { runNew(); runRef(); } else { runRef(); runNew(); }
    if (rep === 0 && JSON.stringify(events) !== JSON.stringify(reference)) throw new Error('the close and the reference close wrote different events');
    reference = [];
    const copy = structuredClone(s);
    const t = performance.now();
    const u = cpu();
    for (const e of events) apply(copy, e, `group:${G}`);
    applyMs.push(performance.now() - t);
    applyCpu.push(cpu() - u);
    closed = copy;
  }
  const min = (xs: number[]): number => Math.min(...xs);
  const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const f = (x: number): string => x.toFixed(0);
  const closeMin = min(decideMs.map((d, i) => d + applyMs[i]!));
  const closeMed = median(decideMs.map((d, i) => d + applyMs[i]!));
  const refMin = min(refMs.map((d, i) => d + applyMs[i]!));
  const c = closed.groups.get(G)!.closed.get(0)!;
  console.log(`close period, ${REPS} runs: decide min ${f(min(decideMs))} / median ${f(median(decideMs))} ms + apply min ${f(min(applyMs))} / median ${f(median(applyMs))} ms = ` +
    `close min ${f(closeMin)} / median ${f(closeMed)} ms (${OPERATORS} operators, ${c.qualifying} meeting the SLA, ${events.length} events, paid ${c.paid / TOKEN} tokens) — issue goal < 1000 ms: ${closeMin < 1000 ? 'MET' : 'MISSED'}`);
  console.log(`baseline (same run): the previous close (bench/reference.ts, same events byte for byte): decide min ${f(min(refMs))} / median ${f(median(refMs))} ms, ` +
    `close min ${f(refMin)} ms; ratio previous/new decide ${(min(refMs) / min(decideMs)).toFixed(2)}, close ${(refMin / closeMin).toFixed(2)}`);

  console.log(`CPU time (process, GC included), min: decide ${f(min(decideCpu))} ms + apply ${f(min(applyCpu))} ms = close ${f(min(decideCpu.map((d, i) => d + applyCpu[i]!)))} ms; ` +
    `previous decide ${f(min(refCpu))} ms, close ${f(min(refCpu.map((d, i) => d + applyCpu[i]!)))} ms; ratio previous/new decide ${(min(refCpu) / min(decideCpu)).toFixed(2)}`);

  // Baseline: sorting the operators by stake (bigint), a lower bound for any close that ranks or sums them.
  const stakes = ops.map((op, i) => [op, BigInt(i * 7919 % 10_007)] as const);
  let t0 = performance.now();
  [...stakes].sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  console.log(`baseline (same run): sort ${OPERATORS} operators by a bigint stake: ${ms(t0)} (load average before ${loadBefore}, after ${load()})`);

  t0 = performance.now();
  const sizes = events.map((e) => Buffer.byteLength(JSON.stringify(e.data)));
  const bytes = sizes.reduce((a, b) => a + b, 0);
  const largest = Math.max(...sizes);
  console.log(`serialize: ${ms(t0)}; ${(bytes / 1024 / 1024).toFixed(1)} MiB in ${events.length} events, largest ${(largest / 1024).toFixed(0)} KiB`);

  const stores: [string, () => Promise<EventStore>][] = [['PGlite (memory)', () => pgliteEventStore(`bench${Date.now().toString(36)}`)]];
  if (process.env.DATABASE_URL) stores.push(['PostgreSQL', () => postgresEventStore(process.env.DATABASE_URL!, `bench${Date.now().toString(36)}`)]);
  for (const [name, open] of stores) {
    const store = await open();
    t0 = performance.now();
    await store.append(`group:${G}`, events, -1);
    console.log(`append the decision to ${name} in one transaction: ${ms(t0)}`);
    await store.close();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
