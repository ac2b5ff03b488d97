import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { tally } from './tally.js';

const votes = (groups: Record<string, number>): string[] => Object.entries(groups).flatMap(([r, n]) => Array<string>(n).fill(r));
/** `distinct` votes that each differ from every other. */
const distinct = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`ff${i.toString(16).padStart(6, '0')}`, 1]));

describe('SPEC §5 tally', () => {
  // 1000 subscribed, 800 nominated: E = 800. Quorum 50 % → 400 votes; majority 60 % of 400 → 240 identical.
  const worked = (results: string[]) => tally({ eligible: 800, results, quorumPercent: 50, voteThresholdPercent: 60 });

  test('worked example: 399 votes are no quorum, 400 votes with 240 identical settle', () => {
    assert.equal(worked(votes({ aa: 399 })).reason, 'NO_QUORUM');
    const t = worked(votes({ aa: 240, ...distinct(160) }));
    assert.deepEqual(t, { eligible: 800, submitted: 400, top: 240, outcome: 'SETTLED', result: 'aa' });
  });

  test('worked example: 400 votes with only 239 identical are no majority', () => {
    const t = worked(votes({ aa: 239, ...distinct(161) }));
    assert.equal(t.outcome, 'UNRESOLVED');
    assert.equal(t.reason, 'NO_MAJORITY');
  });

  test('zero votes never settle, even with a 0 % quorum (S > 0)', () => {
    assert.equal(tally({ eligible: 10, results: [], quorumPercent: 0, voteThresholdPercent: 0 }).reason, 'NO_QUORUM');
    assert.equal(tally({ eligible: 0, results: [], quorumPercent: 0, voteThresholdPercent: 0 }).reason, 'NO_QUORUM');
  });

  test('0 % thresholds: one vote of many settles', () => {
    assert.deepEqual(tally({ eligible: 1000, results: ['01'], quorumPercent: 0, voteThresholdPercent: 0 }).result, '01');
  });

  test('100 % thresholds: every eligible worker must vote, and all the same', () => {
    assert.equal(tally({ eligible: 5, results: votes({ aa: 4 }), quorumPercent: 100, voteThresholdPercent: 100 }).reason, 'NO_QUORUM');
    assert.equal(tally({ eligible: 5, results: votes({ aa: 4, bb: 1 }), quorumPercent: 100, voteThresholdPercent: 100 }).reason, 'NO_MAJORITY');
    assert.equal(tally({ eligible: 5, results: votes({ aa: 5 }), quorumPercent: 100, voteThresholdPercent: 100 }).outcome, 'SETTLED');
  });

  test('a tie for the top is unresolved', () => {
    const t = tally({ eligible: 10, results: votes({ aa: 4, bb: 4, cc: 1 }), quorumPercent: 50, voteThresholdPercent: 40 });
    assert.equal(t.reason, 'TIE');
    assert.equal(t.top, 4);
  });

  test('two results both above a low threshold: the larger one settles', () => {
    const t = tally({ eligible: 100, results: votes({ aa: 45, bb: 55 }), quorumPercent: 50, voteThresholdPercent: 30 });
    assert.deepEqual([t.outcome, t.result, t.top], ['SETTLED', 'bb', 55]);
  });

  test('results are compared byte for byte (hex of the bytes)', () => {
    const t = tally({ eligible: 3, results: ['0a', '0A'.toLowerCase(), '0b'], quorumPercent: 0, voteThresholdPercent: 60 });
    assert.deepEqual([t.top, t.result], [2, '0a']);
  });

  test('property: the outcome follows the integer rules exactly (bigint reference)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 5 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        (counts, extra, q, m) => {
          const results = counts.flatMap((c, i) => Array<string>(c).fill(`0${i}`));
          const S = BigInt(results.length);
          const E = S + BigInt(extra);
          const t = tally({ eligible: Number(E), results, quorumPercent: q, voteThresholdPercent: m });
          const top = BigInt(Math.max(0, ...counts));
          const ties = counts.filter((c) => BigInt(c) === top).length > 1;
          const expected = S === 0n || S * 100n < BigInt(q) * E ? 'NO_QUORUM' : top * 100n < BigInt(m) * S ? 'NO_MAJORITY' : ties ? 'TIE' : undefined;
          assert.equal(t.reason, expected);
          assert.equal(t.outcome, expected === undefined ? 'SETTLED' : 'UNRESOLVED');
        },
      ),
    );
  });
});
