import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keptReads } from './kept.js';

test('keptReads: a key is loaded once while kept, the least recently used leaves first, a failure is not kept', async () => {
  const loads: string[] = [];
  let fail = true;
  const kept = keptReads<string>(2);
  const reads = {
    read: (k: string) =>
      kept.read(k, async () => {
        loads.push(k);
        if (k === 'bad' && fail) throw new Error('down');
        return k.toUpperCase();
      }),
  };
  assert.equal(await reads.read('a'), 'A');
  assert.equal(await reads.read('b'), 'B');
  assert.equal(await reads.read('a'), 'A'); // kept; now the most recent
  assert.equal(await reads.read('c'), 'C'); // b leaves
  assert.equal(await reads.read('a'), 'A');
  assert.equal(await reads.read('b'), 'B'); // loaded again
  await assert.rejects(reads.read('bad'), /down/);
  fail = false;
  assert.equal(await reads.read('bad'), 'BAD');
  assert.deepEqual(loads, ['a', 'b', 'c', 'b', 'bad', 'bad']);
});
