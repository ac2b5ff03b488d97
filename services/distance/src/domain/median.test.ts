import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median } from './median.js';
import { periodOf, poolOf, firstBlockOf, lastBlockOf } from './periods.js';

test('median of an odd count is the middle value, whatever the order', () => {
  assert.equal(median([900, 100, 500]), 500);
  assert.equal(median([7]), 7);
});

test('median of an even count: the lower middle value plus half the difference, rounded down', () => {
  // SPEC §7: two middle values → the lower plus half their difference, rounded down.
  assert.equal(median([100, 201]), 150);
  assert.equal(median([800_000_000, 799_999_999]), 799_999_999);
  assert.equal(median([1, 2, 3, 4]), 2);
  // middle values 600,000,000 and 999,999,999: 600,000,000 + floor(399,999,999 / 2)
  assert.equal(median([0, 1_000_000_000, 600_000_000, 999_999_999]), 799_999_999);
  assert.equal(median([1_000_000_000, 1_000_000_000]), 1_000_000_000);
});

test('no values: no median', () => {
  assert.equal(median([]), undefined);
});

test('periods: period N is blocks N×L+1..(N+1)×L; height 0 is period 0; pools rotate mod 3', () => {
  assert.equal(periodOf(0, 40), 0);
  assert.equal(periodOf(1, 40), 0);
  assert.equal(periodOf(40, 40), 0);
  assert.equal(periodOf(41, 40), 1);
  assert.equal(firstBlockOf(2, 40), 81);
  assert.equal(lastBlockOf(2, 40), 120);
  assert.deepEqual([0, 1, 2, 3, 4].map(poolOf), [0, 1, 2, 0, 1]);
});
