/**
 * What a decided round costs a query now that it left the state and left nothing behind: GetSettlement
 * and GetVoteProof of one such round — the decided-rounds projection (`app/decided.ts`: a table of
 * the store, folded from the log on demand; its first fold of the whole log is timed apart) says
 * where its attestations and decision are, they are read back from the log (one bounded read) —
 * first read and kept (KEPT_DECIDED), against the same answers from a runtime whose fold keeps every
 * round (`evolveKeepingRounds`) in the same run; and a GetResultChain page (the projection gives the
 * versions, one bounded read of the solution's stream) against the keeping fold's entries in its
 * state. The answers are checked equal. Store: PostgreSQL at MEMORY_BENCH_DATABASE_URL (a schema
 * made for the run and dropped after), else in-memory PGlite.
 * Run: `npx tsx bench/decided.bench.ts` in services/consensus. Knobs: DECIDED_BENCH_ROUNDS (200),
 * DECIDED_BENCH_VOTES (20), DECIDED_BENCH_PAGE (100).
 */
import assert from 'node:assert/strict';
import { createRuntime, generateKeyPair, pgliteEventStore, signBytes, silentLogger, type EventStore } from '@ewx/platform';
import { withPostgresSchema } from '@ewx/platform/testing';
import { loadAverage } from '@ewx/platform/testing/memory';
import { consensusGrpc } from '../src/api/grpc.js';
import {
  attestationBytes,
  CHAIN_STREAM,
  consensusDecider,
  decide,
  evaluateRound,
  evolveKeepingRounds,
  roundKey,
  solutionStream,
  VALIDATORS_STREAM,
} from '../src/domain/decider.js';

const ROUNDS = Number(process.env.DECIDED_BENCH_ROUNDS ?? 200);
const VOTES = Number(process.env.DECIDED_BENCH_VOTES ?? 20);
const PAGE = Number(process.env.DECIDED_BENCH_PAGE ?? 100);
const worker = (i: number): string => `ed25519:${'0'.repeat(56)}${(0x10000000 + i).toString(16)}`;
const operator = (i: number): string => `ed25519:${'f'.repeat(56)}${(0x10000000 + i).toString(16)}`;

type Handler = (call: { request: unknown }, cb: (e: Error | null, r?: unknown) => void) => void;
const call = (impl: Record<string, unknown>, method: string, request: unknown): Promise<unknown> =>
  new Promise((resolve, reject) => (impl[method] as Handler)({ request }, (e, r) => (e ? reject(e) : resolve(r))));
const timed = async (f: () => Promise<unknown>): Promise<[number, unknown]> => {
  const t = performance.now();
  const r = await f();
  return [+(performance.now() - t).toFixed(2), r];
};

async function figures(store: EventStore): Promise<Record<string, unknown>> {
  const admin = generateKeyPair();
  const validator = generateKeyPair();
  const rt = createRuntime('consensus', store, consensusDecider, silentLogger);
  await rt.start();
  await rt.execute(VALIDATORS_STREAM, (s) => decide({ type: 'ConfigureValidators', validators: [validator.address] }, s));
  let position = 0;
  const t0 = performance.now();
  for (let i = 0; i < ROUNDS; i++) {
    const roundId = `round-${i}`;
    const streamId = `round:sol1:${roundId}`;
    let version = 0;
    const fromVoting = (type: string, data: object) =>
      rt.ingest({ source: 'voting', streamId, version: version++, position: String(++position), type, data: { solution: 'sol1', roundId, ...data } as never });
    const end = rt.state().height + 1;
    await fromVoting('RoundStarted', {
      group: 'g1',
      starter: 'x',
      startBlock: end - 1,
      endBlock: end,
      period: 0,
      quorumPercent: 50,
      voteThresholdPercent: 60,
      unresolvedPolicy: 'NONE',
      eligible: VOTES,
      snapshotChunks: 1,
    });
    await fromVoting('RoundSnapshot', { chunk: 0, chunks: 1, workers: Array.from({ length: VOTES }, (_, w) => [worker(w), operator(w)]) });
    for (let w = 0; w < VOTES; w++) await fromVoting('VoteCast', { worker: worker(w), result: w % 3 === 2 ? 'bb' : 'aa', height: end - 1 });
    await fromVoting('RoundClosed', { height: end, submitted: VOTES });
    const { tally, merkleRoot } = evaluateRound(rt.state().rounds.get(roundKey('sol1', roundId))!);
    const signature = signBytes(validator, attestationBytes('sol1', roundId, tally, merkleRoot)).toString('hex');
    await rt.execute(solutionStream('sol1'), (s) => decide({ type: 'Attest', validator: validator.address, solution: 'sol1', roundId, tally, merkleRoot, signature }, s));
    await rt.execute(CHAIN_STREAM, (s) => decide({ type: 'ProduceBlocks', signer: admin.address, admin: admin.address, manual: true, count: 1 }, s));
  }
  const writeSeconds = +((performance.now() - t0) / 1000).toFixed(1);
  assert.equal(rt.state().rounds.size, 0, 'every round decided and left the state');
  const reference = createRuntime('consensus', store, { ...consensusDecider, evolve: evolveKeepingRounds }, silentLogger);
  await reference.start();
  const impl = consensusGrpc(rt, admin.address, true, silentLogger).implementation as Record<string, unknown>;
  const refImpl = consensusGrpc(reference, admin.address, true, silentLogger).implementation as Record<string, unknown>;
  // The projection's first fold of the whole log (then it folds only what is new): a GetSettlement of a round of no solution.
  const [projectionFirstFoldMs] = await timed(() => call(impl, 'getSettlement', { solution: 'none', roundId: 'none' }).catch(() => undefined));
  const one = { solution: 'sol1', roundId: `round-${Math.floor(ROUNDS / 2)}` };
  const [settlementFirstMs, a] = await timed(() => call(impl, 'getSettlement', one));
  const [settlementKeptMs] = await timed(() => call(impl, 'getSettlement', one));
  const [settlementStateMs, b] = await timed(() => call(refImpl, 'getSettlement', one));
  assert.deepEqual(a, b);
  const other = { solution: 'sol1', roundId: `round-${Math.floor(ROUNDS / 3)}`, worker: worker(1) };
  const [proofFirstMs, pa] = await timed(() => call(impl, 'getVoteProof', other));
  const [proofKeptMs] = await timed(() => call(impl, 'getVoteProof', other));
  const [proofStateMs, pb] = await timed(() => call(refImpl, 'getVoteProof', other));
  assert.deepEqual(pa, pb);
  const page = { solution: 'sol1', page: { pageSize: PAGE, pageToken: String(Math.floor(ROUNDS / 4)) } };
  const [chainPageMs, ca] = await timed(() => call(impl, 'getResultChain', page));
  const [chainPageAgainMs] = await timed(() => call(impl, 'getResultChain', page));
  const [chainPageStateMs, cb] = await timed(() => call(refImpl, 'getResultChain', page));
  assert.deepEqual(ca, cb);
  await reference.stop();
  await rt.stop();
  return {
    rounds: ROUNDS,
    votesPerRound: VOTES,
    page: PAGE,
    writeSeconds,
    projectionFirstFoldMs,
    getSettlement: { firstMs: settlementFirstMs, keptMs: settlementKeptMs, fromStateMs: settlementStateMs },
    getVoteProof: { firstMs: proofFirstMs, keptMs: proofKeptMs, fromStateMs: proofStateMs },
    getResultChainPage: { firstMs: chainPageMs, againMs: chainPageAgainMs, fromStateMs: chainPageStateMs },
  };
}

const loadBefore = loadAverage();
const out: Record<string, unknown> = {};
const url = process.env.MEMORY_BENCH_DATABASE_URL;
if (url) {
  out.postgres = await withPostgresSchema(url, `consensus_decided_bench_${process.pid}`, figures);
} else {
  const store = await pgliteEventStore('consensus_decided_bench');
  out.pglite = await figures(store);
  await store.close();
}
console.log(
  JSON.stringify({ bench: 'decided rounds read back (GetSettlement, GetVoteProof, GetResultChain)', loadAverage: { before: loadBefore, after: loadAverage() }, ...out }, null, 1),
);
