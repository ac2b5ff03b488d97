import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTokens, parseAmount, parseChoice, parseHex, parseInteger, TOKEN, UsageError } from './parse.js';

test('amounts: tokens with up to 18 decimals, or base units with the suffix base', () => {
  assert.equal(parseAmount('amount', '10'), 10n * TOKEN);
  assert.equal(parseAmount('amount', '0.5'), TOKEN / 2n);
  assert.equal(parseAmount('amount', '1.000000000000000001'), TOKEN + 1n);
  assert.equal(parseAmount('amount', '42base'), 42n);
  assert.equal(parseAmount('reward', '0', { positive: false }), 0n);
  for (const bad of ['', 'abc', '-1', '1e3', '1.0000000000000000001', '1,5', ' 1', '0x10', '1.', '.5']) {
    assert.throws(
      () => parseAmount('amount', bad),
      (e: unknown) => e instanceof UsageError && /^amount: /.test(e.message),
      bad,
    );
  }
  assert.throws(() => parseAmount('stake', '0'), /stake: must be greater than 0/);
  assert.throws(() => parseAmount('stake', '0base'), /stake: must be greater than 0/);
});

test('amounts print as tokens without trailing zeros', () => {
  assert.deepEqual(['200000000000000000000', '1500000000000000000', '1', '0'].map(formatTokens), ['200', '1.5', '0.000000000000000001', '0']);
});

test('integers, hex results and choices name the field and the rule', () => {
  assert.equal(parseInteger('count', '7', 1, 10), 7);
  for (const bad of ['0', '11', '-1', '1.5', 'x', ''])
    assert.throws(() => parseInteger('count', bad, 1, 10), /UsageError: count: expected a whole number from 1 to 10/);
  assert.equal(parseHex('result', '0xC0ffee', 64).toString('hex'), 'c0ffee');
  for (const bad of ['', 'c0f', 'zz', 'ab'.repeat(65)]) assert.throws(() => parseHex('result', bad, 64), /UsageError: result: expected 1 to 64 bytes as hex/);
  assert.equal(parseChoice('policy', 'retry_once', ['NONE', 'RETRY_ONCE'] as const), 'RETRY_ONCE');
  assert.throws(() => parseChoice('policy', 'never', ['NONE', 'RETRY_ONCE'] as const), /UsageError: policy: expected one of NONE, RETRY_ONCE/);
});
