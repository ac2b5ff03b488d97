import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { openPglite, postgresEventStore, sqlProjectionsOf, START, type EventStore } from '@ewx/platform';
import { createRuntime, generateKeyPair, pgliteEventStore, silentLogger, type Logger, type Runtime } from '@ewx/platform';
import { capturingLogger, realInfra, uniqueNamespace } from '@ewx/platform/testing';
import { CHAIN_STREAM, consensusDecider, decide, roundKey, type ConsensusState } from '../domain/decider.js';
import { operator as op, roundStartedData, worker as w } from '../domain/testing.js';
import { voteMetadataRows } from './metadata.js';
import { startValidator } from './validator.js';

/** RoundStarted's data of a round of `eligible` workers from block 0 to `endBlock`. */
const started = (roundId: string, endBlock: number, eligible: number) => roundStartedData(roundId, { startBlock: 0, endBlock, period: 0, eligible });
let seq = 0;
const fromVoting = (rt: Runtime<ConsensusState>, type: string, data: object) =>
  rt.ingest({ source: 'voting', streamId: 'round:s1:r1', version: seq++, position: String(seq), type, data: data as never });

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('validator processes sharing one consensus store', () => {
  test('four validators, one down: the other three settle the round; the fourth attests when it is back', async () => {
    const db = await openPglite();
    const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair()];
    const set = keys.map((k) => k.address);
    const runtimes = await Promise.all(
      keys.map(async () => createRuntime('consensus', await pgliteEventStore('validators', db), consensusDecider, silentLogger)),
    );
    for (const rt of runtimes) await rt.start();
    const validators = runtimes.slice(0, 3).map((rt, i) => startValidator(rt, keys[i], set, silentLogger));

    const votes = Array.from({ length: 10 }, (_, i) => [w(i), i < 7 ? 'aa' : i < 9 ? 'bb' : ''] as const).filter((v) => v[1] !== '');
    await fromVoting(runtimes[0]!, 'RoundStarted', roundStartedData('r1', { endBlock: 6, period: 0, eligible: 10 }));
    await fromVoting(runtimes[0]!, 'RoundSnapshot', {
      solution: 's1',
      roundId: 'r1',
      chunk: 0,
      chunks: 1,
      workers: Array.from({ length: 10 }, (_, i) => [w(i), op(i)]),
    });
    await fromVoting(runtimes[0]!, 'RoundClosed', { solution: 's1', roundId: 'r1', height: 6, submitted: 9, chunk: 0, chunks: 1, votes });

    const round = await until('the round settled by three of four', async () => {
      await runtimes[1]!.catchUp();
      const r = runtimes[1]!.state().rounds.get(roundKey('s1', 'r1'));
      return r?.status === 'SETTLED' ? r : undefined;
    });
    assert.equal(round.outcome!.tally.result, 'aa');
    assert.ok(round.attestations.size >= 3 && !round.attestations.has(keys[3]!.address));
    assert.equal(runtimes[1]!.state().chains.get('s1')!.length, 1);
    const metadata = voteMetadataRows(runtimes[1]!.store);
    await metadata.catchUp(runtimes[1]!.position());
    assert.deepEqual(await metadata.period('g1', 0, op(0)), [[op(0), { eligible: 1, correct: 1 }]]);

    validators.push(startValidator(runtimes[3]!, keys[3], set, silentLogger));
    await until('the fourth validator catching up and attesting', async () => {
      await runtimes[3]!.catchUp();
      const a = runtimes[3]!.state().rounds.get(roundKey('s1', 'r1'))!.attestations.get(keys[3]!.address);
      return a ? a : undefined;
    }).then((a) => assert.equal(a.dissent, false));
    assert.equal(runtimes[3]!.state().chains.get('s1')!.length, 1, 'a late attestation settles nothing twice');

    for (const v of validators) await v.stop();
    for (const rt of runtimes) await rt.stop();
    await db.close();
  });

  test('started after a crash: a round closed while it was down is attested by its first pass, after the set is recorded', async () => {
    const db = await openPglite();
    const key = generateKeyPair();
    const rt = await createRuntime('consensus', await pgliteEventStore('restart', db), consensusDecider, silentLogger);
    await rt.start();
    const votes = Array.from({ length: 3 }, (_, i) => [w(i), 'aa'] as const);
    const start = seq;
    const ingest = (type: string, data: object) =>
      rt.ingest({ source: 'voting', streamId: 'round:s1:r2', version: seq++ - start, position: String(seq), type, data: data as never });
    await ingest('RoundStarted', started('r2', 6, 3));
    await ingest('RoundSnapshot', { solution: 's1', roundId: 'r2', chunk: 0, chunks: 1, workers: Array.from({ length: 3 }, (_, i) => [w(i), op(i)]) });
    await ingest('RoundClosed', { solution: 's1', roundId: 'r2', height: 6, submitted: 3, chunk: 0, chunks: 1, votes });
    assert.deepEqual(rt.state().validators, [], 'no set recorded yet');

    const log = capturingLogger();
    const { warnings } = log;
    const validator = startValidator(rt, key, [key.address], log);
    try {
      const round = await until('the round settled by the restarted validator', async () => {
        const r = rt.state().rounds.get(roundKey('s1', 'r2'));
        return r?.status === 'SETTLED' ? r : undefined;
      });
      assert.deepEqual(rt.state().validators, [key.address]);
      assert.deepEqual([...round.attestations.keys()], [key.address]);
      assert.deepEqual(warnings, [], 'attested against the recorded set, no "not in the recorded set" on the way');
    } finally {
      await validator.stop();
      await rt.stop();
      await db.close();
    }
  });
});

const { infra, skip } = await realInfra();

describe('the attestation window: a validator that comes back (PostgreSQL)', { skip }, () => {
  const stores: EventStore[] = [];
  after(async () => {
    for (const store of stores) {
      const sql = sqlProjectionsOf(store);
      if (sql) await sql.projectionQuery(`DROP SCHEMA IF EXISTS ${sql.projectionSchema} CASCADE`);
      await store.close();
    }
  });
  const WINDOW = 5;
  const admin = generateKeyPair();

  /**
   * Four validators with a window of 5 blocks, the fourth down: rounds `early` (ends at block 2) and
   * `late` (ends at block 20) closed and settled by three at height 0, then blocks to 10 — `early`'s
   * window closed at block 7 (it left the state), `late`'s closes at 25. `stale`: a runtime of the
   * fourth that read the log before the blocks.
   */
  async function downThenBlocks(tag: string) {
    const ns = `${uniqueNamespace(tag)}_consensus`;
    const open = async () => {
      const store = await postgresEventStore(infra!.databaseUrl, ns);
      stores.push(store);
      return createRuntime('consensus', store, consensusDecider, silentLogger);
    };
    const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair(), generateKeyPair()];
    const set = keys.map((k) => k.address);
    const runtimes = [await open(), await open(), await open()];
    for (const rt of runtimes) await rt.start();
    const stale = await open();
    let position = 0;
    for (const [roundId, endBlock] of [
      ['early', 2],
      ['late', 20],
    ] as const) {
      const ingest = (version: number, type: string, data: object) =>
        runtimes[0]!.ingest({
          source: 'voting',
          streamId: `round:s1:${roundId}`,
          version,
          position: String(++position),
          type,
          data: { solution: 's1', roundId, ...data } as never,
        });
      await ingest(0, 'RoundStarted', started(roundId, endBlock, 3));
      await ingest(1, 'RoundSnapshot', { chunk: 0, chunks: 1, workers: Array.from({ length: 3 }, (_, i) => [w(i), op(i)]) });
      await ingest(2, 'RoundClosed', { height: endBlock, submitted: 3, votes: Array.from({ length: 3 }, (_, i) => [w(i), 'aa']), chunk: 0, chunks: 1 });
    }
    const validators = runtimes.map((rt, i) => startValidator(rt, keys[i], set, silentLogger, WINDOW));
    await until('both rounds settled by three of four', async () => {
      await runtimes[1]!.catchUp();
      const s = runtimes[1]!.state();
      return ['early', 'late'].every((id) => s.rounds.get(roundKey('s1', id))?.status === 'SETTLED') ? s : undefined;
    });
    for (const v of validators) await v.stop();
    await stale.catchUp();
    assert.equal(stale.state().rounds.get(roundKey('s1', 'early'))!.attestationsClose, 2 + WINDOW);
    await runtimes[0]!.execute(CHAIN_STREAM, (s) => decide({ type: 'ProduceBlocks', signer: admin.address, admin: admin.address, manual: true, count: 10 }, s));
    await runtimes[1]!.catchUp();
    assert.deepEqual(
      [...runtimes[1]!.state().rounds.keys()],
      [roundKey('s1', 'late')],
      "early's window closed at block 7: it left the state without the fourth's attestation",
    );
    return { keys, set, runtimes, stale, open };
  }

  const capture = () => {
    const warnings: { message: string; fields: unknown }[] = [];
    const log: Logger = {
      info() {},
      warn: (message, fields) => {
        warnings.push({ message, fields });
      },
      error() {},
      child: () => log,
    };
    return { log, warnings };
  };
  const attestedBy = (rt: Runtime<ConsensusState>, validator: string) =>
    ['early', 'late'].filter((id) => rt.state().rounds.get(roundKey('s1', id))?.attestations.has(validator));

  test('started after the window of one round closed: it attests the round still open and tries nothing about the closed one', async () => {
    const { keys, set, runtimes, stale, open } = await downThenBlocks('vwback');
    const back = await open();
    await back.start();
    const { log, warnings } = capture();
    const validator = startValidator(back, keys[3], set, log, WINDOW);
    try {
      await until("the fourth's attestation of the open round", async () => (attestedBy(back, keys[3]!.address).length > 0 ? true : undefined));
      assert.deepEqual(attestedBy(back, keys[3]!.address), ['late']);
      assert.equal(back.state().rounds.get(roundKey('s1', 'late'))!.attestations.get(keys[3]!.address)!.dissent, false);
      assert.deepEqual(warnings, [], 'nothing refused, nothing retried');
      const own = (await back.store.readAll(START, 1000)).filter(
        (e) => e.type === 'AttestationRecorded' && (e.data as { validator?: string }).validator === keys[3]!.address,
      );
      assert.deepEqual(
        own.map((e) => (e.data as { roundId?: string }).roundId),
        ['late'],
        'the log holds its attestation of the open round only',
      );
    } finally {
      await validator.stop();
      await back.stop();
      for (const rt of [...runtimes, stale]) await rt.stop();
    }
  });

  test('an attestation in hand when its round left (blocks recorded meanwhile by another process): refused once, naming the block it closed at, skipped; the open round attested', async () => {
    const { keys, set, runtimes, stale } = await downThenBlocks('vwrace');
    // `stale` read the log before the blocks: its first pass signs `early` as still open; the
    // append catches up first, and the round has left by then.
    const { log, warnings } = capture();
    const validator = startValidator(stale, keys[3], set, log, WINDOW);
    try {
      await until("the fourth's attestation of the open round", async () => (attestedBy(stale, keys[3]!.address).length > 0 ? true : undefined));
      assert.deepEqual(attestedBy(stale, keys[3]!.address), ['late']);
      assert.equal(warnings.length, 1, `one line: ${JSON.stringify(warnings)}`);
      assert.match(JSON.stringify(warnings[0]!.fields), /attestations for round early of solution s1 closed at block 7/);
      assert.match(warnings[0]!.message, /skipped/);
    } finally {
      await validator.stop();
      for (const rt of [...runtimes, stale]) await rt.stop();
    }
  });
});
