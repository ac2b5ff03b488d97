import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  createRuntime,
  generateKeyPair,
  openPglite,
  pgliteEventStore,
  postgresEventStore,
  signBytes,
  silentLogger,
  sqlProjectionsOf,
  START,
  type EventStore,
  type KeyPair,
  type Runtime,
  type SqlProjections,
  type Tally,
} from '@ewx/platform';
import { realInfra, uniqueNamespace, waitFor } from '@ewx/platform/testing';
import {
  attestationBytes,
  CHAIN_STREAM,
  consensusDecider,
  decide,
  evaluateRound,
  evolveKeepingRounds,
  initialConsensusState,
  roundKey,
  solutionStream,
  VALIDATORS_STREAM,
  type ConsensusCommand,
  type ConsensusState,
} from '../domain/decider.js';
import { attestation, roundStartedData } from '../domain/testing.js';
import { votingFeed } from './testing.js';
import { decidedRounds, followDecided, memoryDecided, rebuildDecided, sqlDecided, type DecidedRounds } from './decided.js';

const { infra, skip } = await realInfra();

const admin = generateKeyPair();
const keys = Array.from({ length: 4 }, () => generateKeyPair());
const workers = Array.from({ length: 9 }, () => generateKeyPair().address);
const operators = workers.map(() => generateKeyPair().address);
const SOLUTIONS = ['sa', 'sb'];
const ids = (rounds: number): string[] => Array.from({ length: rounds }, (_, i) => `r${i}`);

/**
 * A log as the service writes it: four validators, two solutions, `rounds` rounds each — settled by
 * three with the fourth late, settled with a forged tally and a late dissent, unresolved, owed an
 * attestation (the fourth never comes), decided by the fourth attestation, and open — with blocks in
 * between, so some leave the state. `checkpoint` is called between the rounds (the live projection
 * folds there, so its batches end at other places than a rebuild's).
 */
async function writeLog(rt: Runtime<ConsensusState>, rounds: number, checkpoint: () => Promise<void>, window?: number): Promise<void> {
  const fromVoting = votingFeed(() => rt);
  const execute = (stream: string, c: ConsensusCommand) => rt.execute(stream, (s) => decide(c, s));
  const attest = (k: KeyPair, solution: string, roundId: string, forge?: (t: Tally) => Tally) =>
    execute(solutionStream(solution), attestation(rt.state(), k, solution, roundId, forge));
  const blocks = (count: number) => execute(CHAIN_STREAM, { type: 'ProduceBlocks', signer: admin.address, admin: admin.address, manual: true, count });
  await execute(VALIDATORS_STREAM, {
    type: 'ConfigureValidators',
    validators: keys.map((k) => k.address),
    ...(window === undefined ? {} : { attestationWindow: window }),
  });
  for (const [i, roundId] of ids(rounds).entries()) {
    const kind = i % 6;
    for (const solution of SOLUTIONS) {
      const endBlock = rt.state().height + 1;
      const voters = kind === 2 ? 2 : 6 + (i % 4);
      await fromVoting(
        solution,
        roundId,
        'RoundStarted',
        roundStartedData(roundId, { solution, endBlock, period: Math.floor(i / 4), eligible: workers.length }),
      );
      await fromVoting(solution, roundId, 'RoundSnapshot', { chunk: 0, chunks: 1, workers: workers.map((w, k) => [w, operators[k]]) });
      for (let w = voters - 1; w >= 0; w--)
        await fromVoting(solution, roundId, 'VoteCast', { worker: workers[w], result: w % 3 === 2 ? 'bb' : 'aa', height: 1 });
      if (kind === 5) continue; // open
      await fromVoting(solution, roundId, 'RoundClosed', { height: endBlock, submitted: voters });
      if (kind === 4) {
        await attest(keys[0]!, solution, roundId);
        await attest(keys[1]!, solution, roundId, (t) => ({ ...t, top: t.top - 1 }));
        await attest(keys[2]!, solution, roundId);
        await attest(keys[3]!, solution, roundId);
        continue;
      }
      for (const k of keys.slice(0, 3)) await attest(k, solution, roundId, kind === 1 ? (t) => ({ ...t, result: 'cc' }) : undefined);
      if (kind !== 3) await attest(keys[3]!, solution, roundId);
    }
    await blocks(2);
    await checkpoint();
  }
}

const rowsOf = async (sql: SqlProjections): Promise<unknown[]> =>
  (await sql.projectionQuery(`SELECT * FROM ${sql.projectionSchema}.consensus_rounds ORDER BY solution, round_id`)).rows;

/** What the projection says of every round and every solution's chain. */
async function answersOf(d: DecidedRounds, rounds: number): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const solution of [...SOLUTIONS, 'none']) {
    for (const roundId of [...ids(rounds), 'nope']) out.push(await d.where(solution, roundId));
    out.push(await d.chain(solution, 0, 1000), await d.chain(solution, 1, 2));
  }
  return out;
}

async function check(store: EventStore, rounds: number, window?: number): Promise<void> {
  const sql = sqlProjectionsOf(store)!;
  const rt = createRuntime('consensus', store, consensusDecider, silentLogger);
  await rt.start();
  try {
    await checkOn(store, sql, rt, rounds, window);
  } finally {
    await rt.stop();
  }
}

async function checkOn(store: EventStore, sql: SqlProjections, rt: Runtime<ConsensusState>, rounds: number, window?: number): Promise<void> {
  const live = sqlDecided(store, sql);
  await writeLog(rt, rounds, () => live.catchUp(rt.position()), window);
  const written = await rowsOf(sql);
  const answers = await answersOf(live, rounds);

  // Rebuilt from the log: the same rows; folding again changes nothing; in memory: the same answers.
  await rebuildDecided(sql);
  assert.deepEqual(await rowsOf(sql), [], 'emptied');
  const rebuilt = sqlDecided(store, sql);
  await rebuilt.catchUp(rt.position());
  assert.deepEqual(await rowsOf(sql), written, 'the projection rebuilt from the log equals the one written live');
  await sqlDecided(store, sql).catchUp(rt.position());
  assert.deepEqual(await rowsOf(sql), written, 'folded again: unchanged');
  const memory = memoryDecided(store);
  await memory.catchUp(rt.position());
  assert.deepEqual(await answersOf(memory, rounds), answers, 'the in-memory projection answers the same');

  // What the rows say is what the state said: where each decided round is (`attested`) and its chain entries, as the keeping fold holds them.
  const kept = initialConsensusState();
  for (const e of await store.readAll(START, 1_000_000)) evolveKeepingRounds(kept, e);
  let left = 0;
  for (const solution of SOLUTIONS) {
    for (const roundId of ids(rounds)) {
      const r = kept.rounds.get(roundKey(solution, roundId))!;
      assert.deepEqual(await live.where(solution, roundId), r.attested, `${solution}/${roundId}: where its attestations and decision are`);
      if (!rt.state().rounds.has(roundKey(solution, roundId))) {
        left++;
        assert.ok(r.decidedBy && r.attested, `${roundId} left the state decided, its range known`);
      }
    }
    const at = await live.chain(solution, 0, 1000);
    const entries = at.length ? await store.readStream(solutionStream(solution), at[0]!, at[at.length - 1]! - at[0]! + 1) : [];
    const byVersion = new Map(entries.map((e) => [e.version, e]));
    assert.deepEqual(
      at.map((v) => {
        const { index, roundId, result, tally, prevHash, hash } = byVersion.get(v)!.data as unknown as Record<string, unknown>;
        return { index, roundId, result, tally, prevHash, hash };
      }),
      kept.chains.get(solution)!.entries,
      `${solution}: the chain entries at the versions the projection holds`,
    );
    assert.equal(at.length, rt.state().chains.get(solution)!.length);
  }
  const open = ids(rounds).filter((_, i) => i % 6 === 5).length;
  if (window === undefined) assert.ok(left > rounds && left < 2 * rounds, `some rounds left the state, some stay (${left} of ${2 * rounds})`);
  // Two blocks after each round: with a window of 2 the rounds owed the fourth's attestation left too; only the open ones stay.
  else assert.equal(left, 2 * (rounds - open), `every decided round left the state (${left} of ${2 * rounds})`);

  // A stale or wrong projection changes no decision: with its rows gone and its mark at the end, a
  // replay gives the same state, and every attestation of every round is decided the same.
  await sql.projectionQuery(`DELETE FROM ${sql.projectionSchema}.consensus_rounds`);
  const replay = createRuntime('consensus', store, consensusDecider, silentLogger);
  await replay.start();
  const replayed = replay.state();
  await replay.stop();
  assert.deepEqual(replayed, rt.state(), 'the replay with a wrong projection is the state');
  const decisions = (s: ConsensusState) =>
    SOLUTIONS.flatMap((solution) =>
      ids(rounds).flatMap((roundId) =>
        keys.map((k) => {
          const r = s.rounds.get(roundKey(solution, roundId));
          const honest =
            r && r.status !== 'ACTIVE' ? evaluateRound(r) : { tally: { eligible: 0, submitted: 0, top: 0, outcome: 'UNRESOLVED' as const }, merkleRoot: '' };
          const signature = signBytes(k, attestationBytes(solution, roundId, honest.tally, honest.merkleRoot)).toString('hex');
          try {
            return decide({ type: 'Attest', validator: k.address, solution, roundId, ...honest, signature }, s);
          } catch (e) {
            return (e as Error).message;
          }
        }),
      ),
    );
  assert.deepEqual(decisions(replayed), decisions(rt.state()));
}

describe("consensus's decided rounds (a projection of its log): rebuilt from the log it equals the one written live", () => {
  test('on PGlite', async () => {
    const db = await openPglite();
    try {
      await check(await pgliteEventStore('consensus_decided_rows', db), 12);
    } finally {
      await db.close();
    }
  });

  test('followed in the background (PGlite): the projection folds the log as events are applied, with no query; one per store', async () => {
    const db = await openPglite();
    try {
      const store = await pgliteEventStore('consensus_decided_follow', db);
      const sql = sqlProjectionsOf(store)!;
      assert.equal(decidedRounds(store), decidedRounds(store));
      const rt = createRuntime('consensus', store, consensusDecider, silentLogger);
      await rt.start();
      const follow = followDecided(rt, decidedRounds(store), silentLogger, 5);
      await writeLog(rt, 6, async () => undefined);
      const mark = async () =>
        (await sql.projectionQuery<{ position: string }>(`SELECT position FROM ${sql.projectionSchema}.consensus_rounds_mark`)).rows[0]?.position;
      await waitFor('the projection folded up to the last event', async () => ((await mark()) === rt.position() ? true : undefined));
      assert.equal((await rowsOf(sql)).length, 2 * 5, 'a row per round with an attestation (the open ones have none)');
      await follow.stop();
      await rt.stop();
    } finally {
      await db.close();
    }
  });

  describe('on PostgreSQL', { skip }, () => {
    const stores: EventStore[] = [];
    after(async () => {
      for (const store of stores) {
        await sqlProjectionsOf(store)!.projectionQuery(`DROP SCHEMA ${sqlProjectionsOf(store)!.projectionSchema} CASCADE`);
        await store.close();
      }
    });
    const storeOf = async (tag: string) => {
      const store = await postgresEventStore(infra!.databaseUrl, `${uniqueNamespace(tag)}_consensus`);
      stores.push(store);
      return store;
    };
    test('on PostgreSQL', async () => {
      await check(await storeOf('cd'), 12);
    });
    test('on PostgreSQL, with an attestation window of 2 blocks (the fourth validator never attests some rounds: they leave at its close)', async () => {
      await check(await storeOf('cdw'), 12, 2);
    });
  });
});
