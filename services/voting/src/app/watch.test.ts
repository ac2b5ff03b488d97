import assert from 'node:assert/strict';
import { test } from 'node:test';
import { START, type LogPosition } from '@ewx/platform';
import { ServiceStatus, WatchEvent } from '@ewx/proto/common';
import { mergedToken, positionsOf } from './watch.js';

const pos = (s: string) => s as LogPosition;

test('the merged resume token: one position per partition, read back as written; "" is every partition from its start', () => {
  const positions = [pos('17'), START, pos('1234/1230')];
  const token = mergedToken(positions);
  assert.equal(token, 'P3:17,,1234/1230');
  assert.deepEqual(positionsOf(token, 3), positions);
  assert.deepEqual(positionsOf('', 2), [START, START]);
  assert.deepEqual(positionsOf(mergedToken([START, START]), 2), [START, START]);
  // Never a single log's position (decimal components joined by '/'), so the two cannot be mistaken.
  assert.doesNotMatch(token, /^((0|[1-9][0-9]*)(\/(0|[1-9][0-9]*))*)?$/);
});

test('a position that is not a token of this voting: INVALID_ARGUMENT naming from_position and the rule', () => {
  for (const [bad, why] of [
    [
      '42',
      /"42" is not a position of this voting, which is partitioned \(VOTING_PARTITIONS=2\) and merges 2 logs: expected "" \(the start\) or a position this voting sent/,
    ],
    ['P3:1,2,3', /is a position of a voting with 3 partitions; this one has 2/],
    ['P2:1', /has 1 positions, not 2/],
    ['P2:1,2,3', /has 3 positions, not 2/],
    ['P2:1,01', /the position of partition 1, "01", is not a log position/],
    ['P02:1,2', /is not a position of this voting/],
  ] as const)
    assert.throws(
      () => positionsOf(bad, 2),
      (e: Error & { field?: string }) => {
        assert.match(e.message, /^from_position: /, bad);
        assert.match(e.message, why, bad);
        return true;
      },
    );
});

test('one log (P = 1, every other service): a status and an event encode to the bytes they had before the partition fields', () => {
  // Hand-encoded from common.proto's field numbers 1–4 (status) and 1–8 (event): nothing else is written.
  const status = ServiceStatus.encode({ service: 'voting', logPosition: 5n, height: 3n, position: '5', partitions: [], countedHeight: 0n }).finish();
  assert.equal(Buffer.from(status).toString('hex'), `0a06${Buffer.from('voting').toString('hex')}10051803220135`);
  const event = WatchEvent.encode({
    position: '7',
    streamId: 's',
    type: 'T',
    version: 1n,
    dataJson: '{}',
    height: 2n,
    source: 'voting',
    sourceStreamId: '',
  }).finish();
  assert.equal(Buffer.from(event).toString('hex'), `0a01371201731a015420012a027b7d30023a06${Buffer.from('voting').toString('hex')}`);
  // A partitioned voting's event adds fields 9 and 10 only.
  const merged = WatchEvent.encode({
    ...WatchEvent.decode(event),
    partition: 0,
    partitionPosition: '7',
  }).finish();
  assert.equal(Buffer.from(merged).toString('hex'), `${Buffer.from(event).toString('hex')}48005201${Buffer.from('7').toString('hex')}`);
});
