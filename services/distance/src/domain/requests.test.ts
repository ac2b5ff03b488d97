import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TOKEN, type EventData } from '@ewx/platform';
import type { EvaluationRequested, EvaluationSettled, HoldRequested } from './events.js';
import { identityStatus } from './status.js';
import { addr, fullWot, ofType, REQUESTER } from './testing.js';
import { blocksTo, distance, requestAndHold } from './spec-support.js';

/** `n` identities without certifications (enough to fill pools). */
const plainWot = (n: number): EventData => ({
  type: 'WotImported',
  data: { importId: 't', chunk: 0, chunks: 1, identities: Array.from({ length: n }, (_, id) => ({ id, member: true, certifiedBy: [] })) },
});

describe('requests', () => {
  test('a request holds the price (10 tokens by default) under a deterministic hold id; the identity is pending', () => {
    const s = distance().given(...fullWot(3));
    s.when({ type: 'RequestEvaluation', requester: REQUESTER, identity: 2 }).then({
      type: 'HoldRequested',
      data: { holdId: 'distance:2:1', identity: 2, requester: REQUESTER, amount: (10n * TOKEN).toString(), requestPeriod: 0, height: 0 },
    });
    assert.equal(identityStatus(s.state, 2).status, 'PENDING');
    assert.equal(identityStatus(s.state, 1).status, 'NON_EXISTENT');
    s.run({ type: 'FailHold', holdId: 'distance:2:1', reason: 'short' });
    const [again] = ofType<HoldRequested>(s.run({ type: 'RequestEvaluation', requester: REQUESTER, identity: 2 }), 'HoldRequested');
    assert.equal(again!.holdId, 'distance:2:2');
  });

  test('an identity outside the web of trust cannot be requested', () => {
    distance()
      .given(...fullWot(2))
      .when({ type: 'RequestEvaluation', requester: REQUESTER, identity: 5 })
      .thenThrows('NOT_FOUND', /identity 5/);
  });

  test('refused while one is pending for the identity, both while the hold is placed and while pooled', () => {
    const s = distance().given(...fullWot(3));
    s.run({ type: 'RequestEvaluation', requester: REQUESTER, identity: 1 });
    s.when({ type: 'RequestEvaluation', requester: addr(9), identity: 1 }).thenThrows('FAILED_PRECONDITION', /already pending/);
    s.run({ type: 'ConfirmHold', holdId: 'distance:1:1' });
    s.when({ type: 'RequestEvaluation', requester: addr(9), identity: 1 }).thenThrows('FAILED_PRECONDITION', /already pending.*evaluated in period 1/);
  });

  test('a failed hold drops the request: no longer pending, its slot free', () => {
    const s = distance({ maxPoolSize: 1 }).given(...fullWot(3));
    s.run({ type: 'RequestEvaluation', requester: REQUESTER, identity: 1 });
    s.when({ type: 'RequestEvaluation', requester: REQUESTER, identity: 2 }).thenThrows('RESOURCE_EXHAUSTED');
    s.run({ type: 'FailHold', holdId: 'distance:1:1', reason: 'free balance short' });
    assert.equal(identityStatus(s.state, 1).status, 'NON_EXISTENT');
    s.run({ type: 'RequestEvaluation', requester: REQUESTER, identity: 2 });
  });

  test('the pool is full at 1300 requests (Ğ1 value), holds in flight counted; the next period has room', () => {
    const s = distance({ periodBlocks: 10 }).given(plainWot(1302));
    for (let id = 0; id < 1299; id++) requestAndHold(s, id);
    s.run({ type: 'RequestEvaluation', requester: REQUESTER, identity: 1299 });
    s.when({ type: 'RequestEvaluation', requester: REQUESTER, identity: 1300 }).thenThrows(
      'RESOURCE_EXHAUSTED',
      /pool 1 \(evaluated in period 1\) is full: at most 1300/,
    );
    blocksTo(s, 11);
    s.run({ type: 'RequestEvaluation', requester: REQUESTER, identity: 1300 });
  });

  test('a confirmed hold in period N joins pool (N+1) mod 3 at the next index', () => {
    const s = distance({ periodBlocks: 10 }).given(...fullWot(4));
    const joined = (id: number): EvaluationRequested => {
      const [held] = s.run({ type: 'RequestEvaluation', requester: REQUESTER, identity: id });
      return ofType<EvaluationRequested>(s.run({ type: 'ConfirmHold', holdId: (held!.data as unknown as HoldRequested).holdId }), 'EvaluationRequested')[0]!;
    };
    assert.deepEqual(
      [joined(0), joined(1)].map((e) => [e.requestPeriod, e.evaluationPeriod, e.pool, e.index]),
      [
        [0, 1, 1, 0],
        [0, 1, 1, 1],
      ],
    );
    blocksTo(s, 11);
    assert.deepEqual(
      [joined(2)].map((e) => [e.requestPeriod, e.evaluationPeriod, e.pool, e.index]),
      [[1, 2, 2, 0]],
    );
    blocksTo(s, 21);
    assert.deepEqual(
      [joined(3)].map((e) => [e.requestPeriod, e.evaluationPeriod, e.pool, e.index]),
      [[2, 3, 0, 0]],
    );
    assert.deepEqual(
      s.state.pools.get(3)!.entries.map((e) => e.identity),
      [3],
    );
  });

  test('a hold confirmed after the period changed joins the pool of the confirming period', () => {
    const s = distance({ periodBlocks: 10 }).given(...fullWot(2));
    s.run({ type: 'RequestEvaluation', requester: REQUESTER, identity: 1 });
    blocksTo(s, 11);
    const [e] = ofType<EvaluationRequested>(s.run({ type: 'ConfirmHold', holdId: 'distance:1:1' }), 'EvaluationRequested');
    assert.equal(e!.evaluationPeriod, 2);
    assert.deepEqual(s.run({ type: 'ConfirmHold', holdId: 'distance:1:1' }), [], 'confirming twice changes nothing');
  });

  test('a hold confirmed when the pool filled meanwhile is given back: NOT_EVALUATED, reason POOL_FULL', () => {
    const s = distance({ periodBlocks: 10, maxPoolSize: 1 }).given(...fullWot(3));
    s.run({ type: 'RequestEvaluation', requester: REQUESTER, identity: 1 });
    blocksTo(s, 11);
    requestAndHold(s, 2);
    const [back] = ofType<EvaluationSettled>(s.run({ type: 'ConfirmHold', holdId: 'distance:1:1' }), 'EvaluationSettled');
    assert.equal(back!.outcome, 'NOT_EVALUATED');
    assert.equal(back!.reason, 'POOL_FULL');
    assert.equal(identityStatus(s.state, 1).status, 'NON_EXISTENT');
  });
});
