import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NO_REFEREES_PERBILL, perbill, referees, refereeThreshold } from './referees.js';
import { wotDataFile, wotOf } from './testing.js';
import { parseWot } from './wot.js';

const g1File = wotDataFile('g1-wot.json');

test('R is the smallest integer whose maxDistance-th power covers the members', () => {
  const cases: [members: number, maxDistance: number, r: number][] = [
    [8173, 5, 7], // 6^5 = 7776 < 8173 ≤ 16807 = 7^5
    [7776, 5, 6], // exact power: no rounding up
    [7777, 5, 7],
    [8000, 3, 20], // 8000^(1/3) is 19.999999999999996 in floating point
    [8001, 3, 21],
    [59, 5, 3],
    [59, 2, 8],
    [32, 5, 2],
    [33, 5, 3],
    [2, 5, 2],
    [1, 5, 1],
    [0, 5, 0], // no members: no referees whatever R is
    [59, 1, 59],
    [2, 1_000_000, 2],
    [Number.MAX_SAFE_INTEGER, 1, Number.MAX_SAFE_INTEGER],
  ];
  for (const [members, maxDistance, r] of cases) {
    assert.equal(refereeThreshold(members, maxDistance), r, `members ${members}, max distance ${maxDistance}`);
  }
});

test('R rejects a distance or member count that is not a usable integer', () => {
  assert.throws(() => refereeThreshold(10, 0), RangeError);
  assert.throws(() => refereeThreshold(10, 2.5), RangeError);
  assert.throws(() => refereeThreshold(-1, 5), RangeError);
});

test('Perbill rounds down, exactly, and is one with no referee to count', () => {
  assert.equal(perbill(1, 3), 333_333_333);
  assert.equal(perbill(2, 3), 666_666_666);
  assert.equal(perbill(0, 7), 0);
  assert.equal(perbill(7, 7), 1_000_000_000);
  assert.equal(perbill(0, 0), NO_REFEREES_PERBILL);
  assert.equal(NO_REFEREES_PERBILL, 1_000_000_000);
  for (const total of [3, 7, 3806, 3807, 999_999_937, 4_294_967_295]) {
    for (const reached of [0, 1, 2, Math.floor(total / 2), total - 2, total - 1, total]) {
      const exact = Number((BigInt(reached) * 1_000_000_000n) / BigInt(total));
      assert.equal(perbill(reached, total), exact, `${reached}/${total}`);
    }
  }
});

test('a referee is a member that both received and issued at least R certifications', () => {
  // 4 members: R = 2. 0, 1, 2 certify each other (2 in, 2 out each).
  // 3 is a member with 2 received but 1 issued; 4 and 5 are non-members.
  const graph = wotOf(
    6,
    [
      [0, 1],
      [0, 2],
      [1, 0],
      [1, 2],
      [2, 0],
      [2, 1],
      [0, 3],
      [1, 3],
      [3, 4],
      [4, 5],
      [5, 4],
      [2, 4],
      [4, 2],
    ],
    [0, 1, 2, 3],
  );
  const refs = referees(graph, 5);
  assert.equal(refs.threshold, 2);
  assert.deepEqual(Array.from(refs.indices), [0, 1, 2]);
  assert.equal(refs.isReferee[3], 0, 'member below the threshold (issued 1)');
  assert.equal(refs.isReferee[4], 0, 'non-member above the threshold (3 in, 2 out)');
});

test('certifications from and to non-members count towards the threshold', () => {
  // Members 0 and 1 (R = 2 for 2 members); 0 is certified only by non-members 2, 3
  // and certifies 1 and non-member 4.
  const graph = wotOf(
    5,
    [
      [2, 0],
      [3, 0],
      [0, 1],
      [0, 4],
    ],
    [0, 1],
  );
  assert.deepEqual(Array.from(referees(graph, 5).indices), [0]);
});

test('the Ğ1 export has R = 7 and 3,807 referees', { skip: g1File === undefined && 'g1-wot.json not found' }, () => {
  const graph = parseWot(readFileSync(g1File!, 'utf8'));
  const refs = referees(graph, 5);
  assert.equal(refs.threshold, 7);
  assert.equal(refs.indices.length, 3_807);
});
