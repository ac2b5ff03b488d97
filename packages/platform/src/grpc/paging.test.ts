import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DomainError } from '../errors.js';
import { pageAfterOf, paged, pagedByKey, tokenAfter } from './paging.js';

const refusedToken = (e: unknown): boolean => e instanceof DomainError && e.code === 'INVALID_ARGUMENT' && e.message.startsWith('page.page_token: ');
const isWord = (k: string): boolean => /^[a-z]{3,}$/.test(k);

test('key paging: the token of one page starts the next, in key order, whatever was added meanwhile', () => {
  const keys = ['delta', 'alpha', 'charlie', 'bravo', 'echo'];
  const first = pagedByKey(keys, { pageSize: 2, pageToken: '' }, isWord);
  assert.deepEqual(first.items, ['alpha', 'bravo']);
  const second = pagedByKey([...keys, 'aaa'], { pageSize: 2, pageToken: first.next }, isWord);
  assert.deepEqual(second.items, ['charlie', 'delta']);
  const last = pagedByKey(keys, { pageSize: 2, pageToken: second.next }, isWord);
  assert.deepEqual([last.items, last.next], [['echo'], '']);
  assert.deepEqual(pagedByKey(keys, undefined, isWord).items.length, 5);
});

test('key paging: a token that no page gave is refused, naming page.page_token', () => {
  const token = (k: string): string => Buffer.from(k, 'utf8').toString('base64url');
  for (const bad of ['zz!', '-1', 'AAAA', token('NOT A KEY'), `${token('bravo')}=`, 'a'.repeat(10_240), 'YnJhdm8\u0000']) {
    assert.throws(() => pagedByKey(['alpha'], { pageSize: 0, pageToken: bad }, isWord), refusedToken, JSON.stringify(bad.slice(0, 20)));
  }
  assert.throws(
    () => pagedByKey(['alpha'], { pageSize: 501, pageToken: '' }, isWord),
    (e: unknown) => e instanceof DomainError && e.message === 'page.page_size: at most 500, got 501',
  );
});

test('offset paging refuses what is not an offset', () => {
  assert.deepEqual(paged([1, 2, 3], { pageSize: 2, pageToken: '2' }), { items: [3], next: '' });
  for (const bad of ['x', '-1', '1e3', '9'.repeat(10)]) assert.throws(() => paged([1], { pageSize: 0, pageToken: bad }), refusedToken);
});

test('paging by number: the token names the last item, a page holds the items after it; anything else is refused', () => {
  assert.deepEqual(pageAfterOf(undefined), { after: 0, size: 50 });
  assert.deepEqual(pageAfterOf({ pageSize: 3, pageToken: tokenAfter(41) }), { after: 41, size: 3 });
  for (const bad of ['41', 's', 's-1', 's1e3', 'S4', `s${'9'.repeat(16)}`, 's4 ']) {
    assert.throws(() => pageAfterOf({ pageSize: 0, pageToken: bad }), refusedToken, bad);
  }
});
