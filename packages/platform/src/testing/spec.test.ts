import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { precondition, invalid } from '../errors.js';
import { fingerprint, spec, type SpecDecider } from './spec.js';

/** A counter: Add n (refused below 1), Reset (nothing to do at 0). */
type Ev = { type: 'Added'; data: { n: number; total: number } } | { type: 'Reset'; data: Record<string, never> };
type Cmd = { type: 'Add'; n: number } | { type: 'Reset' } | { type: 'Crash' } | { type: 'Sneak' };
interface State {
  total: number;
  seen: Map<string, bigint>;
}
const counter: SpecDecider<State, Cmd, Ev> = {
  initialState: () => ({ total: 0, seen: new Map() }),
  evolve(s, e) {
    s.seen.set(`${e.streamId}#${e.version}`, BigInt(e.version));
    if (e.type === 'Added') s.total = e.data.total;
    else s.total = 0;
  },
  decide(c, s) {
    switch (c.type) {
      case 'Add':
        if (c.n < 1) throw invalid('n', 'must be at least 1');
        if (c.n > 100) throw precondition('n: too many');
        return [{ type: 'Added', data: { n: c.n, total: s.total + c.n } }];
      case 'Reset':
        return s.total === 0 ? [] : [{ type: 'Reset', data: {} }];
      case 'Crash':
        throw new TypeError('not a DomainError');
      case 'Sneak':
        s.total = -1;
        throw precondition('changed the state before refusing');
    }
  },
};
const added = (n: number, total: number): Ev => ({ type: 'Added', data: { n, total } });
/** The assertion a failing expectation raises. */
const fails = (f: () => unknown, message: RegExp): void => assert.throws(f, (e: unknown) => e instanceof assert.AssertionError && message.test(e.message));

describe('the spec kit', () => {
  test('given/when/then: the events decided are compared and applied; the story goes on from there', () => {
    const s = spec(counter)
      .given(added(2, 2), [added(3, 5)])
      .when({ type: 'Add', n: 1 })
      .then(added(1, 6))
      .when({ type: 'Reset' })
      .then({ type: 'Reset', data: {} });
    assert.equal(s.state.total, 0);
    assert.deepEqual(
      s.log.map((e) => [e.streamId, e.version, e.type]),
      [
        ['spec', 0, 'Added'],
        ['spec', 1, 'Added'],
        ['spec', 2, 'Added'],
        ['spec', 3, 'Reset'],
      ],
    );
  });
  test('then(check) sees the events and the state after them; after() and run() are earlier steps', () => {
    const s = spec(counter, { stream: 'c' }).after({ type: 'Add', n: 4 });
    assert.deepEqual(s.run({ type: 'Add', n: 1 }), [added(1, 5)]);
    s.when({ type: 'Add', n: 5 }).then((events, state) => {
      assert.deepEqual(events, [added(5, 10)]);
      assert.equal(state.total, 10);
    });
    assert.equal(s.log[0]!.streamId, 'c');
    const streams = spec({ ...counter, streamOf: (c: Cmd) => `counter:${c.type}` })
      .given(added(1, 1))
      .after({ type: 'Add', n: 1 }, { type: 'Reset' });
    assert.deepEqual(
      streams.log.map((e) => [e.streamId, e.version]),
      [
        ['spec', 0],
        ['counter:Add', 0],
        ['counter:Reset', 0],
      ],
    );
    fails(() => spec(counter).after({ type: 'Add', n: 0 }), /a step before the one under test was refused: .*must be at least 1/);
  });
  test('then fails on other events, other data, a missing or an extra event', () => {
    fails(() => spec(counter).when({ type: 'Add', n: 1 }).then(added(1, 2)), /events decided differ/);
    fails(() => spec(counter).when({ type: 'Add', n: 1 }).then({ type: 'Reset', data: {} }), /events decided differ/);
    fails(() => spec(counter).when({ type: 'Add', n: 1 }).then(), /events decided differ/);
    fails(() => spec(counter).when({ type: 'Add', n: 1 }).then(added(1, 1), added(1, 1)), /events decided differ/);
    fails(
      () =>
        spec(counter)
          .when({ type: 'Add', n: 1 })
          .then(() => assert.equal(1, 2)),
      /Expected values to be strictly equal/,
    );
  });
  test('thenThrows: the code and the message are checked, and that nothing changed', () => {
    const s = spec(counter).given(added(1, 1));
    s.when({ type: 'Add', n: 0 }).thenThrows('INVALID_ARGUMENT', /^n: must be at least 1/);
    s.when({ type: 'Add', n: 101 }).thenThrows('FAILED_PRECONDITION');
    assert.equal(s.state.total, 1);
    fails(() => s.when({ type: 'Add', n: 0 }).thenThrows('FAILED_PRECONDITION'), /expected FAILED_PRECONDITION, got INVALID_ARGUMENT/);
    fails(() => s.when({ type: 'Add', n: 0 }).thenThrows('INVALID_ARGUMENT', /^count/), /message does not match/);
    fails(() => s.when({ type: 'Add', n: 2 }).thenThrows('INVALID_ARGUMENT'), /the command was accepted with 1 event\(s\): Added/);
    fails(() => s.when({ type: 'Crash' }).thenThrows('INVALID_ARGUMENT'), /expected a DomainError INVALID_ARGUMENT, got TypeError/);
    fails(() => spec(counter).when({ type: 'Sneak' }).thenThrows('FAILED_PRECONDITION'), /a refused command changed the state/);
  });
  test('thenNothingChanged: no event and the same state; an event or a refusal fails it', () => {
    spec(counter).when({ type: 'Reset' }).thenNothingChanged();
    fails(() => spec(counter).given(added(1, 1)).when({ type: 'Reset' }).thenNothingChanged(), /expected no event/);
    assert.throws(() => spec(counter).when({ type: 'Add', n: 0 }).thenNothingChanged(), /must be at least 1/);
  });
  test('fingerprint tells states apart by value: maps, sets, bigints, bytes', () => {
    const a = { m: new Map([['k', 1n]]), s: new Set([1]), b: Buffer.from('ab') };
    assert.equal(fingerprint(a), fingerprint({ m: new Map([['k', 1n]]), s: new Set([1]), b: Buffer.from('ab') }));
    assert.notEqual(fingerprint(a), fingerprint({ ...a, m: new Map([['k', 2n]]) }));
    assert.notEqual(fingerprint(a), fingerprint({ ...a, b: Buffer.from('ac') }));
    assert.notEqual(fingerprint(a), fingerprint({ ...a, s: new Set([2]) }));
  });
});
