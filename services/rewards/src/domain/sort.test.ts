import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { sortStrings } from './sort.js';

describe('sortStrings: the order of the built-in sort (UTF-16 code units)', () => {
  test('random strings of a small alphabet: prefixes, empty strings, duplicates, surrogates, wide code-unit spans', () => {
    const unit = fc.constantFrom('a', 'b', 'ab', '', 'é', '\u{1F600}', 'Z', '\uffff', '0', ':', '\u0100');
    fc.assert(
      fc.property(
        fc.array(
          fc.array(unit, { maxLength: 8 }).map((x) => x.join('')),
          { maxLength: 300 },
        ),
        (xs) => {
          assert.deepEqual(sortStrings([...xs]), [...xs].sort());
        },
      ),
      { numRuns: 300 },
    );
  });

  test('any strings', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 12 }), { maxLength: 200 }), (xs) => {
        assert.deepEqual(sortStrings([...xs]), [...xs].sort());
      }),
      { numRuns: 300 },
    );
  });

  test('10,000 operator addresses, hashed and zero-padded (long shared prefixes)', () => {
    const hashed = Array.from({ length: 10_000 }, (_, i) => `ed25519:${createHash('sha256').update(String(i)).digest('hex')}`);
    const padded = Array.from({ length: 10_000 }, (_, i) => `ed25519:${((i * 7919) % 10_007).toString(16).padStart(64, '0')}`);
    for (const xs of [hashed, padded]) assert.deepEqual(sortStrings([...xs]), [...xs].sort());
  });
});
