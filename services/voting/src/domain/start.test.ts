import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RoundSnapshotEvent, RoundStartedEvent } from '@ewx/platform';
import { startRound } from './start.js';
import { REGISTRAR, apply, block, ev, given, operator, operators, world, worker } from './testing.js';

const byRegistrar = { kind: 'account', address: REGISTRAR } as const;
const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;
const snapshotOf = (events: readonly { type: string; data: unknown }[]): string[] =>
  events.filter((e) => e.type === 'RoundSnapshot').flatMap((e) => (e.data as RoundSnapshotEvent).workers.map((w) => w[0]));

describe('SPEC §4 round start', () => {
  test('given an active solution, when its registrar starts a round, then it runs from now to now + maxWaitingThreshold with a snapshot', () => {
    const s = given(...world(), block(20));
    const r = startRound(s, 's1', 'slice-1', byRegistrar);
    const started = r.events[0]!.data as unknown as RoundStartedEvent;
    assert.equal(r.events[0]!.type, 'RoundStarted');
    assert.deepEqual([started.startBlock, started.endBlock, started.period, started.eligible, started.group], [20, 30, 0, 10, 'g1']);
    assert.deepEqual(snapshotOf(r.events), Array.from({ length: 10 }, (_, i) => worker(i + 1)).sort());
  });

  test('a round must end no later than the last block of the current reward period', () => {
    assert.doesNotThrow(() => startRound(given(...world(), block(90)), 's1', 'r', byRegistrar)); // ends at 100 = last block
    assert.throws(() => startRound(given(...world(), block(91)), 's1', 'r', byRegistrar), (e) => code('FAILED_PRECONDITION')(e) && /reward period 0/.test((e as Error).message));
  });

  test('refused while the solution is paused or ended, and after its expiration block', () => {
    assert.throws(() => startRound(given(...world(), block(5), ev('SolutionStatusChanged', { solution: 's1', status: 'PAUSED' })), 's1', 'r', byRegistrar), code('FAILED_PRECONDITION'));
    assert.throws(() => startRound(given(...world(), block(5), ev('SolutionStatusChanged', { solution: 's1', status: 'ENDED' })), 's1', 'r', byRegistrar), code('FAILED_PRECONDITION'));
    assert.doesNotThrow(() => startRound(given(...world({ expirationBlock: 50 }), block(50)), 's1', 'r', byRegistrar));
    assert.throws(() => startRound(given(...world({ expirationBlock: 50 }), block(51)), 's1', 'r', byRegistrar), code('FAILED_PRECONDITION'));
  });

  test('refused while the group is retiring', () => {
    const s = given(...world(), block(5), ev('GroupStatusChanged', { group: 'g1', status: 'RETIRING' }));
    assert.throws(() => startRound(s, 's1', 'r', byRegistrar), code('FAILED_PRECONDITION'));
  });

  test('REGISTRAR method: a worker may not start a round; WORKER method: an eligible worker may, an outsider may not', () => {
    assert.throws(() => startRound(given(...world(), block(5)), 's1', 'r', { kind: 'account', address: worker(1) }), code('PERMISSION_DENIED'));
    const w = given(...world({ votingStartMethod: 'WORKER' }), block(5));
    assert.doesNotThrow(() => startRound(w, 's1', 'r', { kind: 'account', address: worker(1) }));
    assert.doesNotThrow(() => startRound(w, 's1', 'r', byRegistrar));
    assert.throws(() => startRound(w, 's1', 'r', { kind: 'account', address: worker(99) }), code('PERMISSION_DENIED'));
  });

  test('a round id is unique within its solution; unknown solution is NOT_FOUND', () => {
    const s = given(...world(), block(5));
    apply(s, startRound(s, 's1', 'r', byRegistrar).events);
    assert.throws(() => startRound(s, 's1', 'r', byRegistrar), code('ALREADY_EXISTS'));
    assert.throws(() => startRound(s, 'nope', 'r', byRegistrar), code('NOT_FOUND'));
  });

  test('a round id is 1 to 128 characters and may not take the retry suffix', () => {
    const s = given(...world(), block(5));
    assert.throws(() => startRound(s, 's1', '', byRegistrar), code('INVALID_ARGUMENT'));
    assert.throws(() => startRound(s, 's1', 'x'.repeat(129), byRegistrar), code('INVALID_ARGUMENT'));
    assert.throws(() => startRound(s, 's1', 'a#retry', byRegistrar), code('INVALID_ARGUMENT'));
  });

  test('without a reward period schedule no round starts', () => {
    const s = given(...world().slice(1), block(5));
    assert.throws(() => startRound(s, 's1', 'r', byRegistrar), code('FAILED_PRECONDITION'));
  });
});

describe('SPEC §4 eligibility snapshot', () => {
  test('stake active from the next period: an operator subscribed for period 1 is not in a period-0 snapshot, but is in period 1', () => {
    const events = [...world({}, 2), ...operators(1, 3, 'g1', 1)];
    assert.deepEqual(snapshotOf(startRound(given(...events, block(5)), 's1', 'r', byRegistrar).events), [worker(1), worker(2)]);
    assert.equal(snapshotOf(startRound(given(...events, block(105)), 's1', 'r', byRegistrar).events).length, 3);
  });

  test('an operator votes through period p+d-1 and not in its final withdrawal period p+d', () => {
    const unsub = ev('OperatorUnsubscribed', { group: 'g1', operator: operator(1), period: 0, finalPeriod: 1, height: 5 });
    assert.ok(snapshotOf(startRound(given(...world({}, 2), unsub, block(50)), 's1', 'r', byRegistrar).events).includes(worker(1)));
    assert.ok(!snapshotOf(startRound(given(...world({}, 2), unsub, block(150)), 's1', 'r', byRegistrar).events).includes(worker(1)));
  });

  test('only connected workers; a released stake leaves; operators of another group do not count', () => {
    const s = given(...world({}, 3), ev('WorkerDisconnected', { operator: operator(2), worker: worker(2), height: 3 }),
      ev('StakeReleased', { group: 'g1', operator: operator(3), amount: '1000', period: 0 }), ...operators(1, 7, 'g2'), block(5));
    assert.deepEqual(snapshotOf(startRound(s, 's1', 'r', byRegistrar).events), [worker(1)]);
  });

  test('with nominations on, only workers nominated at that moment', () => {
    const s = given(...world({ nominationsEnabled: true }, 4), ev('WorkerNominated', { solution: 's1', worker: worker(2) }),
      ev('WorkerNominated', { solution: 's1', worker: worker(3) }), ev('WorkerUnnominated', { solution: 's1', worker: worker(3) }), block(5));
    assert.deepEqual(snapshotOf(startRound(s, 's1', 'r', byRegistrar).events), [worker(2)]);
  });

  test('later changes do not touch the snapshot', () => {
    const s = given(...world({}, 3), block(5));
    apply(s, startRound(s, 's1', 'r', byRegistrar).events);
    apply(s, [ev('WorkerDisconnected', { operator: operator(1), worker: worker(1), height: 6 }), ...operators(2, 4)]);
    assert.deepEqual([...s.rounds.values()][0]!.snapshot.size, 3);
    assert.ok([...s.rounds.values()][0]!.snapshot.has(worker(1)));
  });

  test('a large snapshot is split into chunks below the event size limit', () => {
    const s = given(...world({}, 4500), block(5));
    const events = startRound(s, 's1', 'r', byRegistrar).events;
    assert.equal(events.length, 1 + 3);
    for (const e of events) assert.ok(JSON.stringify(e.data).length < 512 * 1024);
    assert.equal(snapshotOf(events).length, 4500);
  });
});
