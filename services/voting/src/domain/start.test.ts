import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RoundSnapshotEvent, RoundStartedEvent } from '@ewx/platform';
import { given, start } from './spec-support.js';
import { REGISTRAR, block, ev, operator, operators, world, worker } from './testing.js';

const byRegistrar = { kind: 'account', address: REGISTRAR } as const;
const snapshotOf = (events: readonly { type: string; data: unknown }[]): string[] =>
  events.filter((e) => e.type === 'RoundSnapshot').flatMap((e) => (e.data as RoundSnapshotEvent).workers.map((w) => w[0]));

describe('SPEC §4 round start', () => {
  test('given an active solution, when its registrar starts a round, then it runs from now to now + maxWaitingThreshold with a snapshot', () => {
    const s = given(...world(), block(20));
    s.when(start('s1', 'slice-1', byRegistrar)).then((events) => {
      const started = events[0]!.data as unknown as RoundStartedEvent;
      assert.equal(events[0]!.type, 'RoundStarted');
      assert.deepEqual([started.startBlock, started.endBlock, started.rewardPeriod, started.eligible, started.group], [20, 30, 0, 10, 'g1']);
      assert.deepEqual(snapshotOf(events), Array.from({ length: 10 }, (_, i) => worker(i + 1)).sort());
    });
  });

  test('a round must end no later than the last block of the current reward period', () => {
    given(...world(), block(90)).after(start('s1', 'r', byRegistrar)); // ends at 100 = last block
    given(...world(), block(91))
      .when(start('s1', 'r', byRegistrar))
      .thenThrows('FAILED_PRECONDITION', /reward period 0/);
  });

  test('refused while the solution is paused or ended, and after its expiration block', () => {
    given(...world(), block(5), ev('SolutionStatusChanged', { solution: 's1', status: 'PAUSED' }))
      .when(start('s1', 'r', byRegistrar))
      .thenThrows('FAILED_PRECONDITION');
    given(...world(), block(5), ev('SolutionStatusChanged', { solution: 's1', status: 'ENDED' }))
      .when(start('s1', 'r', byRegistrar))
      .thenThrows('FAILED_PRECONDITION');
    given(...world({ expirationBlock: 50 }), block(50)).after(start('s1', 'r', byRegistrar));
    given(...world({ expirationBlock: 50 }), block(51))
      .when(start('s1', 'r', byRegistrar))
      .thenThrows('FAILED_PRECONDITION');
  });

  test('refused while the group is retiring', () => {
    const s = given(...world(), block(5), ev('GroupStatusChanged', { group: 'g1', status: 'RETIRING' }));
    s.when(start('s1', 'r', byRegistrar)).thenThrows('FAILED_PRECONDITION');
  });

  test('REGISTRAR method: a worker may not start a round; WORKER method: an eligible worker may, an outsider may not', () => {
    given(...world(), block(5))
      .when(start('s1', 'r', { kind: 'account', address: worker(1) }))
      .thenThrows('PERMISSION_DENIED');
    const w = () => given(...world({ votingStartMethod: 'WORKER' }), block(5));
    w().after(start('s1', 'r', { kind: 'account', address: worker(1) }));
    w().after(start('s1', 'r', byRegistrar));
    w()
      .when(start('s1', 'r', { kind: 'account', address: worker(99) }))
      .thenThrows('PERMISSION_DENIED');
  });

  test('a round id is unique within its solution; unknown solution is NOT_FOUND', () => {
    const s = given(...world(), block(5));
    s.after(start('s1', 'r', byRegistrar));
    s.when(start('s1', 'r', byRegistrar)).thenThrows('ALREADY_EXISTS');
    s.when(start('nope', 'r', byRegistrar)).thenThrows('NOT_FOUND');
  });

  test('a round id is 1 to 128 characters and may not take the retry suffix', () => {
    const s = given(...world(), block(5));
    s.when(start('s1', '', byRegistrar)).thenThrows('INVALID_ARGUMENT');
    s.when(start('s1', 'x'.repeat(129), byRegistrar)).thenThrows('INVALID_ARGUMENT');
    s.when(start('s1', 'a#retry', byRegistrar)).thenThrows('INVALID_ARGUMENT');
  });

  test('without a reward period schedule no round starts', () => {
    const s = given(...world().slice(1), block(5));
    s.when(start('s1', 'r', byRegistrar)).thenThrows('FAILED_PRECONDITION');
  });
});

describe('SPEC §4 eligibility snapshot', () => {
  test('stake active from the next period: an operator subscribed for period 1 is not in a period-0 snapshot, but is in period 1', () => {
    const events = [...world({}, 2), ...operators(1, 3, 'g1', 1)];
    assert.deepEqual(snapshotOf(given(...events, block(5)).run(start('s1', 'r', byRegistrar))), [worker(1), worker(2)]);
    assert.equal(snapshotOf(given(...events, block(105)).run(start('s1', 'r', byRegistrar))).length, 3);
  });

  test('an operator votes through period p+d-1 and not in its final withdrawal period p+d', () => {
    const unsub = ev('OperatorUnsubscribed', { group: 'g1', operator: operator(1), period: 0, finalPeriod: 1, height: 5 });
    assert.ok(snapshotOf(given(...world({}, 2), unsub, block(50)).run(start('s1', 'r', byRegistrar))).includes(worker(1)));
    assert.ok(!snapshotOf(given(...world({}, 2), unsub, block(150)).run(start('s1', 'r', byRegistrar))).includes(worker(1)));
  });

  test('only connected workers; a released stake leaves; operators of another group do not count', () => {
    const s = given(
      ...world({}, 3),
      ev('WorkerDisconnected', { operator: operator(2), worker: worker(2), height: 3 }),
      ev('StakeReleased', { group: 'g1', operator: operator(3), amount: '1000', period: 0 }),
      ...operators(1, 7, 'g2'),
      block(5),
    );
    assert.deepEqual(snapshotOf(s.run(start('s1', 'r', byRegistrar))), [worker(1)]);
  });

  test('with nominations on, only workers nominated at that moment', () => {
    const s = given(
      ...world({ nominationsEnabled: true }, 4),
      ev('WorkerNominated', { solution: 's1', worker: worker(2) }),
      ev('WorkerNominated', { solution: 's1', worker: worker(3) }),
      ev('WorkerUnnominated', { solution: 's1', worker: worker(3) }),
      block(5),
    );
    assert.deepEqual(snapshotOf(s.run(start('s1', 'r', byRegistrar))), [worker(2)]);
  });

  test('later changes do not touch the snapshot', () => {
    const s = given(...world({}, 3), block(5));
    s.after(start('s1', 'r', byRegistrar));
    s.given([ev('WorkerDisconnected', { operator: operator(1), worker: worker(1), height: 6 }), ...operators(2, 4)]);
    assert.deepEqual([...s.state.rounds.values()][0]!.snapshot.size, 3);
    assert.ok([...s.state.rounds.values()][0]!.snapshot.has(worker(1)));
  });

  test('a large snapshot is split into chunks below the event size limit', () => {
    const s = given(...world({}, 4500), block(5));
    const events = s.run(start('s1', 'r', byRegistrar));
    assert.equal(events.length, 1 + 3);
    for (const e of events) assert.ok(JSON.stringify(e.data).length < 512 * 1024);
    assert.equal(snapshotOf(events).length, 4500);
  });
});
