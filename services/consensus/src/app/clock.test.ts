import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openPglite } from '@ewx/platform';
import { createRuntime, generateKeyPair, pgliteEventStore, readEnv, silentLogger, START } from '@ewx/platform';
import { waitFor } from '@ewx/platform/testing';
import { consensusDecider } from '../domain/decider.js';
import { blockRunMaxFrom, validatorsFrom } from '../index.js';
import { roundStarted, roundUnresolved } from '../domain/testing.js';
import { awaitEndedRounds, startBlockClock } from './clock.js';
import { manualScheduler, tickTimes } from './testing.js';

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
    // The attestation window recorded with the set: a day of 12 s blocks unless configured.
    assert.equal(alone.attestationWindow, 7200);
    assert.equal(validatorsFrom(readEnv({ ATTESTATION_WINDOW_BLOCKS: '50' })).attestationWindow, 50);
    for (const bad of ['0', '-1', '1.5', '720001', 'day'])
      assert.throws(() => validatorsFrom(readEnv({ ATTESTATION_WINDOW_BLOCKS: bad })), /ATTESTATION_WINDOW_BLOCKS: expected blocks from 1 to 720000/);
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

test('BLOCK_RUN_MAX: embedded, half the reward period, at most 100 (the services ask for the count in process); standalone 1', () => {
  assert.equal(blockRunMaxFrom(readEnv({}), 'embedded'), 50, 'the default 100-block period');
  assert.equal(blockRunMaxFrom(readEnv({ REWARD_PERIOD_BLOCKS: '7200' }), 'embedded'), 100);
  assert.equal(blockRunMaxFrom(readEnv({ REWARD_PERIOD_BLOCKS: '30' }), 'embedded'), 15);
  assert.equal(blockRunMaxFrom(readEnv({ REWARD_PERIOD_BLOCKS: '1' }), 'embedded'), 1);
  assert.equal(blockRunMaxFrom(readEnv({ REWARD_PERIOD_BLOCKS: '7200' }), 'standalone'), 1);
  assert.equal(blockRunMaxFrom(readEnv({ BLOCK_RUN_MAX: '7' }), 'embedded'), 7);
  assert.throws(() => blockRunMaxFrom(readEnv({ BLOCK_RUN_MAX: '0' }), 'embedded'), /BLOCK_RUN_MAX/);
});

describe('ProduceBlocks waits for the rounds that ended before going further', () => {
  const started = (roundId: string, endBlock: number) => roundStarted(roundId, { endBlock, period: 0 });

  test('an ended round is awaited until decided; one that stays undecided while the log is quiet is given up on once', async () => {
    const db = await openPglite();
    const rt = createRuntime('consensus', await pgliteEventStore('wait', db), consensusDecider, silentLogger);
    await rt.start();
    await rt.execute('inbox:voting:round', () => [started('r1', 3), started('r2', 3)]);
    await rt.execute('chain', () => [{ type: 'BlocksProduced', data: { from: 1, to: 3 } as never }]);
    const givenUp = new Set<string>();
    // r1 is decided while the wait runs (at once: well inside the quiet period even on a loaded machine); r2 never is.
    const t0 = Date.now();
    const waited = awaitEndedRounds(rt, givenUp, silentLogger, { quietMs: 3_000, pollMs: 5 });
    await rt.execute('solution:s1', () => [roundUnresolved('r1')]);
    await waited;
    assert.ok(Date.now() - t0 >= 3_000, 'waited for the quiet period after the last event');
    assert.equal(rt.state().rounds.get('s1\u0000r1')!.status, 'UNRESOLVED');
    assert.deepEqual([...givenUp], ['s1\u0000r2'], 'only the undecided round is given up on');
    // Given up once: the next call does not wait for it again (a wait would take the whole minute of quiet).
    const t1 = Date.now();
    await awaitEndedRounds(rt, givenUp, silentLogger, { quietMs: 60_000, pollMs: 5 });
    assert.ok(Date.now() - t1 < 30_000, 'did not wait for the quiet period again');
    await rt.stop();
    await db.close();
  });
});

describe('the block timer records runs, not one event per tick', () => {
  const started = (roundId: string, endBlock: number) => roundStarted(roundId, { startBlock: 0, endBlock, period: 0 });
  const blockRuns = async (rt: { store: { readStream(id: string): Promise<{ type: string; data: unknown }[]> } }): Promise<string[]> =>
    (await rt.store.readStream('chain')).map((e) => {
      const d = e.data as { height?: number; from?: number; to?: number };
      return e.type === 'BlockProduced' ? `${d.height}` : `${d.from}..${d.to}`;
    });

  test('N ticks: runs cut at round ends, at BLOCK_RUN_MAX and after other work; a stop records the rest', async () => {
    const db = await openPglite();
    const rt = createRuntime('consensus', await pgliteEventStore('timer', db), consensusDecider, silentLogger);
    await rt.start();
    // Two rounds that end at 7 and 8, already decided (nothing to wait for).
    await rt.execute('inbox:voting:round', () => [started('r1', 7), started('r2', 8)]);
    await rt.execute('solution:s1', () => [roundUnresolved('r1'), roundUnresolved('r2')]);
    const clock = manualScheduler();
    const timer = startBlockClock(rt, 1000, silentLogger, 0, { runMax: 5, scheduler: clock });
    const ticks = (n: number) => tickTimes(clock, timer, n);
    await ticks(4);
    assert.deepEqual(await blockRuns(rt), [], 'four blocks counted, none recorded');
    assert.deepEqual([timer.counted(), rt.state().height], [4, 0]);
    await ticks(1);
    assert.deepEqual(await blockRuns(rt), ['1..5'], 'BLOCK_RUN_MAX blocks: one run');
    await ticks(3);
    assert.deepEqual(await blockRuns(rt), ['1..5', '6..7', '8'], 'cut at the ends of r1 (7) and r2 (8)');
    await ticks(5);
    assert.deepEqual(await blockRuns(rt), ['1..5', '6..7', '8', '9..13']);
    // Other work recorded (a round starts, ending at 30): the count is recorded at the next tick.
    await ticks(1);
    await rt.execute('inbox:voting:round', () => [started('r3', 30)]);
    await ticks(1);
    assert.deepEqual(await blockRuns(rt), ['1..5', '6..7', '8', '9..13', '14..15']);
    await ticks(7);
    assert.deepEqual(await blockRuns(rt), ['1..5', '6..7', '8', '9..13', '14..15', '16..20']);
    assert.equal(timer.counted(), 22);
    await timer.stop();
    assert.deepEqual(await blockRuns(rt), ['1..5', '6..7', '8', '9..13', '14..15', '16..20', '21..22'], 'a clean stop records what was counted');
    assert.equal(rt.state().height, 22, '22 ticks, 22 blocks');
    await rt.stop();
    await db.close();
  });

  test('BLOCK_RUN_MAX = 1 is one block per tick', async () => {
    const db = await openPglite();
    const rt = createRuntime('consensus', await pgliteEventStore('timer1', db), consensusDecider, silentLogger);
    await rt.start();
    const clock = manualScheduler();
    const timer = startBlockClock(rt, 1000, silentLogger, 0, { runMax: 1, scheduler: clock });
    await tickTimes(clock, timer, 3);
    await timer.stop();
    assert.deepEqual(await blockRuns(rt), ['1', '2', '3']);
    await rt.stop();
    await db.close();
  });

  test('past an ended round the timer waits for its outcome, and counts on meanwhile: no tick is lost', async () => {
    const db = await openPglite();
    const rt = createRuntime('consensus', await pgliteEventStore('timerwait', db), consensusDecider, silentLogger);
    await rt.start();
    await rt.execute('inbox:voting:round', () => [started('r1', 3)]);
    const clock = manualScheduler();
    const timer = startBlockClock(rt, 1000, silentLogger, 0, { runMax: 4, scheduler: clock, settleWait: { quietMs: 60_000, maxMs: 60_000, pollMs: 5 } });
    await tickTimes(clock, timer, 3);
    assert.deepEqual(await blockRuns(rt), ['1..3'], 'cut at the round end');
    // Four more ticks make a run due, but r1 ended undecided: the recording waits; ticks go on counting.
    for (let i = 0; i < 7; i++) clock.tick();
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await blockRuns(rt), ['1..3'], 'nothing past the end of an undecided round');
    assert.equal(timer.counted(), 10);
    await rt.execute('solution:s1', () => [roundUnresolved('r1')]);
    await timer.idle();
    assert.deepEqual(await blockRuns(rt), ['1..3', '4..10'], 'once decided: every counted block, in one run');
    await timer.stop();
    await rt.stop();
    await db.close();
  });

  test('RecordCountedBlocks records the counted blocks at once; nothing (no event) when nothing is counted', async () => {
    const db = await openPglite();
    const rt = createRuntime('consensus', await pgliteEventStore('timerask', db), consensusDecider, silentLogger);
    await rt.start();
    const clock = manualScheduler();
    const timer = startBlockClock(rt, 40, silentLogger, 0, { runMax: 10, scheduler: clock, settleWait: { quietMs: 60_000, maxMs: 60_000, pollMs: 5 } });
    const ticks = (n: number) => tickTimes(clock, timer, n);
    await ticks(7);
    assert.deepEqual(await blockRuns(rt), [], 'idle: seven blocks counted, none recorded yet (BLOCK_RUN_MAX 10)');
    assert.deepEqual(await timer.recordCounted(), { height: 7, recorded: 7, counted: 7 });
    assert.deepEqual(await blockRuns(rt), ['1..7'], 'one run: the wall-clock height is recorded');
    const events = (await rt.store.readAll(START, 1000)).length;
    assert.deepEqual(await timer.recordCounted(), { height: 7, recorded: 0, counted: 7 }, 'asked again: nothing counted');
    assert.equal((await rt.store.readAll(START, 1000)).length, events, 'no event when nothing is counted');
    // The timer goes on from there: the next run is due 10 blocks after the recorded height.
    await ticks(9);
    assert.deepEqual(await blockRuns(rt), ['1..7']);
    await ticks(1);
    assert.deepEqual(await blockRuns(rt), ['1..7', '8..17']);
    // A round that ends at 20 and is not decided: the ask records up to its end and answers at once; the rest follows its outcome.
    await rt.execute('inbox:voting:round', () => [started('r1', 20)]);
    await ticks(1);
    assert.deepEqual((await blockRuns(rt)).slice(2), ['18'], 'work: recorded at the next tick');
    await ticks(5);
    assert.deepEqual((await blockRuns(rt)).slice(2), ['18', '19..20'], 'cut at the round end (its tick)');
    assert.equal(timer.counted(), 23);
    assert.deepEqual(
      await timer.recordCounted(),
      { height: 20, recorded: 0, counted: 23 },
      'past an undecided ended round: answered at once, the blocks follow its outcome',
    );
    await rt.execute('solution:s1', () => [roundUnresolved('r1')]);
    await timer.idle();
    assert.deepEqual((await blockRuns(rt)).slice(2), ['18', '19..20', '21..23']);
    await timer.stop();
    assert.deepEqual(await timer.recordCounted(), { height: 23, recorded: 0, counted: 23 }, 'stopped: nothing more');
    await rt.stop();
    await db.close();
  });

  test('RecordCountedBlocks with at_least (a service deadline): nothing recorded while the count is below it; at or past it, the whole count; nothing once recorded', async () => {
    const db = await openPglite();
    const rt = createRuntime('consensus', await pgliteEventStore('timeratleast', db), consensusDecider, silentLogger);
    await rt.start();
    const clock = manualScheduler();
    const timer = startBlockClock(rt, 40, silentLogger, 0, { runMax: 1000, scheduler: clock });
    const ticks = (n: number) => tickTimes(clock, timer, n);
    await ticks(19);
    const events = (await rt.store.readAll(START, 1000)).length;
    // A reward period closes at 20: the count is at 19, so nothing is recorded and the answer says how far the count is.
    assert.deepEqual(await timer.recordCounted(20), { height: 0, recorded: 0, counted: 19 });
    assert.equal((await rt.store.readAll(START, 1000)).length, events, 'below the deadline: no event');
    await ticks(1);
    assert.deepEqual(await blockRuns(rt), [], 'BLOCK_RUN_MAX 1000: the timer alone records nothing');
    assert.deepEqual(await timer.recordCounted(20), { height: 20, recorded: 20, counted: 20 }, 'at the deadline: one run up to it');
    assert.deepEqual(await blockRuns(rt), ['1..20']);
    // Past the deadline (the watch asked late): the whole count, as without at_least.
    await ticks(7);
    assert.deepEqual(await timer.recordCounted(25), { height: 27, recorded: 7, counted: 27 });
    // The recorded height already reached it (another service asked first, or this one's inbox lags): nothing.
    await ticks(2);
    assert.deepEqual(await timer.recordCounted(27), { height: 27, recorded: 0, counted: 29 });
    assert.deepEqual(await timer.recordCounted(26), { height: 27, recorded: 0, counted: 29 });
    assert.deepEqual(await blockRuns(rt), ['1..20', '21..27']);
    // at_least 0 is today's ask: whatever is counted.
    assert.deepEqual(await timer.recordCounted(0), { height: 29, recorded: 2, counted: 29 });
    assert.deepEqual(await blockRuns(rt), ['1..20', '21..27', '28..29']);
    await timer.stop();
    await rt.stop();
    await db.close();
  });

  test('a standby records nothing when asked; it answers its recorded height', async () => {
    const db = await openPglite();
    const rt = createRuntime('consensus', await pgliteEventStore('timeraskstandby', db), consensusDecider, silentLogger);
    await rt.start();
    const clock = manualScheduler();
    const standby = startBlockClock(rt, 40, silentLogger, 1, { runMax: 10, scheduler: clock });
    await tickTimes(clock, standby, 5);
    assert.deepEqual(await standby.recordCounted(), { height: 0, recorded: 0, counted: 0 });
    assert.deepEqual(await standby.recordCounted(3), { height: 0, recorded: 0, counted: 0 }, 'with at_least too');
    assert.deepEqual(await blockRuns(rt), []);
    await standby.stop();
    await rt.stop();
    await db.close();
  });

  test('a standby with BLOCK_RUN_MAX stands by while runs come, and takes over with the blocks of the ticks since the last one', async () => {
    const db = await openPglite();
    const open = async () => createRuntime('consensus', await pgliteEventStore('timerstandby', db), consensusDecider, silentLogger);
    const [a, b] = [await open(), await open()];
    await a.start();
    await b.start();
    const [ca, cb] = [manualScheduler(), manualScheduler()];
    const primary = startBlockClock(a, 1000, silentLogger, 0, { runMax: 5, scheduler: ca });
    const standby = startBlockClock(b, 1000, silentLogger, 1, { runMax: 5, scheduler: cb });
    const both = async (n: number) => {
      for (let i = 0; i < n; i++) {
        ca.tick();
        await primary.idle();
        await b.catchUp();
        cb.tick();
        await standby.idle();
      }
    };
    await both(12);
    assert.deepEqual(await blockRuns(a), ['1..5', '6..10'], 'the standby recorded nothing');
    await primary.stop();
    assert.deepEqual(await blockRuns(a), ['1..5', '6..10', '11..12'], 'the primary stopped cleanly');
    await b.catchUp();
    // (1 + 1) × 2 × 5 = 20 ticks without a block: the standby produces, the 20 blocks of those ticks at once.
    await tickTimes(cb, standby, 19);
    assert.equal(b.state().height, 12, 'still standing by');
    cb.tick();
    await standby.idle();
    assert.deepEqual(await blockRuns(b), ['1..5', '6..10', '11..12', '13..32']);
    await tickTimes(cb, standby, 5);
    assert.deepEqual((await blockRuns(b)).slice(4), ['33..37'], 'then runs of BLOCK_RUN_MAX');
    await standby.stop();
    await a.stop();
    await b.stop();
    await db.close();
  });
});
