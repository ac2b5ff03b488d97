import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  createRuntime,
  openPglite,
  readEnv,
  pgliteEventStore,
  postgresEventStore,
  silentLogger,
  sqlProjectionsOf,
  type EventStore,
  type Logger,
  type Runtime,
  type SqlProjections,
} from '@ewx/platform';
import { capturingLogger, realInfra, uniqueNamespace, waitFor } from '@ewx/platform/testing';
import { consensusDecider, type ConsensusState } from '../domain/decider.js';
import { beatTtlFrom } from '../index.js';
import { clockBeatsOf, memoryClockBeats, sqlClockBeats, type ClockBeats } from './beats.js';
import { startBlockClock, type BlockClock } from './clock.js';
import { manualScheduler } from './testing.js';

const { infra, skip } = await realInfra();

/** BLOCK_RUN_MAX far above the take-over: the old rule would wait (k + 1) × 2 × 1000 block times. */
const RUN_MAX = 1000;
const BLOCK_MS = 1000;

const capturing = capturingLogger;

const blockRuns = async (rt: Runtime<ConsensusState>): Promise<string[]> =>
  (await rt.store.readStream('chain')).map((e) => {
    const d = e.data as { height?: number; from?: number; to?: number };
    return e.type === 'BlockProduced' ? `${d.height}` : `${d.from}..${d.to}`;
  });

/**
 * Validators on one log (PGlite), their timers ticked by hand and their beats in memory on a shared
 * fake clock that moves one block time per round: what each clock decides, tick by tick.
 */
async function network(tag: string, beats: ClockBeats | undefined = undefined) {
  const db = await openPglite();
  let now = 0;
  const shared = beats ?? memoryClockBeats(() => now);
  const runtimes: Runtime<ConsensusState>[] = [];
  const nodes: { rt: Runtime<ConsensusState>; clock: BlockClock; tick(): void; alive: boolean }[] = [];
  const runtime = async (): Promise<Runtime<ConsensusState>> => {
    const rt = createRuntime('consensus', await pgliteEventStore(tag, db), consensusDecider, silentLogger);
    await rt.start();
    runtimes.push(rt);
    return rt;
  };
  /** A validator at `place` (its clock ticked by `round`), on a runtime of its own unless given one. */
  const validator = async (place: number, opts: { rt?: Runtime<ConsensusState>; log?: Logger; runMax?: number; beats?: ClockBeats | null } = {}) => {
    const rt = opts.rt ?? (await runtime());
    const s = manualScheduler();
    const b = opts.beats === null ? undefined : (opts.beats ?? shared);
    const clock = startBlockClock(rt, BLOCK_MS, opts.log ?? silentLogger, place, {
      runMax: opts.runMax ?? RUN_MAX,
      scheduler: s,
      beats: b,
      validator: `v${place}`,
    });
    const node = { rt, clock, tick: s.tick, alive: true };
    nodes.push(node);
    return node;
  };
  /** One block time: every live validator reads the log, then ticks (in the given order), each until done. */
  const round = async (order = nodes): Promise<void> => {
    now += BLOCK_MS;
    for (const n of order) {
      if (!n.alive) continue;
      await n.rt.catchUp();
      n.tick();
      await n.clock.idle();
    }
  };
  const rounds = async (k: number, order = nodes) => {
    for (let i = 0; i < k; i++) await round(order);
  };
  return {
    beats: shared,
    validator,
    round,
    rounds,
    runtime,
    /** A crash: the validator neither ticks nor beats any more (its row expires). */
    crash(n: { alive: boolean }) {
      n.alive = false;
    },
    async close() {
      for (const n of nodes) if (n.alive) await n.clock.stop();
      for (const rt of runtimes) await rt.stop();
      await db.close();
    },
  };
}

describe('block clock with beats (liveness outside the log)', () => {
  test('a standby takes over about a TTL after the producer stops beating, not after (k + 1) × 2 × BLOCK_RUN_MAX block times; it counts on from the dead producer', async () => {
    const net = await network('beats_takeover');
    const p0 = await net.validator(0);
    // The producer alone for 30 block times: 30 counted, none recorded (BLOCK_RUN_MAX 1000, no work).
    await net.rounds(30);
    const p1 = await net.validator(1);
    await net.rounds(10);
    assert.deepEqual([p0.clock.counted(), p0.rt.state().height, p1.clock.producing()], [40, 0, false], 'the standby stands by while the producer beats');
    net.crash(p0);
    let ticks = 0;
    while (!p1.clock.producing() && ticks < 4 * RUN_MAX) {
      await net.round();
      ticks++;
    }
    // The default TTL is 3 block times (the producer's last beat expires at the third tick after it).
    assert.equal(ticks, 3, `took over after ${ticks} ticks without the producer's beats`);
    assert.ok(ticks < (1 + 1) * 2 * RUN_MAX);
    // Recorded at once: the dead producer's 40 counted blocks and the 3 ticks since (not the standby's 13 ticks since the last block).
    assert.deepEqual(await blockRuns(p1.rt), ['1..43']);
    await net.rounds(2);
    assert.equal(p1.clock.counted(), 45, 'then one block per tick');
    await net.close();
  });

  test('place 2 does not take over while place 1 produces; place 1 gives back when place 0 beats producing again, which counts on from its count', async () => {
    const net = await network('beats_stagger');
    const p0 = await net.validator(0);
    const p1 = await net.validator(1);
    const p2 = await net.validator(2);
    await net.rounds(10);
    net.crash(p0);
    // Place 2 ticks before place 1 in each round (it sees the producer's row expire first, or at the same tick).
    const order = [p2, p1];
    let ticks = 0;
    while (!p1.clock.producing() && ticks < 100) {
      await net.round(order);
      ticks++;
      assert.equal(p2.clock.producing(), false, `place 2 produces at tick ${ticks}`);
    }
    assert.ok(p1.clock.producing(), 'place 1 took over');
    for (let i = 0; i < 20; i++) {
      await net.round(order);
      assert.equal(p2.clock.producing(), false, 'place 2 stands by while place 1 beats producing');
    }
    assert.equal(p1.clock.counted(), 10 + ticks + 20, 'no tick lost across the take-over');
    const before = p1.clock.counted();
    // Place 0 restarts (a new process on the same log): it beats producing, place 1 gives back at its next beat.
    const back = await net.validator(0, { rt: await net.runtime() });
    await net.round([back, p2, p1]);
    assert.equal(p1.clock.producing(), false, 'place 1 gave back');
    assert.ok(back.clock.producing());
    assert.ok(back.clock.counted() >= before, `place 0 counts on from place 1's count (${back.clock.counted()} ≥ ${before})`);
    await net.rounds(3, [back, p2, p1]);
    assert.deepEqual([p1.clock.producing(), p2.clock.producing()], [false, false]);
    // The blocks in the log: consecutive heights, whoever recorded them.
    await back.clock.recordCounted();
    await back.rt.catchUp();
    const runs = await blockRuns(back.rt);
    let next = 1;
    for (const r of runs) {
      const [from, to] = r.includes('..') ? r.split('..').map(Number) : [Number(r), Number(r)];
      assert.equal(from, next, `runs ${runs.join(', ')}`);
      next = to! + 1;
    }
    assert.ok(next - 1 >= before, 'the log reaches the count of the standby that gave back');
    await net.close();
  });

  test('standbys started together with no producer: place 1 takes over once past the grace (a TTL), place 2 does not', async () => {
    const net = await network('beats_nobody');
    const p1 = await net.validator(1);
    const p2 = await net.validator(2);
    const order = [p2, p1];
    let ticks = 0;
    while (!p1.clock.producing() && ticks < 100) {
      await net.round(order);
      ticks++;
      assert.equal(p2.clock.producing(), false, `place 2 produces at tick ${ticks}`);
    }
    assert.equal(ticks, 3, 'the grace: a TTL (3 block times)');
    for (let i = 0; i < 10; i++) {
      await net.round(order);
      assert.equal(p2.clock.producing(), false);
    }
    await net.close();
  });

  test("a producer's clean stop beats `producing` false: the standby takes over at its next beat", async () => {
    const net = await network('beats_stop');
    const p0 = await net.validator(0);
    const p1 = await net.validator(1);
    await net.rounds(10);
    await p0.clock.stop();
    net.crash(p0); // no more ticks
    assert.deepEqual(await blockRuns(p1.rt), ['1..10'], 'the stop recorded what it counted');
    await net.round();
    assert.equal(p1.clock.producing(), true, 'taken over at the first beat after the stop (no TTL wait)');
    await net.close();
  });

  test('a failing beat store: a standby does not take over by beats; it falls back to the blocks in the log only while the log reads; warned once per outage', async () => {
    let failing = true;
    const inner = memoryClockBeats();
    const flaky: ClockBeats = {
      beat: (b, ttl) => (failing ? Promise.reject(new Error('connection refused')) : inner.beat(b, ttl)),
      close: async () => undefined,
    };
    const net = await network('beats_failing', flaky);
    const log = capturing();
    // Only a standby: nobody beats producing, but the beats fail, so nothing is known.
    const p1 = await net.validator(1, { log });
    for (let i = 0; i < 50; i++) {
      await net.round();
      assert.equal(p1.clock.producing(), false, `a standby whose beats fail took over at tick ${i + 1} (BLOCK_RUN_MAX ${RUN_MAX})`);
    }
    assert.equal(log.warnings.filter((w) => /beat failed/.test(w)).length, 1, `warned once: ${log.warnings.join(' | ')}`);
    // The beats work again: nobody beats producing, the standby takes over by beats.
    failing = false;
    let ticks = 0;
    while (!p1.clock.producing() && ticks < 100) {
      await net.round();
      ticks++;
    }
    assert.ok(p1.clock.producing(), 'took over once beats worked');
    assert.ok(log.infos.includes('block clock: beats work again'));
    await net.close();
  });

  test('beats failing, the log read: the log rule applies (BLOCK_RUN_MAX 1: after 4 ticks); the log not read (a database outage): no take-over', async () => {
    const failing: ClockBeats = { beat: () => Promise.reject(new Error('connection refused')), close: async () => undefined };
    const net = await network('beats_fallback', failing);
    const reads = await net.validator(1, { runMax: 1 });
    let ticks = 0;
    while (!reads.clock.producing() && ticks < 100) {
      await net.round();
      ticks++;
    }
    assert.equal(ticks, (1 + 1) * 2 * 1, 'the log rule: (k + 1) × 2 × BLOCK_RUN_MAX block times');
    await reads.clock.stop();
    net.crash(reads);
    // The same on a runtime whose log does not read either.
    const rt = await net.runtime();
    const down = new Proxy(rt, {
      get: (t, k) => (k === 'catchUp' ? () => Promise.reject(new Error('connection refused')) : Reflect.get(t, k)),
    }) as Runtime<ConsensusState>;
    const s = manualScheduler();
    const clock = startBlockClock(down, BLOCK_MS, silentLogger, 1, { runMax: 1, scheduler: s, beats: failing });
    for (let i = 0; i < 40; i++) {
      s.tick();
      await clock.idle();
      assert.equal(clock.producing(), false, `took over at tick ${i + 1} with neither beats nor the log`);
    }
    await clock.stop();
    await net.close();
  });

  test('without beats (KurrentDB) the standby keeps the log rule', async () => {
    const net = await network('beats_none');
    const p1 = await net.validator(1, { runMax: 3, beats: null });
    let ticks = 0;
    while (!p1.clock.producing() && ticks < 100) {
      await net.round();
      ticks++;
    }
    assert.equal(ticks, (1 + 1) * 2 * 3);
    await net.close();
  });
});

test('CLOCK_BEAT_TTL_MS: unset, the default; else milliseconds of at least two beat intervals (a beat every max(BLOCK_TIME_MS, 250 ms))', () => {
  assert.equal(beatTtlFrom(readEnv({}), 6000), undefined);
  assert.equal(beatTtlFrom(readEnv({ CLOCK_BEAT_TTL_MS: '12000' }), 6000), 12_000);
  assert.equal(beatTtlFrom(readEnv({ CLOCK_BEAT_TTL_MS: '520' }), 20), 520, '20 ms blocks beat every 13 ticks (260 ms)');
  assert.throws(
    () => beatTtlFrom(readEnv({ CLOCK_BEAT_TTL_MS: '11999' }), 6000),
    /CLOCK_BEAT_TTL_MS: expected milliseconds from 12000 .* to 3600000, got "11999"/,
  );
  assert.throws(() => beatTtlFrom(readEnv({ CLOCK_BEAT_TTL_MS: '519' }), 20), /CLOCK_BEAT_TTL_MS: expected milliseconds from 520 /);
  for (const bad of ['0', '-1', '1.5', '3600001', 'soon']) assert.throws(() => beatTtlFrom(readEnv({ CLOCK_BEAT_TTL_MS: bad }), 100), /CLOCK_BEAT_TTL_MS/);
});

describe('beats in SQL (consensus_clock_beats in the log schema): upsert per place, expiry by the database clock', () => {
  const check = async (store: EventStore): Promise<void> => {
    const sql = sqlProjectionsOf(store) as SqlProjections;
    const found = clockBeatsOf(store);
    assert.ok(found, 'a store with SQL has beats');
    assert.equal(found.schema, sql.projectionSchema);
    const beats = sqlClockBeats(sql);
    const t = `${sql.projectionSchema}.consensus_clock_beats`;
    let v = await beats.beat({ place: 0, validator: 'v0', producing: true, counted: 5 }, 60_000);
    assert.deepEqual(v, { live: [{ place: 0, validator: 'v0', producing: true, counted: 5 }], counted: 5 });
    v = await beats.beat({ place: 1, validator: 'v1', producing: false, counted: 3 }, 60_000);
    assert.deepEqual(
      v.live.map((r) => [r.place, r.producing, r.counted]),
      [
        [0, true, 5],
        [1, false, 3],
      ],
    );
    // The upsert keeps one row per place; `counted` only grows (the highest the place wrote).
    await beats.beat({ place: 0, validator: 'v0b', producing: false, counted: 9 }, 60_000);
    v = await beats.beat({ place: 0, validator: 'v0b', producing: true, counted: 2 }, 60_000);
    assert.deepEqual(v.live[0], { place: 0, validator: 'v0b', producing: true, counted: 9 });
    const n = await sql.projectionQuery<{ place: number; n: string | number }>(`SELECT place, count(*) AS n FROM ${t} GROUP BY place ORDER BY place`);
    assert.deepEqual(
      n.rows.map((r) => [Number(r.place), Number(r.n)]),
      [
        [0, 1],
        [1, 1],
      ],
    );
    // Expired by the database's clock: a row whose expires_at is past is not live, its count still counts.
    await sql.projectionQuery(`UPDATE ${t} SET expires_at = now() - interval '1 second' WHERE place = 0`);
    v = await beats.beat({ place: 1, validator: 'v1', producing: false, counted: 3 }, 60_000);
    assert.deepEqual(
      v.live.map((r) => r.place),
      [1],
    );
    assert.equal(v.counted, 9, 'the highest count, live or not');
    // A short TTL expires on its own (now() moves on): waited for, not timed.
    await beats.beat({ place: 2, validator: 'v2', producing: true, counted: 1 }, 1);
    await waitFor(
      "place 2's row expired",
      async () => ((await beats.beat({ place: 1, validator: 'v1', producing: false, counted: 3 }, 60_000)).live.some((r) => r.place === 2) ? undefined : true),
      10_000,
      5,
    );
    // The expiry is the database's now() plus the TTL.
    const d = await sql.projectionQuery<{ ms: string | number }>(`SELECT extract(epoch FROM expires_at - now()) * 1000 AS ms FROM ${t} WHERE place = 1`);
    const ms = Number(d.rows[0]!.ms);
    assert.ok(ms > 50_000 && ms <= 60_000, `expires in ${ms} ms`);
    await beats.close();
  };

  test('on PGlite', async () => {
    const db = await openPglite();
    try {
      await check(await pgliteEventStore('consensus_beats', db));
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
    test('on PostgreSQL', async () => {
      const store = await postgresEventStore(infra!.databaseUrl, `${uniqueNamespace('beats')}_consensus`);
      stores.push(store);
      await check(store);
    });
  });
});
