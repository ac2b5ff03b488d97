import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openPglite } from '@ewx/platform';
import { createRuntime, generateKeyPair, pgliteEventStore, silentLogger, type Logger, type Runtime } from '@ewx/platform';
import { consensusDecider, roundKey, type ConsensusState } from '../domain/decider.js';
import { startValidator } from './validator.js';

const w = (i: number): string => `ed25519:${'0'.repeat(60)}${(0x1000 + i).toString(16)}`;
const op = (i: number): string => `ed25519:${'f'.repeat(60)}${(0x1000 + i).toString(16)}`;
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
    await fromVoting(runtimes[0]!, 'RoundStarted', {
      solution: 's1',
      roundId: 'r1',
      group: 'g1',
      starter: 'x',
      startBlock: 1,
      endBlock: 6,
      period: 0,
      quorumPercent: 50,
      voteThresholdPercent: 60,
      unresolvedPolicy: 'NONE',
      eligible: 10,
      snapshotChunks: 1,
    });
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
    assert.deepEqual(runtimes[1]!.state().metadata.get('g1|0')!.get(op(0)), { eligible: 1, correct: 1 });

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
    await ingest('RoundStarted', {
      solution: 's1',
      roundId: 'r2',
      group: 'g1',
      starter: 'x',
      startBlock: 1,
      endBlock: 6,
      period: 0,
      quorumPercent: 50,
      voteThresholdPercent: 60,
      unresolvedPolicy: 'NONE',
      eligible: 3,
      snapshotChunks: 1,
    });
    await ingest('RoundSnapshot', { solution: 's1', roundId: 'r2', chunk: 0, chunks: 1, workers: Array.from({ length: 3 }, (_, i) => [w(i), op(i)]) });
    await ingest('RoundClosed', { solution: 's1', roundId: 'r2', height: 6, submitted: 3, chunk: 0, chunks: 1, votes });
    assert.deepEqual(rt.state().validators, [], 'no set recorded yet');

    const warnings: string[] = [];
    const log: Logger = {
      info() {},
      warn: (m) => {
        warnings.push(m);
      },
      error() {},
      child: () => log,
    };
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
