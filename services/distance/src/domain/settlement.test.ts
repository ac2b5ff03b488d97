import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EvaluationSettled, PoolSettled, ValidityExpired } from './events.js';
import { identityStatus } from './status.js';
import { ADMIN, EVALUATORS, fullWot, ofType, REQUESTER } from './testing.js';
import { blocksTo, distance, type DistanceSpec, requestAndHold } from './spec-support.js';

const [E1, E2, E3] = EVALUATORS as [string, string, string];

/** Identities 1..n requested in period 0 (periods of 10 blocks), now at block 11 (period 1). */
function evaluating(n: number, overrides = {}): DistanceSpec {
  const s = distance({ periodBlocks: 10, ...overrides }).given(...fullWot(8));
  for (let id = 1; id <= n; id++) requestAndHold(s, id);
  blocksTo(s, 11);
  return s;
}

/** Each evaluator's list published in its own block. */
function publish(s: DistanceSpec, lists: readonly (readonly number[])[]): void {
  lists.forEach((values, i) => {
    blocksTo(s, s.state.height + 1);
    s.run({ type: 'PublishResult', evaluator: EVALUATORS[i]!, period: 1, values });
  });
}

const outcomes = (events: ReturnType<typeof blocksTo>): [number, string, number | undefined][] =>
  ofType<EvaluationSettled>(events, 'EvaluationSettled').map((e) => [e.identity, e.outcome, e.median]);

describe('settling', () => {
  test('pool N mod 3 is settled when period N+1 begins and emptied; the next pool is untouched', () => {
    const s = evaluating(1);
    requestAndHold(s, 5); // made in period 1: evaluated in period 2
    publish(s, [[900_000_000]]);
    assert.deepEqual(blocksTo(s, 20), [], 'nothing settles before period 2 begins');
    const settled = blocksTo(s, 21);
    assert.deepEqual(outcomes(settled), [[1, 'VALID', 900_000_000]]);
    const [closed] = ofType<PoolSettled>(settled, 'PoolSettled');
    assert.deepEqual([closed!.evaluationPeriod, closed!.pool, closed!.height, closed!.entries, closed!.evaluators], [1, 1, 21, 1, [E1]]);
    assert.equal(s.state.pools.get(1)!.settled, true);
    assert.deepEqual(
      s.state.pools.get(2)!.entries.map((e) => e.identity),
      [5],
    );
    assert.deepEqual(blocksTo(s, 30), [], 'settled once');
  });

  test('median ≥ 80 % is valid (800,000,000 exactly), just below is invalid; events carry the values', () => {
    const s = evaluating(3);
    publish(s, [[800_000_000, 799_999_999, 1_000_000_000]]);
    const settled = blocksTo(s, 21);
    assert.deepEqual(outcomes(settled), [
      [1, 'VALID', 800_000_000],
      [2, 'INVALID', 799_999_999],
      [3, 'VALID', 1_000_000_000],
    ]);
    const [first] = ofType<EvaluationSettled>(settled, 'EvaluationSettled');
    assert.deepEqual(
      [first!.holdId, first!.requester, first!.evaluationPeriod, first!.values, first!.minimum],
      ['distance:1:1', REQUESTER, 1, [800_000_000], 800_000_000],
    );
  });

  test('the median of three evaluators ignores one that disagrees', () => {
    const s = evaluating(2);
    publish(s, [
      [900_000_000, 100],
      [850_000_000, 200],
      [0, 999_999_999],
    ]);
    assert.deepEqual(outcomes(blocksTo(s, 21)), [
      [1, 'VALID', 850_000_000],
      [2, 'INVALID', 200],
    ]);
  });

  test('with two results the median is the lower plus half the difference, rounded down', () => {
    const s = evaluating(2);
    // 799,999,999 + floor(3 / 2) = 800,000,000; 700,000,000 + floor(199,999,999 / 2) = 799,999,999 (rounding up would pass)
    publish(s, [
      [799_999_999, 700_000_000],
      [800_000_002, 899_999_999],
    ]);
    assert.deepEqual(outcomes(blocksTo(s, 21)), [
      [1, 'VALID', 800_000_000],
      [2, 'INVALID', 799_999_999],
    ]);
  });

  test('no result: NOT_EVALUATED, the reserve is released and the status is back to non-existent', () => {
    const s = evaluating(1);
    assert.equal(identityStatus(s.state, 1).status, 'PENDING');
    const settled = blocksTo(s, 21);
    assert.deepEqual(outcomes(settled), [[1, 'NOT_EVALUATED', undefined]]);
    assert.deepEqual(ofType<EvaluationSettled>(settled, 'EvaluationSettled')[0]!.values, []);
    assert.equal(identityStatus(s.state, 1).status, 'NON_EXISTENT');
  });

  test('valid until the end of its validity; then it expires; statuses along the way', () => {
    const s = evaluating(1, { validityPeriods: 2 });
    publish(s, [[1_000_000_000]]);
    blocksTo(s, 21); // settled as period 2 begins: valid in periods 2 and 3
    assert.deepEqual(identityStatus(s.state, 1), {
      identity: 1,
      status: 'VALID',
      inWot: true,
      valid: true,
      validUntilPeriod: 3,
      validUntilHeight: 40,
      lastMedian: 1_000_000_000,
      lastOutcome: { outcome: 'VALID', evaluationPeriod: 1 },
    });
    assert.deepEqual(
      blocksTo(s, 40).filter((e) => e.type === 'ValidityExpired'),
      [],
    );
    const [expired] = ofType<ValidityExpired>(blocksTo(s, 41), 'ValidityExpired');
    assert.deepEqual(expired, { identity: 1, validUntilPeriod: 3, evaluationPeriod: 4 });
    assert.equal(identityStatus(s.state, 1).status, 'NON_EXISTENT');
  });

  test('a renewal settled as the old validity ends: the old result expires first, then the new one counts', () => {
    const s = evaluating(1, { validityPeriods: 2 });
    publish(s, [[1_000_000_000]]);
    blocksTo(s, 31); // period 3: validity ends with period 3
    requestAndHold(s, 1); // evaluated in period 4, settled as period 5 begins
    blocksTo(s, 41);
    s.run({ type: 'PublishResult', evaluator: E2, period: 4, values: [900_000_000] });
    assert.equal(identityStatus(s.state, 1).status, 'PENDING');
    const settled = blocksTo(s, 51);
    assert.deepEqual(
      settled.map((e) => e.type),
      ['EvaluationSettled', 'PoolSettled'],
    );
    assert.equal(identityStatus(s.state, 1).validUntilPeriod, 6);
  });

  test('expire first, then settle: in one period start, ValidityExpired precedes EvaluationSettled', () => {
    const s = evaluating(1, { validityPeriods: 1 });
    publish(s, [[1_000_000_000]]);
    blocksTo(s, 21); // valid in period 2 only
    requestAndHold(s, 1); // evaluated in 3, settled as 4 begins — but expiry comes at 3
    blocksTo(s, 31);
    assert.equal(identityStatus(s.state, 1).valid, false);
    s.run({ type: 'PublishResult', evaluator: E3, period: 3, values: [950_000_000] });
    blocksTo(s, 40);
    requestAndHold(s, 2);
    const settled = blocksTo(s, 41);
    assert.deepEqual(
      settled.map((e) => e.type),
      ['EvaluationSettled', 'PoolSettled'],
    );
    // Identity 1 valid in period 4 only: at the start of 5, its expiry comes before pool 4's settlement.
    blocksTo(s, 50);
    s.run({ type: 'PublishResult', evaluator: E1, period: 4, values: [990_000_000] });
    assert.deepEqual(
      blocksTo(s, 51).map((e) => e.type),
      ['ValidityExpired', 'EvaluationSettled', 'PoolSettled'],
    );
  });

  test('an invalid renewal ends an earlier validity; a renewal nobody evaluated keeps it', () => {
    const s = evaluating(2);
    publish(s, [[1_000_000_000, 1_000_000_000]]);
    blocksTo(s, 21);
    requestAndHold(s, 1);
    blocksTo(s, 31);
    s.run({ type: 'PublishResult', evaluator: E1, period: 3, values: [0] });
    blocksTo(s, 41);
    assert.deepEqual([identityStatus(s.state, 1).status, identityStatus(s.state, 1).valid], ['NON_EXISTENT', false]);
    requestAndHold(s, 2); // not evaluated in period 5
    assert.deepEqual([identityStatus(s.state, 2).status, identityStatus(s.state, 2).valid], ['PENDING', true]);
    assert.deepEqual(outcomes(blocksTo(s, 61)), [[2, 'NOT_EVALUATED', undefined]]);
    assert.equal(identityStatus(s.state, 2).status, 'VALID');
  });

  test('results are computed against the web of trust as it stood when the period began', () => {
    const s = distance({ periodBlocks: 10 }).given(...fullWot(3));
    blocksTo(s, 5);
    s.run({ type: 'AddIdentity', signer: ADMIN, identity: 9, member: true }); // before period 1 begins: in its snapshot
    blocksTo(s, 11);
    s.run({ type: 'AddIdentity', signer: ADMIN, identity: 10, member: true }); // during period 1: not in it
    assert.equal(s.state.snapshot.period, 1);
    assert.deepEqual([...s.state.snapshot.wot.keys()], [0, 1, 2, 9]);
    assert.ok(s.state.wot.has(10));
    blocksTo(s, 21);
    assert.deepEqual([...s.state.snapshot.wot.keys()], [0, 1, 2, 9, 10]);
  });

  test('the three pools rotate: requests of periods 1, 2, 3 join pools 2, 0, 1', () => {
    const s = distance({ periodBlocks: 10 }).given(...fullWot(4));
    blocksTo(s, 11);
    requestAndHold(s, 1);
    blocksTo(s, 21);
    requestAndHold(s, 2);
    blocksTo(s, 31);
    requestAndHold(s, 3);
    assert.deepEqual(
      [2, 3, 4].map((p) => [p % 3, s.state.pools.get(p)!.entries.map((e) => e.identity)]),
      [
        [2, [1]],
        [0, [2]],
        [1, [3]],
      ],
    );
  });
});
