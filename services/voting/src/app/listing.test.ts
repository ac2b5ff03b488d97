import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  createRuntime,
  openPglite,
  pgliteEventStore,
  postgresEventStore,
  silentLogger,
  sqlProjectionsOf,
  START,
  type EventData,
  type EventStore,
  type Runtime,
  type SqlProjections,
} from '@ewx/platform';
import { realInfra, uniqueNamespace, waitFor } from '@ewx/platform/testing';
import {
  closeRound,
  decide,
  decideVotes,
  evolveKeepingRounds,
  initialVotingState,
  roundKey,
  roundStream,
  startRound,
  streamOf,
  votingDecider,
  type VotingCommand,
  type VotingState,
} from '../domain/decider.js';
import { REGISTRAR, block, ev, operators, schedule, solutionConfig, worker } from '../domain/testing.js';
import { followListing, memoryListing, rebuildListing, sqlListing, type ListingEntry } from './listing.js';

const { infra, skip } = await realInfra();

/**
 * A log as the service writes it: two solutions (RETRY_ONCE, NONE), rounds settled, unresolved and
 * retried, a retry unresolved and alerted, rounds waiting for consensus and open. `checkpoint` is
 * called between the phases (the live listing folds there, so its batches end at other places than
 * a rebuild's).
 */
async function writeLog(rt: Runtime<VotingState>, rounds: number, checkpoint: () => Promise<void>): Promise<void> {
  const versions = new Map<string, number>();
  const ingest = (source: string, streamId: string, e: EventData): Promise<boolean> => {
    const version = (versions.get(`${source}|${streamId}`) ?? -1) + 1;
    versions.set(`${source}|${streamId}`, version);
    return rt.ingest({ source, streamId, version, position: String(version), type: e.type, data: e.data });
  };
  const command = (c: VotingCommand) => rt.execute(streamOf(c, rt.state()), (s) => decide(c, s));
  const start = (solution: string, roundId: string) =>
    rt.execute(roundStream(solution, roundId), (s) => startRound(s, solution, roundId, { kind: 'account', address: REGISTRAR }).events);
  let nonce = 0n;
  const votes = (solution: string, roundId: string, n: number) =>
    rt.execute(
      roundStream(solution, roundId),
      (s) =>
        decideVotes(
          s,
          Array.from({ length: n }, (_, i) => ({ solution, roundId, worker: worker(i + 1), result: i % 3 === 2 ? 'bb' : 'aa', nonce: ++nonce })),
          rt.lastNonce,
        ).events,
    );
  const settle = (solution: string, roundId: string, outcome: 'SETTLED' | 'UNRESOLVED') =>
    ingest(
      'consensus',
      `solution:${solution}`,
      outcome === 'SETTLED'
        ? ev('RoundSettled', {
            solution,
            roundId,
            group: 'g1',
            period: 0,
            result: 'aa',
            tally: { eligible: 6, submitted: 3, top: 2, outcome, result: 'aa' },
            merkleRoot: 'ab'.repeat(32),
            attestors: [],
            dissenters: [],
          })
        : ev('RoundUnresolved', { solution, roundId, reason: 'NO_QUORUM', tally: { eligible: 6, submitted: 0, top: 0, outcome }, merkleRoot: 'cd'.repeat(32) }),
    );
  for (const e of [
    schedule,
    ev('GroupRegistered', { group: 'g1', owner: REGISTRAR, config: {}, budget: '0', height: 1 }),
    ev('SolutionRegistered', {
      solution: 's1',
      owner: REGISTRAR,
      config: solutionConfig({ unresolvedPolicy: 'RETRY_ONCE', maxWaitingThreshold: 5 }),
      height: 1,
    }),
    ev('SolutionRegistered', { solution: 's2', owner: REGISTRAR, config: solutionConfig({ namespace: 's2', maxWaitingThreshold: 5 }), height: 1 }),
    ...operators(6),
  ])
    await ingest('registry', 'registry', e);
  await ingest('consensus', 'blocks', block(10));
  const ids = (solution: string) => Array.from({ length: rounds }, (_, i) => `${solution}-${i}`);
  for (const solution of ['s1', 's2']) for (const id of ids(solution)) await start(solution, id);
  await checkpoint();
  for (const solution of ['s1', 's2']) for (const [i, id] of ids(solution).entries()) if (i % 4 !== 3) await votes(solution, id, i % 5);
  await ingest('consensus', 'blocks', block(15));
  for (const solution of ['s1', 's2'])
    for (const [i, id] of ids(solution).entries()) if (i % 4 !== 3) await rt.execute(roundStream(solution, id), (s) => closeRound(s, solution, id));
  await checkpoint();
  // Settled, unresolved (s1: retried, then the retry unresolved and alerted), or left waiting for consensus.
  for (const solution of ['s1', 's2'])
    for (const [i, id] of ids(solution).entries()) {
      if (i % 4 === 0) await settle(solution, id, 'SETTLED');
      if (i % 4 === 1) await settle(solution, id, 'UNRESOLVED');
    }
  for (const [i, id] of ids('s1').entries()) if (i % 4 === 1) await command({ type: 'ApplyUnresolvedPolicy', solution: 's1', roundId: id });
  await checkpoint();
  await ingest('consensus', 'blocks', block(20));
  for (const [i, id] of ids('s1').entries())
    if (i % 4 === 1 && i % 8 !== 5) {
      await rt.execute(roundStream('s1', `${id}#retry`), (s) => closeRound(s, 's1', `${id}#retry`));
      await settle('s1', `${id}#retry`, 'UNRESOLVED');
      await command({ type: 'ApplyUnresolvedPolicy', solution: 's1', roundId: `${id}#retry` });
    }
  await checkpoint();
}

const rowsOf = async (sql: SqlProjections): Promise<unknown[]> =>
  (await sql.projectionQuery(`SELECT * FROM ${sql.projectionSchema}.voting_rounds ORDER BY seq`)).rows;

/** Every entry of both solutions, in starting order, through the listing's page. */
const entriesOf = async (listing: { page: ReturnType<typeof memoryListing>['page'] }): Promise<ListingEntry[]> => [
  ...(await listing.page('s1', undefined, 0, 1_000_000)).entries,
  ...(await listing.page('s2', undefined, 0, 1_000_000)).entries,
];

async function check(store: EventStore, rounds: number): Promise<void> {
  const sql = sqlProjectionsOf(store)!;
  const rt = createRuntime('voting', store, votingDecider, silentLogger);
  await rt.start();
  const live = sqlListing(store, sql);
  await writeLog(rt, rounds, () => live.catchUp(rt.position()));
  const written = await rowsOf(sql);
  const liveEntries = await entriesOf(live);
  assert.equal(liveEntries.length, 2 * rounds + rounds / 4, 'every round and every retry listed');

  // Rebuilt from the log: the same rows, byte for byte.
  await rebuildListing(sql);
  assert.deepEqual(await rowsOf(sql), [], 'emptied');
  const rebuilt = sqlListing(store, sql);
  await rebuilt.catchUp(rt.position());
  assert.deepEqual(await rowsOf(sql), written, 'the listing rebuilt from the log equals the one written live');
  // Folding again changes nothing (idempotent: its mark says where it is).
  await sqlListing(store, sql).catchUp(rt.position());
  assert.deepEqual(await rowsOf(sql), written);
  // The in-memory listing (a store without tables) folds the same entries.
  const memory = memoryListing(store);
  await memory.catchUp(rt.position());
  assert.deepEqual(await entriesOf(memory), liveEntries);

  // What the entries say is what the state said: retired ⇔ out of the state; each field as the fold that keeps every round holds it.
  const kept = initialVotingState();
  for (const e of await store.readAll(START, 1_000_000)) evolveKeepingRounds(kept, e);
  const retired = liveEntries.filter((x) => x.retired).length;
  assert.ok(retired > rounds && retired < liveEntries.length, `some rounds finished, some not (${retired} of ${liveEntries.length})`);
  for (const x of liveEntries) {
    const key = roundKey(x.solution, x.roundId);
    assert.equal(x.retired, !rt.state().rounds.has(key), `${key}: retired here ⇔ out of the state`);
    const r = kept.rounds.get(key)!;
    assert.deepEqual(
      [x.status, x.alerted, x.endBlock, x.submitted, x.settledAt],
      [r.status, r.alerted, r.endBlock, r.submitted ?? r.votes.size, r.settledAt ?? -1],
      key,
    );
  }
  // Pages by state and size cut the same list.
  for (const status of ['ACTIVE', 'OFF_CHAIN_VOTE', 'SETTLED', 'UNRESOLVED'] as const) {
    const all = liveEntries.filter((x) => x.solution === 's1' && x.status === status);
    const paged: ListingEntry[] = [];
    for (let after = 0; ; ) {
      const p = await live.page('s1', status, after, 3);
      paged.push(...p.entries);
      if (!p.more) break;
      after = p.entries[p.entries.length - 1]!.seq;
    }
    assert.deepEqual(paged, all, status);
  }
  await rt.stop();
}

describe("voting's round listing (a projection of its log): rebuilt from the log it equals the one written live", () => {
  test('on PGlite', async () => {
    const db = await openPglite();
    try {
      await check(await pgliteEventStore('voting_listing', db), 24);
    } finally {
      await db.close();
    }
  });

  test('followed in the background (PGlite): the listing folds the log as events are applied, with no query', async () => {
    const db = await openPglite();
    try {
      const store = await pgliteEventStore('voting_listing_follow', db);
      const sql = sqlProjectionsOf(store)!;
      const rt = createRuntime('voting', store, votingDecider, silentLogger);
      await rt.start();
      const follow = followListing(rt, sqlListing(store, sql), silentLogger, 5);
      await writeLog(rt, 8, async () => undefined);
      const mark = async () =>
        (await sql.projectionQuery<{ position: string }>(`SELECT position FROM ${sql.projectionSchema}.voting_rounds_mark`)).rows[0]?.position;
      await waitFor('the listing folded up to the last event', async () => ((await mark()) === rt.position() ? true : undefined));
      assert.equal((await rowsOf(sql)).length, 2 * 8 + 8 / 4);
      await follow.stop();
      await rt.stop();
    } finally {
      await db.close();
    }
  });

  describe('on PostgreSQL', { skip }, () => {
    let store: EventStore | undefined;
    after(async () => {
      if (store) await sqlProjectionsOf(store)!.projectionQuery(`DROP SCHEMA ${sqlProjectionsOf(store)!.projectionSchema} CASCADE`);
      await store?.close();
    });
    test('on PostgreSQL', async () => {
      store = await postgresEventStore(infra!.databaseUrl, `${uniqueNamespace('vl')}_voting`);
      await check(store, 24);
    });
  });
});
