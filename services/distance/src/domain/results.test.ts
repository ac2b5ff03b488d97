import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ResultPublished } from './events.js';
import { addr, EVALUATORS, fullWot, ofType } from './testing.js';
import { blocksTo, distance, type DistanceSpec, requestAndHold } from './spec-support.js';

const [E1, E2, E3] = EVALUATORS as [string, string, string];

/** Two requests made in period 0 (pool 1), now in period 1 at block 11: evaluators may publish. */
function evaluating(): DistanceSpec {
  const s = distance({ periodBlocks: 10 }).given(...fullWot(4));
  requestAndHold(s, 1);
  requestAndHold(s, 2);
  blocksTo(s, 11);
  return s;
}

describe('results', () => {
  test('during period N an evaluator publishes one value per identity of pool N mod 3, in pool order', () => {
    const s = evaluating();
    const [r] = ofType<ResultPublished>(s.run({ type: 'PublishResult', evaluator: E1, period: 1, values: [900_000_000, 10] }), 'ResultPublished');
    assert.deepEqual(r, { evaluator: E1, evaluationPeriod: 1, pool: 1, height: 11, values: [900_000_000, 10] });
  });

  test('a list whose length is not the pool size is refused', () => {
    const s = evaluating();
    s.when({ type: 'PublishResult', evaluator: E1, period: 1, values: [1] }).thenThrows('INVALID_ARGUMENT', /^values: expected 2 values.*got 1/);
    s.when({ type: 'PublishResult', evaluator: E1, period: 1, values: [1, 2, 3] }).thenThrows('INVALID_ARGUMENT', /got 3/);
  });

  test('a value that is not a Perbill is refused, naming its index', () => {
    evaluating()
      .when({ type: 'PublishResult', evaluator: E1, period: 1, values: [1, 1_000_000_001] })
      .thenThrows('INVALID_ARGUMENT', /^values\[1\]:/);
  });

  test('only configured evaluators publish', () => {
    evaluating()
      .when({ type: 'PublishResult', evaluator: addr(0x77), period: 1, values: [1, 2] })
      .thenThrows('PERMISSION_DENIED', /not one of the 3 configured evaluators/);
  });

  test('results are for the current period only', () => {
    const s = evaluating();
    s.when({ type: 'PublishResult', evaluator: E1, period: 0, values: [1, 2] }).thenThrows('FAILED_PRECONDITION', /current period 1 only, got 0/);
    s.when({ type: 'PublishResult', evaluator: E1, period: 2, values: [1, 2] }).thenThrows('FAILED_PRECONDITION', /current period 1/);
  });

  test('nothing to publish for an empty pool', () => {
    const s = distance({ periodBlocks: 10 }).given(...fullWot(2));
    blocksTo(s, 11);
    s.when({ type: 'PublishResult', evaluator: E1, period: 1, values: [] }).thenThrows('FAILED_PRECONDITION', /empty/);
  });

  test('at most one accepted result per block across evaluators; the next block accepts another', () => {
    const s = evaluating();
    s.run({ type: 'PublishResult', evaluator: E1, period: 1, values: [1, 2] });
    s.when({ type: 'PublishResult', evaluator: E2, period: 1, values: [1, 2] }).thenThrows('RESOURCE_EXHAUSTED', /block 11 already has an accepted result/);
    blocksTo(s, 12);
    assert.equal(s.run({ type: 'PublishResult', evaluator: E2, period: 1, values: [1, 2] }).length, 1);
  });

  test('one result per evaluator per period', () => {
    const s = evaluating();
    s.run({ type: 'PublishResult', evaluator: E3, period: 1, values: [1, 2] });
    blocksTo(s, 12);
    s.when({ type: 'PublishResult', evaluator: E3, period: 1, values: [3, 4] }).thenThrows('ALREADY_EXISTS', /result of .* for period 1/);
  });
});
