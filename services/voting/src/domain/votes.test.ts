import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { RoundClosedEvent } from '@ewx/platform';
import { closeRound, decideVotes, dueRounds, type VoteCommand } from './votes.js';
import { startRound } from './start.js';
import { roundKey } from './state.js';
import { REGISTRAR, apply, block, given, world, worker } from './testing.js';
import type { VotingState } from './state.js';

const noNonces = (): bigint => 0n;
let n = 0n;
const v = (w: number, result: string, o: Partial<VoteCommand> = {}): VoteCommand => ({ solution: 's1', roundId: 'r', worker: worker(w), result, nonce: ++n, ...o });
const code = (o: unknown): string | undefined => (typeof o === 'object' && o !== null ? (o as { code?: string }).code : undefined);

function withRound(config = {}, ops = 10, height = 20): VotingState {
  const s = given(...world(config, ops), block(height));
  return apply(s, startRound(s, 's1', 'r', { kind: 'account', address: REGISTRAR }).events);
}

describe('SPEC §4 votes', () => {
  test('given a worker in the snapshot, when it votes, then the vote is recorded, signed by it', () => {
    const s = withRound();
    const { events, outcomes } = decideVotes(s, [v(1, 'ab')], noNonces);
    assert.deepEqual(outcomes, ['accepted']);
    assert.equal(events[0]!.type, 'VoteCast');
    assert.equal((events[0]!.metadata as { signer: string }).signer, worker(1));
    apply(s, events);
    assert.equal(s.rounds.get(roundKey('s1', 'r'))!.votes.get(worker(1)), 'ab');
  });

  test('a worker outside the snapshot is unauthorized (PERMISSION_DENIED)', () => {
    const { events, outcomes } = decideVotes(withRound(), [v(42, 'ab')], noNonces);
    assert.equal(code(outcomes[0]), 'PERMISSION_DENIED');
    assert.equal(events.length, 0);
  });

  test('the same result again is accepted and changes nothing; a different result is ALREADY_EXISTS', () => {
    const s = withRound();
    apply(s, decideVotes(s, [v(1, 'ab')], noNonces).events);
    const again = decideVotes(s, [v(1, 'ab'), v(1, 'cd')], noNonces);
    assert.equal(again.outcomes[0], 'repeated');
    assert.equal(code(again.outcomes[1]), 'ALREADY_EXISTS');
    assert.equal(again.events.length, 0);
    assert.equal(s.rounds.get(roundKey('s1', 'r'))!.votes.get(worker(1)), 'ab');
  });

  test('a result is 1 to 64 bytes, compared byte for byte', () => {
    const s = withRound();
    const r = decideVotes(s, [v(1, ''), v(2, 'ab'.repeat(65)), v(3, 'ab'.repeat(64)), v(4, 'AB')], noNonces);
    assert.equal(code(r.outcomes[0]), 'INVALID_ARGUMENT');
    assert.equal(code(r.outcomes[1]), 'INVALID_ARGUMENT');
    assert.equal(r.outcomes[2], 'accepted');
    assert.equal(code(r.outcomes[3]), 'INVALID_ARGUMENT'); // the API layer hex-encodes in lowercase
  });

  test('refused once the round expired at start + maxWaitingThreshold (FAILED_PRECONDITION)', () => {
    const s = withRound({}, 10, 20);
    apply(s, [block(29)]);
    assert.equal(decideVotes(s, [v(1, 'ab')], noNonces).outcomes[0], 'accepted');
    apply(s, [block(30)]);
    assert.equal(code(decideVotes(s, [v(2, 'ab')], noNonces).outcomes[0]), 'FAILED_PRECONDITION');
  });

  test('in one batch each vote is judged alone and in order: a refusal refuses only itself', () => {
    const s = withRound();
    const r = decideVotes(s, [v(1, 'ab'), v(42, 'ab'), v(2, 'cd'), v(1, 'ef'), v(1, 'ab')], noNonces);
    assert.deepEqual(r.outcomes.map((o) => (typeof o === 'string' ? o : o.code)), ['accepted', 'PERMISSION_DENIED', 'accepted', 'ALREADY_EXISTS', 'repeated']);
    assert.equal(r.events.length, 2);
  });

  test('a nonce already used by the worker is refused', () => {
    const s = withRound();
    const r = decideVotes(s, [v(1, 'ab', { nonce: 5n }), v(2, 'ab', { nonce: 5n })], (w) => (w === worker(1) ? 5n : 0n));
    assert.equal(code(r.outcomes[0]), 'PERMISSION_DENIED');
    assert.equal(r.outcomes[1], 'accepted');
  });

  test('REGISTRAR method: a vote for an unknown round is NOT_FOUND; WORKER method: the first vote starts the round', () => {
    const reg = given(...world(), block(20));
    assert.equal(code(decideVotes(reg, [v(1, 'ab')], noNonces).outcomes[0]), 'NOT_FOUND');
    const wrk = given(...world({ votingStartMethod: 'WORKER' }), block(20));
    const r = decideVotes(wrk, [v(1, 'ab'), v(2, 'ab')], noNonces);
    assert.deepEqual(r.outcomes, ['accepted', 'accepted']);
    assert.deepEqual(r.events.map((e) => e.type), ['RoundStarted', 'RoundSnapshot', 'VoteCast', 'VoteCast']);
    apply(wrk, r.events);
    assert.equal(wrk.rounds.get(roundKey('s1', 'r'))!.starter, worker(1));
    const outsider = decideVotes(given(...world({ votingStartMethod: 'WORKER' }), block(20)), [v(77, 'ab', { roundId: 'x' })], noNonces);
    assert.equal(code(outsider.outcomes[0]), 'PERMISSION_DENIED');
    assert.equal(outsider.events.length, 0);
  });
});

describe('SPEC §4 one vote per worker (property)', () => {
  test('whatever the sequence and batching, each worker keeps its first valid result, and only snapshot workers are recorded', () => {
    const vote = fc.record({ w: fc.integer({ min: 1, max: 14 }), r: fc.constantFrom('aa', 'bb', 'cc'), cut: fc.boolean() });
    fc.assert(fc.property(fc.array(vote, { maxLength: 40 }), (seq) => {
      const s = withRound({}, 10);
      let batch: VoteCommand[] = [];
      const flush = (): void => { apply(s, decideVotes(s, batch, noNonces).events); batch = []; };
      for (const x of seq) {
        batch.push(v(x.w, x.r));
        if (x.cut) flush();
      }
      flush();
      const expected = new Map<string, string>();
      for (const x of seq) if (x.w <= 10 && !expected.has(worker(x.w))) expected.set(worker(x.w), x.r);
      assert.deepEqual(new Map(s.rounds.get(roundKey('s1', 'r'))!.votes), expected);
    }), { numRuns: 200 });
  });
});

describe('SPEC §4 expiry: Active → OffChainVote', () => {
  test('before start + maxWaitingThreshold nothing happens; at it the round closes with its votes sorted by worker', () => {
    const s = withRound({}, 10, 20);
    apply(s, decideVotes(s, [v(3, 'cc'), v(1, 'aa'), v(2, 'bb')], noNonces).events);
    apply(s, [block(29)]);
    assert.deepEqual(closeRound(s, 's1', 'r'), []);
    assert.deepEqual(dueRounds(s), []);
    apply(s, [block(30)]);
    assert.deepEqual(dueRounds(s), [{ solution: 's1', roundId: 'r' }]);
    const closed = closeRound(s, 's1', 'r');
    const d = closed[0]!.data as unknown as RoundClosedEvent;
    assert.deepEqual(d.votes, [[worker(1), 'aa'], [worker(2), 'bb'], [worker(3), 'cc']]);
    assert.equal(d.submitted, 3);
    apply(s, closed);
    assert.equal(s.rounds.get(roundKey('s1', 'r'))!.status, 'OFF_CHAIN_VOTE');
    assert.deepEqual(closeRound(s, 's1', 'r'), [], 'closing twice changes nothing');
  });

  test('many votes close in chunks below the event size limit', () => {
    const s = withRound({}, 4100, 20);
    apply(s, decideVotes(s, Array.from({ length: 4100 }, (_, i) => v(i + 1, 'ab'.repeat(64))), noNonces).events);
    apply(s, [block(30)]);
    const closed = closeRound(s, 's1', 'r');
    assert.equal(closed.length, 3);
    for (const e of closed) assert.ok(JSON.stringify(e.data).length < 512 * 1024);
    assert.equal(closed.reduce((a, e) => a + (e.data as unknown as RoundClosedEvent).votes.length, 0), 4100);
  });
});
