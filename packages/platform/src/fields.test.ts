import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DomainError } from './errors.js';
import { addressField, enumField, nameField, optionalAddressField, optionalNameField, renamedField, shown, textField } from './fields.js';

const refused =
  (field: string) =>
  (e: unknown): boolean =>
    e instanceof DomainError && e.code === 'INVALID_ARGUMENT' && e.message.startsWith(`${field}: `);

test('text fields refuse every control character (C0, DEL, C1) and count code points', () => {
  for (const c of ['\u0000', '\n', '\u001f', '\u007f', '\u0085', '\u009b']) assert.throws(() => textField('name', `a${c}b`, 0, 10), refused('name'));
  assert.equal(textField('name', '😀😀', 2, 2), '😀😀');
  assert.throws(() => textField('name', '', 1, 2), refused('name'));
});

test('names and addresses: required unless a filter, well-formed always', () => {
  for (const bad of ['', 'ab', 'Grp', '-abc', 'a'.repeat(65), 'grp\u0000']) assert.throws(() => nameField('group', bad), refused('group'));
  assert.equal(nameField('group', 'grp.one-2_x'), 'grp.one-2_x');
  assert.equal(optionalNameField('group', ''), '');
  const hex = 'ab'.repeat(32);
  for (const bad of ['', 'ed25519:zz', `ed25519:${hex.toUpperCase()}`, `ed25519:${'ab'.repeat(31)}`, hex])
    assert.throws(() => addressField('account', bad), refused('account'));
  assert.equal(optionalAddressField('operator', ''), '');
  assert.throws(() => enumField('state', 99, [0, 1, 2]), refused('state'));
});

test('a refusal shows at most ~80 characters of the value', () => {
  assert.equal(shown('abc'), '"abc"');
  assert.ok(shown('x'.repeat(10_000)).length < 120);
  assert.throws(
    () => nameField('group', 'X'.repeat(10_000)),
    (e: Error) => e.message.length < 250,
  );
});

test('renamedField: the new field when sent, else the deprecated one; both sent and different is refused naming both', () => {
  assert.equal(renamedField('reward_period', undefined, 'period', 4, 0), 4);
  assert.equal(renamedField('reward_period', 0, 'period', 0, 0), 0);
  assert.equal(renamedField('reward_period', 3, 'period', 0, 0), 3);
  assert.equal(renamedField('reward_period', 3, 'period', 3, 0), 3);
  assert.throws(
    () => renamedField('reward_period', 3, 'period', 4, 0),
    (e: unknown) => refused('reward_period')(e) && /deprecated period \(4\)/.test((e as Error).message),
  );
  assert.equal(renamedField<number | undefined>('evaluation_period', 2, 'period', undefined, undefined), 2);
});
