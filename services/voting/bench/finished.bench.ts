/**
 * What a finished round costs a query now that it left the state: GetRound of one finished round and
 * ListRounds pages of finished rounds — the listing projection (`app/listing.ts`: a table of the
 * store, folded from the log on demand; its first fold of the whole log is timed apart) says which
 * rounds and what the state kept, each round's RoundStarted and settlement are read back from the
 * log (two one-event reads) — cold (nothing kept) and kept (VOTING_KEPT_ROUNDS), against the same
 * answers from a runtime whose fold keeps every round (`evolveKeepingRounds`, the state before) and
 * lists them from its state, in the same run. The answers are checked equal. Also the cost of a
 * start now that a used id is told from the log: StartRound of a new round through `executeOnRound`
 * (the round's stream read first) against a plain `execute`, alternating. Store: PostgreSQL at MEMORY_BENCH_DATABASE_URL (a schema
 * made for the run and dropped after), else in-memory PGlite.
 * Run: `npx tsx bench/finished.bench.ts` in services/voting. Knobs: FINISHED_BENCH_ROUNDS (200),
 * FINISHED_BENCH_VOTES (20), FINISHED_BENCH_PAGE (100).
 */
import assert from 'node:assert/strict';
import {
  createRuntime,
  pgliteEventStore,
  silentLogger,
  type EventData,
  type EventStore,
  type Runtime,
} from '@ewx/platform';
import { withPostgresSchema } from '@ewx/platform/testing';
import { loadAverage } from '@ewx/platform/testing/memory';
import { RoundState } from '@ewx/proto/voting';
import { votingGrpc } from '../src/api/grpc.js';
import { executeOnRound, pastRounds } from '../src/app/past.js';
import { inlineVerifier } from '../src/app/verifier.js';
import { keptRoundsListing } from '../src/testing/kept-listing.js';
import { closeRound, decideVotes, evolveKeepingRounds, roundStream, startRound, votingDecider, type VotingState } from '../src/domain/decider.js';
import { REGISTRAR, block, ev, operators, solutionConfig, worker } from '../src/domain/testing.js';

const ROUNDS = Number(process.env.FINISHED_BENCH_ROUNDS ?? 200);
const VOTES = Number(process.env.FINISHED_BENCH_VOTES ?? 20);
const PAGE = Number(process.env.FINISHED_BENCH_PAGE ?? 100);

type Handler = (call: { request: unknown }, cb: (e: Error | null, r?: unknown) => void) => void;
const call = (impl: Record<string, unknown>, method: string, request: unknown): Promise<unknown> =>
  new Promise((resolve, reject) => (impl[method] as Handler)({ request }, (e, r) => (e ? reject(e) : resolve(r))));
const timed = async (f: () => Promise<unknown>): Promise<[number, unknown]> => {
  const t = performance.now();
  const r = await f();
  return [+(performance.now() - t).toFixed(2), r];
};

async function figures(store: EventStore): Promise<Record<string, unknown>> {
  const rt = createRuntime('voting', store, votingDecider, silentLogger);
  await rt.start();
  let version = 0;
  const ingest = (source: string, streamId: string, e: EventData) =>
    rt.ingest({ source, streamId, version: version++, position: String(version), type: e.type, data: e.data });
  await ingest('rewards', 'calendar', ev('RewardPeriodScheduleChanged', { fromPeriod: 0, firstBlock: 1, length: 1_000_000_000 }));
  await ingest('registry', 'registry', ev('GroupRegistered', { group: 'g1', owner: REGISTRAR, config: {}, budget: '0', height: 1 }));
  await ingest(
    'registry',
    'registry',
    ev('SolutionRegistered', { solution: 'sol1', owner: REGISTRAR, config: solutionConfig({ namespace: 'sol1', maxWaitingThreshold: 1, expirationBlock: 1e9 }), height: 1 }),
  );
  for (const e of operators(VOTES)) await ingest('registry', 'registry', e);
  const t0 = performance.now();
  let settled = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const id = `round-${i}`;
    await ingest('consensus', 'blocks', block(10 + 2 * i));
    await rt.execute(roundStream('sol1', id), (s) => startRound(s, 'sol1', id, { kind: 'account', address: REGISTRAR }).events);
    await rt.execute(roundStream('sol1', id), (s) =>
      decideVotes(
        s,
        Array.from({ length: VOTES }, (_, w) => ({ solution: 'sol1', roundId: id, worker: worker(w + 1), result: 'aa', nonce: BigInt(i + 1) })),
        () => 0n,
      ).events,
    );
    await ingest('consensus', 'blocks', block(11 + 2 * i));
    await rt.execute(roundStream('sol1', id), (s) => closeRound(s, 'sol1', id));
    await rt.ingest({
      source: 'consensus',
      streamId: 'solution:sol1',
      version: settled++,
      position: String(version++),
      type: 'RoundSettled',
      data: {
        solution: 'sol1',
        roundId: id,
        group: 'g1',
        period: 0,
        result: 'aa',
        tally: { eligible: VOTES, submitted: VOTES, top: VOTES, outcome: 'SETTLED', result: 'aa' },
        merkleRoot: 'ab'.repeat(32),
        attestors: [],
        dissenters: [],
      },
    });
  }
  const writeSeconds = +((performance.now() - t0) / 1000).toFixed(1);
  assert.equal(rt.state().rounds.size, 0, 'every round finished and left the state');
  const reference: Runtime<VotingState> = createRuntime('voting', store, { ...votingDecider, evolve: evolveKeepingRounds }, silentLogger);
  await reference.start();
  const impl = votingGrpc(rt, silentLogger, inlineVerifier).implementation as Record<string, unknown>;
  const refImpl = votingGrpc(reference, silentLogger, inlineVerifier, undefined, { listing: keptRoundsListing(reference) }).implementation as Record<string, unknown>;
  // The listing's first fold of the whole log (then it folds only what is new): a GetRound of a round in no solution.
  const [listingFirstFoldMs] = await timed(() => call(impl, 'getRound', { solution: 'sol1', roundId: 'none' }).catch(() => undefined));
  const one = { solution: 'sol1', roundId: `round-${Math.floor(ROUNDS / 2)}` };
  const list = { solution: 'sol1', state: RoundState.ROUND_STATE_SETTLED, page: { pageSize: PAGE, pageToken: '' } };
  const [getRoundColdMs, a] = await timed(() => call(impl, 'getRound', one));
  const [getRoundKeptMs] = await timed(() => call(impl, 'getRound', one));
  const [getRoundStateMs, b] = await timed(() => call(refImpl, 'getRound', one));
  assert.deepEqual(a, b);
  const [listColdMs, la] = await timed(() => call(impl, 'listRounds', list));
  const [listKeptMs] = await timed(() => call(impl, 'listRounds', list));
  const [listStateMs, lb] = await timed(() => call(refImpl, 'listRounds', list));
  assert.deepEqual(la, lb);
  // Starts: through executeOnRound (reads the round's stream first) and a plain execute, alternating.
  const past = pastRounds(store);
  const startMs = { executeOnRound: [] as number[], execute: [] as number[] };
  const starts = Number(process.env.FINISHED_BENCH_STARTS ?? 100);
  await ingest('consensus', 'blocks', block(10 + 2 * ROUNDS));
  for (let i = 0; i < starts; i++) {
    const a = `start-a-${i}`;
    const b = `start-b-${i}`;
    const [ma] = await timed(() =>
      executeOnRound(rt, past, 'sol1', a, (s, known) => startRound(s, 'sol1', a, { kind: 'account', address: REGISTRAR }, known).events),
    );
    const [mb] = await timed(() => rt.execute(roundStream('sol1', b), (s) => startRound(s, 'sol1', b, { kind: 'account', address: REGISTRAR }).events));
    startMs.executeOnRound.push(ma);
    startMs.execute.push(mb);
  }
  const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  await reference.stop();
  await rt.stop();
  return {
    rounds: ROUNDS,
    votesPerRound: VOTES,
    page: PAGE,
    writeSeconds,
    listingFirstFoldMs,
    getRoundColdMs,
    getRoundKeptMs,
    getRoundStateMs,
    listColdMs,
    listKeptMs,
    listStateMs,
    startMedianMs: { executeOnRound: median(startMs.executeOnRound), execute: median(startMs.execute), starts },
  };
}

const loadBefore = loadAverage();
const out: Record<string, unknown> = {};
const url = process.env.MEMORY_BENCH_DATABASE_URL;
if (url) {
  out.postgres = await withPostgresSchema(url, `voting_finished_bench_${process.pid}`, figures);
} else {
  const store = await pgliteEventStore('voting_finished_bench');
  out.pglite = await figures(store);
  await store.close();
}
console.log(JSON.stringify({ bench: 'finished rounds read back (GetRound, ListRounds)', loadAverage: { before: loadBefore, after: loadAverage() }, ...out }, null, 1));
