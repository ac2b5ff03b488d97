import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openPglite } from '@ewx/platform';
import { createRuntime, generateKeyPair, pgliteEventStore, readEnv, silentLogger } from '@ewx/platform';
import { waitFor } from '@ewx/platform/testing';
import { consensusDecider } from '../domain/decider.js';
import { validatorsFrom } from '../index.js';
import { awaitEndedRounds, startBlockClock } from './clock.js';

describe('block production with several consensus processes', () => {
  test('only the first validator of the set produces; the others stand by (rank), an unlisted key observes', () => {
    const keys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
    const set = keys.map((k) => k.address).join(',');
    assert.equal(validatorsFrom(readEnv({ VALIDATORS: set, VALIDATOR_KEY: keys[0]!.seed })).rank, 0);
    assert.equal(validatorsFrom(readEnv({ VALIDATORS: set, VALIDATOR_KEY: keys[2]!.seed })).rank, 2);
    assert.equal(validatorsFrom(readEnv({ VALIDATORS: set, VALIDATOR_KEY: generateKeyPair().seed })).rank, -1);
    const alone = validatorsFrom(readEnv({}));
    assert.deepEqual([alone.rank, alone.validators.length, alone.validators[0]], [0, 1, alone.key!.address]);
    assert.throws(() => validatorsFrom(readEnv({ VALIDATORS: 'nope' })), /VALIDATORS/);
    assert.throws(() => validatorsFrom(readEnv({ VALIDATORS: `${set},ed25519:${'0'.repeat(64)}` })), /VALIDATORS: expected .*keys that can sign/);
    assert.throws(() => validatorsFrom(readEnv({ VALIDATOR_KEY: 'abc' })), /VALIDATOR_KEY/);
  });

  test('two processes on one store: blocks are not multiplied, and the standby takes over when the producer stops', async () => {
    const db = await openPglite();
    const open = async () => createRuntime('consensus', await pgliteEventStore('clock', db), consensusDecider, silentLogger);
    const [a, b] = [await open(), await open()];
    await a.start();
    await b.start();
    const tick = 40;
    const primary = startBlockClock(a, tick, silentLogger, 0);
    const standby = startBlockClock(b, tick, silentLogger, 1);
    const t0 = Date.now();
    // Until the producer reached a height (a position, not a duration), then the rate is checked.
    await waitFor(
      'the producer at height 10',
      async () => {
        await a.catchUp();
        return a.state().height >= 10 ? true : undefined;
      },
      20_000,
      20,
    );
    await primary.stop();
    const elapsed = Date.now() - t0;
    await a.catchUp();
    const h1 = a.state().height;
    assert.ok(h1 >= 1, 'the producer produced');
    assert.ok(h1 <= Math.ceil(elapsed / tick) + 2, `at most one block per tick: ${h1} blocks in ${elapsed} ms`);
    // After (1 + 1) × 2 ticks without blocks the standby produces: waited for as a height above the producer's last.
    await waitFor(
      'the standby took over',
      async () => {
        await b.catchUp();
        return b.state().height > h1 ? true : undefined;
      },
      20_000,
      20,
    );
    await standby.stop();
    await b.catchUp();
    assert.ok(b.state().height > h1, `the standby took over (${h1} → ${b.state().height})`);
    await a.stop();
    await b.stop();
    await db.close();
  });
});

describe('ProduceBlocks waits for the rounds that ended before going further', () => {
  const started = (roundId: string, endBlock: number) => ({
    type: 'RoundStarted',
    data: {
      solution: 's1',
      roundId,
      group: 'g1',
      starter: 'x',
      startBlock: 1,
      endBlock,
      period: 0,
      quorumPercent: 50,
      voteThresholdPercent: 60,
      unresolvedPolicy: 'NONE',
      eligible: 1,
      snapshotChunks: 1,
    } as never,
  });
  const unresolved = (roundId: string) => ({
    type: 'RoundUnresolved',
    data: {
      solution: 's1',
      roundId,
      tally: { eligible: 1, submitted: 0, top: 0, outcome: 'UNRESOLVED_NO_QUORUM' },
      merkleRoot: '',
      attestors: [],
      dissenters: [],
      validators: [],
    } as never,
  });

  test('an ended round is awaited until decided; one that stays undecided while the log is quiet is given up on once', async () => {
    const db = await openPglite();
    const rt = createRuntime('consensus', await pgliteEventStore('wait', db), consensusDecider, silentLogger);
    await rt.start();
    await rt.execute('inbox:voting:round', () => [started('r1', 3), started('r2', 3)]);
    await rt.execute('chain', () => [{ type: 'BlocksProduced', data: { from: 1, to: 3 } as never }]);
    const givenUp = new Set<string>();
    // r1 is decided while the wait runs; r2 never is.
    const decided = new Promise<void>((r) =>
      setTimeout(() => {
        void rt.execute('solution:s1', () => [unresolved('r1')]).then(() => r());
      }, 100),
    );
    const t0 = Date.now();
    await awaitEndedRounds(rt, givenUp, silentLogger, { quietMs: 400, pollMs: 5 });
    await decided;
    assert.ok(Date.now() - t0 >= 400, 'waited for the quiet period after the last event');
    assert.equal(rt.state().rounds.get('s1\u0000r1')!.status, 'UNRESOLVED');
    assert.deepEqual([...givenUp], ['s1\u0000r2'], 'only the undecided round is given up on');
    // Given up once: the next call does not wait for it again.
    const t1 = Date.now();
    await awaitEndedRounds(rt, givenUp, silentLogger, { quietMs: 5_000, pollMs: 5 });
    assert.ok(Date.now() - t1 < 1_000);
    await rt.stop();
    await db.close();
  });
});
