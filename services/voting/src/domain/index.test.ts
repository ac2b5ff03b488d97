import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { addRound, emptySolutionRounds, initialVotingState, roundIndex } from './state.js';

describe("a solution's round index: the filter never hides a used id", () => {
  test('roundIndex is the last place of an id, or -1 for an id never added, however many ids (property; the filter grows with them)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 3000 }),
        fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 50 }),
        (ids, others) => {
          const s = initialVotingState();
          const x = emptySolutionRounds();
          s.bySolution.set('s1', x);
          for (const [i, id] of ids.entries()) addRound(x, id, i);
          for (const id of [...ids, ...others]) assert.equal(roundIndex(s, 's1', id), ids.lastIndexOf(id), id);
          assert.equal(roundIndex(s, 's2', ids[0] ?? 'x'), -1);
          assert.ok(x.filter.length * 8 >= ids.length * 10, 'about 10 bits per id');
        },
      ),
      { numRuns: 60 },
    );
  });

  test('100,000 ids: a new id is told apart without scanning them (at most a few in a hundred scan)', () => {
    const s = initialVotingState();
    const x = emptySolutionRounds();
    s.bySolution.set('s1', x);
    for (let i = 0; i < 100_000; i++) addRound(x, `slice-${i}`, i);
    let scans = 0;
    const ids = x.ids;
    // Count the scans: a lookup that passes the filter reads `ids` (lastIndexOf).
    const lastIndexOf = ids.lastIndexOf.bind(ids);
    ids.lastIndexOf = (id: string) => {
      scans++;
      return lastIndexOf(id);
    };
    for (let i = 0; i < 1000; i++) assert.equal(roundIndex(s, 's1', `new-${i}`), -1);
    assert.ok(scans < 50, `${scans} of 1,000 new ids scanned`);
    assert.equal(roundIndex(s, 's1', 'slice-99999'), 99_999);
    assert.equal(roundIndex(s, 's1', 'slice-0'), 0);
  });
});
