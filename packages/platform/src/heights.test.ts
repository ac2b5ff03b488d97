import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPglite, pgliteEventStore } from './eventstore/pglite.js';
import type { RecordedEvent } from './eventstore/types.js';
import { readEnv } from './config.js';
import {
  consensusAddressFrom,
  DEADLINE_POLL_MS,
  deadlinePollMsFrom,
  deadlineWatch,
  deadlineWatchFrom,
  grpcRecordCountedBlocks,
  heightSync,
  type WatchTimer,
} from './heights.js';
import { createRuntime, type Decider } from './runtime.js';
import { capturingLogger } from './testing/log.js';
import { freePort } from './testing/process.js';

/** A service's height, folded from block events as every service folds them. */
const decider: Decider<{ height: number }> = {
  initialState: () => ({ height: 0 }),
  evolve: (s, e: RecordedEvent) => {
    if (e.type === 'BlocksProduced') s.height = (e.data as { to: number }).to;
    return s;
  },
};

const capturing = capturingLogger;

test('heightSync: asks consensus, then waits until the service log holds that height (the inbox), and goes on at once when it already does', async () => {
  const db = await openPglite();
  const rt = createRuntime('hs', await pgliteEventStore('hs', db), decider, capturing());
  await rt.start();
  let asked = 0;
  const log = capturing();
  // Consensus records the counted blocks up to 12; the inbox event arrives a little later.
  const sync = heightSync(async () => {
    asked++;
    setTimeout(() => void rt.execute('inbox:consensus:chain', () => [{ type: 'BlocksProduced', data: { from: 1, to: 12 } }]), 30);
    return 12;
  }, log);
  await sync.sync(rt);
  assert.equal(rt.state().height, 12, 'the command reads the wall-clock height');
  assert.equal(asked, 1);
  // Already there: no wait, and the block was appended once.
  const sync2 = heightSync(async () => 12, log);
  await sync2.sync(rt);
  assert.equal((await rt.store.readStream('inbox:consensus:chain')).length, 1);
  assert.deepEqual(log.warnings, []);
  // The inbox never gets there: the bounded wait ends with a warning and the command goes on.
  const late = heightSync(async () => 99, log, { waitMs: 50 });
  await late.sync(rt);
  assert.equal(rt.state().height, 12);
  assert.equal(log.warnings.length, 1);
  assert.match(log.warnings[0]!, /inbox did not reach consensus height/);
  await rt.stop();
  await db.close();
});

test('heightSync: consensus unreachable (nothing listens at CONSENSUS_ADDRESS): the command goes on, one warning per outage', async () => {
  const db = await openPglite();
  const rt = createRuntime('hs2', await pgliteEventStore('hs2', db), decider, capturing());
  await rt.start();
  const log = capturing();
  const record = grpcRecordCountedBlocks(`127.0.0.1:${await freePort()}`, undefined, 500);
  const sync = heightSync(record, log);
  await sync.sync(rt);
  await sync.sync(rt);
  assert.equal(log.warnings.length, 1, 'warned once');
  assert.match(log.warnings[0]!, /consensus unreachable/);
  sync.close();
  // No source at all (standalone without CONSENSUS_ADDRESS): nothing asked, nothing waited for.
  await heightSync(undefined, log).sync(rt);
  assert.equal(log.warnings.length, 1);
  await rt.stop();
  await db.close();
});

test('CONSENSUS_ADDRESS: one host:port, or one per validator in place order; anything else is refused naming the variable', () => {
  assert.equal(consensusAddressFrom(readEnv({})), undefined);
  assert.deepEqual(consensusAddressFrom(readEnv({ CONSENSUS_ADDRESS: 'consensus:50051' })), ['consensus:50051']);
  assert.deepEqual(consensusAddressFrom(readEnv({ CONSENSUS_ADDRESS: 'consensus-0:50051, consensus-1:50051,consensus-2:50051' })), [
    'consensus-0:50051',
    'consensus-1:50051',
    'consensus-2:50051',
  ]);
  assert.throws(() => consensusAddressFrom(readEnv({ CONSENSUS_ADDRESS: 'consensus-0:50051,consensus-1' })), /CONSENSUS_ADDRESS: .*host:port/);
  assert.throws(() => consensusAddressFrom(readEnv({ CONSENSUS_ADDRESS: ',' })), /CONSENSUS_ADDRESS/);
  assert.throws(() => consensusAddressFrom(readEnv({ CONSENSUS_ADDRESS: 'a:1,a:1' })), /CONSENSUS_ADDRESS: expected distinct addresses/);
});

/** A timer the test ticks by hand (the watch's decisions, without wall-clock time). */
const manualTimer = (): WatchTimer & { tick(): void; running(): boolean; ms: number[] } => {
  let f: (() => void) | undefined;
  const ms: number[] = [];
  return {
    ms,
    every(every, tick) {
      ms.push(every);
      f = tick;
      return () => {
        f = undefined;
      };
    },
    tick: () => f?.(),
    running: () => f !== undefined,
  };
};
/** Lets the promises of a tick settle. */
const settle = () => new Promise((r) => setImmediate(r));

test('deadlineWatch: asks with the deadline while it is above the recorded height, stops asking once the height passed it, never asks without one', async () => {
  const state = { height: 10, deadline: undefined as number | undefined };
  const asked: (number | undefined)[] = [];
  const source = async (atLeast?: number) => {
    asked.push(atLeast);
    return state.height;
  };
  const timer = manualTimer();
  const log = capturing();
  const w = deadlineWatch(source, { state: () => state }, (s) => s.deadline, { everyMs: 40, log, timer });
  assert.deepEqual(timer.ms, [40]);
  timer.tick();
  await settle();
  assert.deepEqual(asked, [], 'no deadline: nothing asked');
  state.deadline = 20;
  for (let i = 0; i < 3; i++) {
    timer.tick();
    await settle();
  }
  assert.deepEqual(asked, [20, 20, 20], 'asked at every tick with at_least = the deadline (consensus records nothing until its count reaches it)');
  // Consensus recorded a run to 21; the service's inbox holds it: the deadline is behind, nothing more is asked.
  state.height = 21;
  timer.tick();
  await settle();
  assert.equal(asked.length, 3);
  state.deadline = 21;
  timer.tick();
  await settle();
  assert.equal(asked.length, 3, 'a deadline at the recorded height is reached');
  // The next deadline.
  state.deadline = 40;
  timer.tick();
  await settle();
  assert.deepEqual(asked.slice(3), [40]);
  await w.stop();
  assert.equal(timer.running(), false, 'stopped: the timer is cancelled');
  timer.tick();
  assert.equal(asked.length, 4);
  assert.deepEqual(log.warnings, []);
});

test('deadlineWatch: one call in flight at a time; a failing source warns once per outage and is asked again; a throwing next is survived', async () => {
  const state = { height: 0 };
  let calls = 0;
  let pending: (() => void) | undefined;
  let failing = false;
  const source = (atLeast?: number) => {
    calls++;
    assert.equal(atLeast, 5);
    if (failing) return Promise.reject(new Error('consensus at 127.0.0.1:1: connect ECONNREFUSED'));
    return new Promise<number>((resolve) => {
      pending = () => resolve(0);
    });
  };
  const timer = manualTimer();
  const log = capturing();
  const infos: string[] = [];
  log.info = (m: string) => void infos.push(m);
  let next: (s: { height: number }) => number | undefined = () => 5;
  const w = deadlineWatch(source, { state: () => state }, (s) => next(s), { everyMs: 10, log, timer });
  timer.tick();
  timer.tick();
  timer.tick();
  await settle();
  assert.equal(calls, 1, 'ticks while a call is in flight ask nothing');
  pending!();
  await settle();
  timer.tick();
  await settle();
  assert.equal(calls, 2, 'asked again once the call answered');
  pending!();
  await settle();
  failing = true;
  for (let i = 0; i < 3; i++) {
    timer.tick();
    await settle();
  }
  assert.equal(calls, 5, 'a failing source is asked again at each tick');
  assert.equal(log.warnings.length, 1, 'warned once per outage');
  assert.match(log.warnings[0]!, /deadline watch: consensus unreachable/);
  failing = false;
  timer.tick();
  await settle();
  pending!();
  await settle();
  assert.ok(infos.includes('deadline watch: consensus answers again'));
  failing = true;
  timer.tick();
  await settle();
  assert.equal(log.warnings.length, 2, 'a new outage warns again');
  next = () => {
    throw new Error('boom');
  };
  timer.tick();
  await settle();
  assert.equal(log.warnings.length, 2, 'still the same outage');
  // A stop waits for the call in flight.
  failing = false;
  next = () => 5;
  timer.tick();
  await settle();
  let stopped = false;
  const stopping = w.stop().then(() => {
    stopped = true;
  });
  await settle();
  assert.equal(stopped, false, 'the stop waits for the call in flight');
  pending!();
  await stopping;
});

test('deadlineWatchFrom: polled every BLOCK_TIME_MS (1000 ms unset); none with manual blocks or without CONSENSUS_ADDRESS; a malformed BLOCK_TIME_MS names the variable', async () => {
  assert.equal(deadlinePollMsFrom(readEnv({})), DEADLINE_POLL_MS);
  assert.equal(deadlinePollMsFrom(readEnv({ BLOCK_TIME_MS: '6000' })), 6000);
  assert.equal(deadlinePollMsFrom(readEnv({ BLOCK_TIME_MS: 'manual' })), 'manual');
  assert.throws(() => deadlinePollMsFrom(readEnv({ BLOCK_TIME_MS: '5' })), /BLOCK_TIME_MS: .*milliseconds from 10/);
  // In process (embedded): asks consensus's in-process call with the deadline.
  const asked: (number | undefined)[] = [];
  const inProcess = {
    recordCountedBlocks: async (atLeast?: number) => {
      asked.push(atLeast);
      return 0;
    },
  };
  const state = { height: 0 };
  const w = deadlineWatchFrom({ env: readEnv({ BLOCK_TIME_MS: '10' }), mode: 'embedded', inProcess }, { state: () => state }, () => 3, capturing());
  assert.equal(w.everyMs, 10);
  for (let i = 0; i < 200 && asked.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  await w.stop();
  assert.equal(asked[0], 3);
  // Manual blocks, or standalone without CONSENSUS_ADDRESS: no watch at all.
  const none = deadlineWatchFrom({ env: readEnv({ BLOCK_TIME_MS: 'manual' }), mode: 'embedded', inProcess }, { state: () => state }, () => 3, capturing());
  const standalone = deadlineWatchFrom({ env: readEnv({}), mode: 'standalone' }, { state: () => state }, () => 3, capturing());
  assert.deepEqual([none.everyMs, standalone.everyMs], [undefined, undefined]);
  await none.stop();
  await standalone.stop();
  // Standalone with CONSENSUS_ADDRESS and no BLOCK_TIME_MS: every second.
  const remote = deadlineWatchFrom({ env: readEnv({ CONSENSUS_ADDRESS: '127.0.0.1:1' }), mode: 'standalone' }, { state: () => state }, () => 3, capturing());
  assert.equal(remote.everyMs, DEADLINE_POLL_MS);
  await remote.stop();
});
