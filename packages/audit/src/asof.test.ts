import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { asOf, memorySource, type LogEvent } from './index.js';

const ACCOUNT = `ed25519:${'ab'.repeat(32)}`;
let position = 0n;
const event = (type: string, data: Record<string, unknown>, streamId: string): LogEvent => ({
  service: 'registry',
  position: ++position,
  streamId,
  version: 0,
  type,
  data: data as never,
});
const blocks = (from: number, to: number): LogEvent => event('BlocksProduced', { from, to }, 'inbox:consensus:chain');
const deposit = (amount: string): LogEvent => event('Deposited', { account: ACCOUNT, amount }, `account:${ACCOUNT}`);

describe('as-of reads over runs of blocks', () => {
  // Blocks 1..3, a deposit of 5, blocks 4..10, a deposit of 7, block 11.
  const source = memorySource({
    registry: [blocks(1, 3), deposit('5'), blocks(4, 10), deposit('7'), event('BlockProduced', { height: 11 }, 'inbox:consensus:chain')],
  });
  const at = async (height: number) => {
    const r = (await asOf(source, height, { operator: ACCOUNT })) as { registry: { recordedHeight: number }; operator: { account: { free: string } } };
    return [r.registry.recordedHeight, r.operator.account.free];
  };

  test('a height inside a run reads the state before the next event, at that height; the run itself is not passed', async () => {
    assert.deepEqual(await at(0), [0, '0']);
    assert.deepEqual(await at(3), [3, '5'], 'events after block 3 and before the next block belong to height 3');
    assert.deepEqual(await at(4), [4, '5']);
    assert.deepEqual(await at(7), [7, '5'], 'inside the run 4..10: the second deposit came after it');
    assert.deepEqual(await at(10), [10, '12']);
    assert.deepEqual(await at(11), [11, '12']);
  });
});
