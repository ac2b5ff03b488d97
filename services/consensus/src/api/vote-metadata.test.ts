import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import * as v8 from 'node:v8';
import * as grpc from '@grpc/grpc-js';
import {
  createRuntime,
  generateKeyPair,
  openPglite,
  pgliteEventStore,
  postgresEventStore,
  PROTO_ROOT,
  silentLogger,
  sqlProjectionsOf,
  START,
  startGrpcServer,
  type EventStore,
  type Runtime,
  type StartedServer,
} from '@ewx/platform';
import { realInfra, uniqueNamespace } from '@ewx/platform/testing';
import { ConsensusClient, GetVoteMetadataRequest } from '@ewx/proto/consensus';
import { CONSENSUS_STATE_VERSION } from '../index.js';
import { CHAIN_STREAM, consensusDecider, decide, solutionStream, VALIDATORS_STREAM, type ConsensusState } from '../domain/decider.js';
import { memoryVoteMetadata, rebuildVoteMetadata } from '../app/metadata.js';
import { votingFeed } from '../app/testing.js';
import { attestation, roundStartedData } from '../domain/testing.js';
import { consensusGrpc } from './grpc.js';

const { infra, skip } = await realInfra();

const admin = generateKeyPair();
const key = generateKeyPair();
const workers = Array.from({ length: 30 }, () => generateKeyPair().address);
const operators = workers.map(() => generateKeyPair().address);
const GROUPS = ['grp1', 'grp2'];
const PERIODS = 6;
const snapshots = { every: 1_000_000, version: CONSENSUS_STATE_VERSION };

interface Served {
  rt: Runtime<ConsensusState>;
  server: StartedServer;
  client: ConsensusClient;
}
async function serve(store: EventStore): Promise<Served> {
  const rt = createRuntime('consensus', store, consensusDecider, silentLogger, { snapshots });
  await rt.start();
  const server = await startGrpcServer([consensusGrpc(rt, admin.address, true, silentLogger)], '127.0.0.1', 0, ['ewx/v1/consensus.proto'], PROTO_ROOT);
  return { rt, server, client: new ConsensusClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure()) };
}
async function close(s: Served): Promise<void> {
  s.client.close();
  await s.server.stop();
  await s.rt.stop();
}

interface Row {
  operator: string;
  eligibleRounds: number;
  correctVotes: number;
}
interface Answer {
  operators: Row[];
  page?: { nextPageToken: string };
}
const getVoteMetadata = (client: ConsensusClient, req: Parameters<typeof GetVoteMetadataRequest.fromPartial>[0]): Promise<Answer> =>
  new Promise((res, rej) => client.getVoteMetadata(GetVoteMetadataRequest.fromPartial(req), (e, a) => (e ? rej(e) : res(a as unknown as Answer))));

/** Every page of a group's period (`pageSize` rows a page), followed through next_page_token. */
async function allPages(client: ConsensusClient, group: string, rewardPeriod: number, pageSize: number): Promise<Row[]> {
  const rows: Row[] = [];
  let pageToken = '';
  for (let i = 0; i < 100; i++) {
    const a = await getVoteMetadata(client, { group, rewardPeriod, page: { pageSize, pageToken } });
    rows.push(...a.operators);
    pageToken = a.page?.nextPageToken ?? '';
    if (pageToken === '') return rows;
  }
  throw new Error('more than 100 pages');
}

/**
 * `periods` reward periods of both groups, two rounds of the 30 workers each, settled by the one
 * validator, then blocks past their ends (each round leaves the state). In each round a different
 * part of the workers vote, and some vote otherwise than the majority.
 */
async function writePeriods(rt: Runtime<ConsensusState>, from: number, periods: number): Promise<void> {
  const fromVoting = votingFeed(() => rt);
  const execute = (stream: string, c: Parameters<typeof decide>[0]) => rt.execute(stream, (s) => decide(c, s));
  if (from === 0) await execute(VALIDATORS_STREAM, { type: 'ConfigureValidators', validators: [key.address] });
  for (let period = from; period < from + periods; period++) {
    for (const [g, group] of GROUPS.entries()) {
      for (const n of [0, 1]) {
        const solution = `s-${group}`;
        const roundId = `p${period}-${n}`;
        const endBlock = rt.state().height + 1;
        await fromVoting(solution, roundId, 'RoundStarted', roundStartedData(roundId, { solution, group, endBlock, period, eligible: workers.length }));
        await fromVoting(solution, roundId, 'RoundSnapshot', { chunk: 0, chunks: 1, workers: workers.map((w, i) => [w, operators[i]]) });
        const voters = workers.map((_, i) => i).filter((i) => (i + period + g + n) % 4 !== 0);
        for (const i of voters) await fromVoting(solution, roundId, 'VoteCast', { worker: workers[i], result: (i + n) % 7 === 3 ? 'bb' : 'aa', height: 1 });
        await fromVoting(solution, roundId, 'RoundClosed', { height: endBlock, submitted: voters.length });
        await execute(solutionStream(solution), attestation(rt.state(), key, solution, roundId));
        await execute(CHAIN_STREAM, { type: 'ProduceBlocks', signer: admin.address, admin: admin.address, manual: true, count: 2 });
      }
    }
  }
}

/** The rows a group's period should have: each VoteMetadata of the log, +1 eligible per operator it lists as eligible, +1 correct per operator it lists as correct; sorted by operator. */
async function expected(store: EventStore): Promise<Map<string, Row[]>> {
  const counts = new Map<string, Map<string, Row>>();
  let n = 0;
  for (const e of await store.readAll(START, 1_000_000)) {
    if (e.type !== 'VoteMetadata') continue;
    n++;
    const d = e.data as { group: string; rewardPeriod: number; eligibleOperators: string[]; correctOperators: string[] };
    const k = `${d.group}|${d.rewardPeriod}`;
    const m = counts.get(k) ?? new Map<string, Row>();
    counts.set(k, m);
    const row = (operator: string) => m.get(operator) ?? m.set(operator, { operator, eligibleRounds: 0, correctVotes: 0 }).get(operator)!;
    for (const op of d.eligibleOperators) row(op).eligibleRounds++;
    for (const op of d.correctOperators) row(op).correctVotes++;
  }
  assert.equal(n, 2 * GROUPS.length * PERIODS, 'a VoteMetadata per settled round');
  return new Map([...counts].map(([k, m]) => [k, [...m.values()].sort((a, b) => (a.operator < b.operator ? -1 : 1))]));
}

/** GetVoteMetadata answers every period of every group as the fold of the log's events, whole, by pages and per operator. */
async function answersAsTheLog(client: ConsensusClient, store: EventStore, when: string): Promise<void> {
  const want = await expected(store);
  for (const group of GROUPS) {
    for (let period = 0; period < PERIODS; period++) {
      const rows = want.get(`${group}|${period}`)!;
      assert.equal(rows.length, operators.length, `${group} period ${period}: every operator counted`);
      assert.ok(
        rows.some((r) => r.correctVotes < r.eligibleRounds),
        `${group} period ${period}: some operators were eligible without voting the result`,
      );
      const whole = await getVoteMetadata(client, { group, rewardPeriod: period });
      assert.deepEqual(whole.operators, rows, `${when}: ${group} period ${period}, every operator, sorted`);
      assert.equal(whole.page?.nextPageToken ?? '', '');
      assert.deepEqual(await allPages(client, group, period, 7), rows, `${when}: ${group} period ${period}, by pages of 7`);
      const one = rows[period]!;
      assert.deepEqual((await getVoteMetadata(client, { group, rewardPeriod: period, operator: one.operator })).operators, [one]);
    }
  }
  assert.deepEqual((await getVoteMetadata(client, { group: 'grp1', rewardPeriod: PERIODS + 5 })).operators, [], 'a period without rounds');
  assert.deepEqual((await getVoteMetadata(client, { group: 'nobody', rewardPeriod: 0 })).operators, [], 'a group without rounds');
}

/** Serialized state; it names no operator (no vote counts per group, period or operator). */
function stateBytes(s: ConsensusState): number {
  assert.ok(!('metadata' in s), 'no vote metadata in the decision state');
  assert.equal(s.rounds.size, 0, 'every round left the state');
  const bytes = v8.serialize(s);
  for (const op of operators) assert.equal(bytes.indexOf(op), -1, `operator ${op} is not in the state`);
  return bytes.length;
}

async function check(storeOf: () => Promise<EventStore>): Promise<void> {
  const store = await storeOf();
  let a = await serve(store);
  try {
    await writePeriods(a.rt, 0, 1);
    const afterOne = stateBytes(a.rt.state());
    await writePeriods(a.rt, 1, PERIODS - 1);
    const afterAll = stateBytes(a.rt.state());
    console.log(`serialized state after 1 period ${afterOne} B, after ${PERIODS} ${afterAll} B`);
    // The same state but for the widths of a few numbers (heights, chain lengths): nothing per period.
    assert.ok(afterAll - afterOne <= 8, `state after ${PERIODS} periods ${afterAll} B, after 1 ${afterOne} B`);
    await answersAsTheLog(a.client, store, 'live');

    // A restart on the same store (a new store object: a new projection object, the same table) answers the same.
    await close(a);
    a = await serve(await storeOf());
    const restarted = stateBytes(a.rt.state());
    assert.ok(Math.abs(restarted - afterAll) <= 8, `state after the restart ${restarted} B, before it ${afterAll} B`);
    await answersAsTheLog(a.client, store, 'after a restart');

    // Its table emptied (rebuilt from the log at the next start's first query), and in memory (KurrentDB's way): the same.
    await rebuildVoteMetadata(sqlProjectionsOf(store)!);
    await close(a);
    a = await serve(await storeOf());
    await answersAsTheLog(a.client, store, 'rebuilt from the log');
    const memory = memoryVoteMetadata(store);
    await memory.catchUp(a.rt.position());
    const want = await expected(store);
    for (const [k, rows] of want) {
      const [group, period] = k.split('|') as [string, string];
      const got = (await memory.period(group, Number(period), '')).map(([operator, c]) => ({ operator, eligibleRounds: c.eligible, correctVotes: c.correct }));
      assert.deepEqual(got, rows, `in memory: ${k}`);
    }
  } finally {
    await close(a);
  }
}

describe('vote metadata left the decision state: GetVoteMetadata reads a projection of the log', () => {
  test('on PGlite: after 6 periods the state holds no vote counts; GetVoteMetadata answers each period as the fold of the VoteMetadata events, also after a restart', async () => {
    const db = await openPglite();
    try {
      await check(() => pgliteEventStore('consensus_vote_metadata', db));
    } finally {
      await db.close();
    }
  });

  describe('on PostgreSQL', { skip }, () => {
    const stores: EventStore[] = [];
    after(async () => {
      const first = stores[0];
      if (first) await sqlProjectionsOf(first)!.projectionQuery(`DROP SCHEMA ${sqlProjectionsOf(first)!.projectionSchema} CASCADE`);
      for (const store of stores) await store.close();
    });
    test('the same on PostgreSQL', async () => {
      const ns = `${uniqueNamespace('cvm')}_consensus`;
      await check(async () => {
        const store = await postgresEventStore(infra!.databaseUrl, ns);
        stores.push(store);
        return store;
      });
    });
  });
});
