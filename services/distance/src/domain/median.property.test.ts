import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { median } from './median.js';

const perbill = fc.integer({ min: 0, max: 1_000_000_000 });

test('property: the median lies between the smallest and largest value and ignores order', () => {
  fc.assert(
    fc.property(fc.array(perbill, { minLength: 1, maxLength: 100 }), (values) => {
      const m = median(values)!;
      assert.ok(m >= Math.min(...values) && m <= Math.max(...values));
      assert.equal(median([...values].reverse()), m);
      assert.ok(Number.isInteger(m));
    }),
  );
});

test('property: matches the rule in exact integers (lower + floor(half the difference))', () => {
  fc.assert(
    fc.property(fc.array(perbill, { minLength: 1, maxLength: 100 }), (values) => {
      const s = values.map(BigInt).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const n = s.length;
      const expected = n % 2 === 1 ? s[(n - 1) / 2]! : s[n / 2 - 1]! + (s[n / 2]! - s[n / 2 - 1]!) / 2n;
      assert.equal(BigInt(median(values)!), expected);
    }),
  );
});

test('property: one evaluator far off cannot move the median of three beyond the other two', () => {
  fc.assert(
    fc.property(perbill, perbill, perbill, (a, b, rogue) => {
      const m = median([a, b, rogue])!;
      assert.ok(m >= Math.min(a, b) && m <= Math.max(a, b));
    }),
  );
});
