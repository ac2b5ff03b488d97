import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { RoundClosedEvent } from '@ewx/platform';
import { castVotes, MAX_VOTES_PER_EVENT, voteSigners } from '@ewx/contracts';
import { decideVotes, dueRounds, type VoteCommand } from './votes.js';
import { given, start, vote, type VotingSpec, type VotingSpecCommand } from './spec-support.js';
import { roundKey } from './state.js';
import { REGISTRAR, block, world, worker } from './testing.js';

const noNonces = (): bigint => 0n;
let n = 0n;
const v = (w: number, result: string, o: Partial<VoteCommand> = {}): VoteCommand => ({
  solution: 's1',
  roundId: 'r',
  worker: worker(w),
  result,
  nonce: ++n,
  ...o,
});
const code = (o: unknown): string | undefined => (typeof o === 'object' && o !== null ? (o as { code?: string }).code : undefined);

function withRound(config = {}, ops = 10, height = 20): VotingSpec {
  return given(...world(config, ops), block(height)).after(start('s1', 'r', { kind: 'account', address: REGISTRAR }));
}
const votes = (list: readonly VoteCommand[]): VotingSpecCommand => ({ type: 'Votes', votes: list });
const closeR: VotingSpecCommand = { type: 'CloseRound', solution: 's1', roundId: 'r' };

describe('SPEC §4 votes', () => {
  test('given a worker in the snapshot, when it votes, then the vote is recorded, signed by it', () => {
    const s = withRound();
    const ab = v(1, 'ab');
    assert.deepEqual(decideVotes(s.state, [ab], noNonces).outcomes, ['accepted']);
    s.when(vote(ab)).then((events, state) => {
      assert.equal(events[0]!.type, 'VoteCast');
      assert.equal((events[0]!.metadata as { signer: string }).signer, worker(1));
      assert.equal(state.rounds.get(roundKey('s1', 'r'))!.votes.get(worker(1)), 'ab');
    });
  });

  test('a worker outside the snapshot is unauthorized (PERMISSION_DENIED)', () => {
    const { events, outcomes } = decideVotes(withRound().state, [v(42, 'ab')], noNonces);
    assert.equal(code(outcomes[0]), 'PERMISSION_DENIED');
    assert.equal(events.length, 0);
    withRound()
      .when(vote(v(42, 'ab')))
      .thenThrows('PERMISSION_DENIED');
  });

  test('the same result again is accepted and changes nothing; a different result is ALREADY_EXISTS', () => {
    const s = withRound().after(vote(v(1, 'ab')));
    const again = decideVotes(s.state, [v(1, 'ab'), v(1, 'cd')], noNonces);
    assert.equal(again.outcomes[0], 'repeated');
    assert.equal(code(again.outcomes[1]), 'ALREADY_EXISTS');
    assert.equal(again.events.length, 0);
    s.when(vote(v(1, 'ab'))).thenNothingChanged();
    s.when(vote(v(1, 'cd'))).thenThrows('ALREADY_EXISTS');
    assert.equal(s.state.rounds.get(roundKey('s1', 'r'))!.votes.get(worker(1)), 'ab');
  });

  test('a result is 1 to 64 bytes, compared byte for byte', () => {
    const s = withRound();
    const r = decideVotes(s.state, [v(1, ''), v(2, 'ab'.repeat(65)), v(3, 'ab'.repeat(64)), v(4, 'AB')], noNonces);
    assert.equal(code(r.outcomes[0]), 'INVALID_ARGUMENT');
    assert.equal(code(r.outcomes[1]), 'INVALID_ARGUMENT');
    assert.equal(r.outcomes[2], 'accepted');
    assert.equal(code(r.outcomes[3]), 'INVALID_ARGUMENT'); // the API layer hex-encodes in lowercase
  });

  test('refused once the round expired at start + maxWaitingThreshold (FAILED_PRECONDITION)', () => {
    const s = withRound({}, 10, 20).given(block(29));
    assert.equal(decideVotes(s.state, [v(1, 'ab')], noNonces).outcomes[0], 'accepted');
    s.given(block(30));
    assert.equal(code(decideVotes(s.state, [v(2, 'ab')], noNonces).outcomes[0]), 'FAILED_PRECONDITION');
    s.when(vote(v(2, 'ab'))).thenThrows('FAILED_PRECONDITION');
  });

  test('in one batch each vote is judged alone and in order: a refusal refuses only itself', () => {
    const s = withRound();
    const r = decideVotes(s.state, [v(1, 'ab'), v(42, 'ab'), v(2, 'cd'), v(1, 'ef'), v(1, 'ab')], noNonces);
    assert.deepEqual(
      r.outcomes.map((o) => (typeof o === 'string' ? o : o.code)),
      ['accepted', 'PERMISSION_DENIED', 'accepted', 'ALREADY_EXISTS', 'repeated'],
    );
    assert.deepEqual(
      r.events.map((e) => [e.type, castVotes(e)]),
      [
        [
          'VotesCast',
          [
            [worker(1), 'ab'],
            [worker(2), 'cd'],
          ],
        ],
      ],
      'the two accepted votes, in order, in one event',
    );
  });

  test('a nonce already used by the worker is refused', () => {
    const s = withRound();
    const lastNonce = (w: string): bigint => (w === worker(1) ? 5n : 0n);
    const r = decideVotes(s.state, [v(1, 'ab', { nonce: 5n }), v(2, 'ab', { nonce: 5n })], lastNonce);
    assert.equal(code(r.outcomes[0]), 'PERMISSION_DENIED');
    assert.equal(r.outcomes[1], 'accepted');
    s.when(vote(v(1, 'ab', { nonce: 5n }), lastNonce)).thenThrows('PERMISSION_DENIED');
  });

  test('REGISTRAR method: a vote for an unknown round is NOT_FOUND; WORKER method: the first vote starts the round', () => {
    const reg = given(...world(), block(20));
    assert.equal(code(decideVotes(reg.state, [v(1, 'ab')], noNonces).outcomes[0]), 'NOT_FOUND');
    reg.when(vote(v(1, 'ab'))).thenThrows('NOT_FOUND');
    const wrk = given(...world({ votingStartMethod: 'WORKER' }), block(20));
    const both = [v(1, 'ab'), v(2, 'ab')];
    assert.deepEqual(decideVotes(wrk.state, both, noNonces).outcomes, ['accepted', 'accepted']);
    wrk.when(votes(both)).then((events) =>
      assert.deepEqual(
        events.map((e) => e.type),
        ['RoundStarted', 'RoundSnapshot', 'VotesCast'],
      ),
    );
    assert.equal(wrk.state.rounds.get(roundKey('s1', 'r'))!.starter, worker(1));
    const outsider = decideVotes(given(...world({ votingStartMethod: 'WORKER' }), block(20)).state, [v(77, 'ab', { roundId: 'x' })], noNonces);
    assert.equal(code(outsider.outcomes[0]), 'PERMISSION_DENIED');
    assert.equal(outsider.events.length, 0);
    given(...world({ votingStartMethod: 'WORKER' }), block(20))
      .when(vote(v(77, 'ab', { roundId: 'x' })))
      .thenThrows('PERMISSION_DENIED');
  });
});

describe('SPEC §4 one vote per worker (property)', () => {
  test('whatever the sequence and batching, each worker keeps its first valid result, and only snapshot workers are recorded', () => {
    const vote = fc.record({ w: fc.integer({ min: 1, max: 14 }), r: fc.constantFrom('aa', 'bb', 'cc'), cut: fc.boolean() });
    fc.assert(
      fc.property(fc.array(vote, { maxLength: 40 }), (seq) => {
        const s = withRound({}, 10);
        let batch: VoteCommand[] = [];
        const flush = (): void => {
          s.after(votes(batch));
          batch = [];
        };
        for (const x of seq) {
          batch.push(v(x.w, x.r));
          if (x.cut) flush();
        }
        flush();
        const expected = new Map<string, string>();
        for (const x of seq) if (x.w <= 10 && !expected.has(worker(x.w))) expected.set(worker(x.w), x.r);
        assert.deepEqual(new Map(s.state.rounds.get(roundKey('s1', 'r'))!.votes), expected);
      }),
      { numRuns: 200 },
    );
  });
});

describe('SPEC §4 expiry: Active → OffChainVote', () => {
  test('before start + maxWaitingThreshold nothing happens; at it the round closes with the count of its votes (the votes are their VoteCast events)', () => {
    const s = withRound({}, 10, 20)
      .after(votes([v(3, 'cc'), v(1, 'aa'), v(2, 'bb')]))
      .given(block(29));
    s.when(closeR).thenNothingChanged();
    assert.deepEqual(dueRounds(s.state), []);
    s.given(block(30));
    assert.deepEqual(dueRounds(s.state), [{ solution: 's1', roundId: 'r' }]);
    s.when(closeR).then((closed) => {
      assert.deepEqual(
        closed.map((e) => e.type),
        ['RoundClosed'],
      );
      assert.deepEqual(closed[0]!.data, { solution: 's1', roundId: 'r', height: 30, submitted: 3 });
    });
    assert.equal(s.state.rounds.get(roundKey('s1', 'r'))!.status, 'OFF_CHAIN_VOTE');
    s.when(closeR).thenNothingChanged(); // closing twice changes nothing
  });

  test('many votes close in one small event: each vote is carried once, by its VoteCast or VotesCast', () => {
    const s = withRound({}, 4100, 20)
      .after(votes(Array.from({ length: 4100 }, (_, i) => v(i + 1, 'ab'.repeat(64)))))
      .given(block(30));
    s.when(closeR).then((closed) => {
      assert.equal(closed.length, 1);
      assert.ok(JSON.stringify(closed[0]!.data).length < 200);
      assert.equal((closed[0]!.data as unknown as RoundClosedEvent).submitted, 4100);
    });
  });
});

describe('group commit: the votes accepted together are one VotesCast', () => {
  test('one accepted vote is a VoteCast; two or more are VotesCast events of at most MAX_VOTES_PER_EVENT votes, in order, each signer in the metadata', () => {
    const one = decideVotes(withRound().state, [v(1, 'ab', { signature: 'aa' }), v(42, 'ab')], noNonces);
    assert.deepEqual(
      one.events.map((e) => [e.type, e.metadata]),
      [['VoteCast', { signer: worker(1), nonce: String(n - 1n), signature: 'aa' }]],
    );
    const total = MAX_VOTES_PER_EVENT + 1;
    const s = withRound({}, total + 1);
    const list = Array.from({ length: total }, (_, i) => v(i + 1, i % 2 ? 'ab' : 'cd', i === 3 ? {} : { signature: `${i}`.padStart(4, '0') }));
    const r = decideVotes(s.state, list, noNonces);
    assert.deepEqual(
      r.events.map((e) => [e.type, castVotes(e).length]),
      [
        ['VotesCast', MAX_VOTES_PER_EVENT],
        ['VotesCast', 1],
      ],
    );
    assert.deepEqual(
      r.events.flatMap(castVotes),
      list.map((x) => [x.worker, x.result]),
      'every accepted vote once, in the order decided',
    );
    const signers = r.events.flatMap((e) => voteSigners(e.metadata));
    assert.deepEqual(
      signers,
      list.map((x) => (x.signature === undefined ? [x.worker, String(x.nonce)] : [x.worker, String(x.nonce), x.signature])),
      "each vote's worker, nonce and signature (absent when unsigned), in the same order",
    );
    for (const e of r.events) assert.deepEqual(Object.keys(e.data as object).sort(), ['height', 'roundId', 'solution', 'votes']);
  });

  test('a VotesCast folds exactly as the VoteCast events of its votes would: the same round state', () => {
    const list = Array.from({ length: 7 }, (_, i) => v(i + 1, i % 3 ? 'ab' : 'cd'));
    const together = withRound().after(votes(list));
    const oneByOne = list.reduce((spec, x) => spec.after(vote(x)), withRound());
    const votesOf = (spec: VotingSpec): [string, string][] => [...spec.state.rounds.get(roundKey('s1', 'r'))!.votes].sort();
    assert.equal(votesOf(together).length, 7);
    assert.deepEqual(votesOf(together), votesOf(oneByOne));
    together
      .given(block(30))
      .when(closeR)
      .then((closed) => assert.equal((closed[0]!.data as unknown as RoundClosedEvent).submitted, 7));
  });
});
