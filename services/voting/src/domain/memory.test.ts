import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as v8 from 'node:v8';
import { encodePosition, isDomainError, type EventData, type RecordedEvent } from '@ewx/platform';
import { roundFromEvents } from './evolve.js';
import { given, start, type VotingSpec } from './spec-support.js';
import { CLOSED_EMPTY, roundKey, settlementStream, type VotingState } from './state.js';
import { startRound } from './start.js';
import { reactToUnresolved } from './retry.js';
import { closeRound } from './votes.js';
import { evolve } from './evolve.js';
import { REGISTRAR, block, ev, world, worker } from './testing.js';
import { decideVotes, isLateVote, type VoteCommand } from './votes.js';

const registrar = { kind: 'account', address: REGISTRAR } as const;
const noNonces = (): bigint => 0n;
let n = 0n;
const v = (roundId: string, w: number, result: string): VoteCommand => ({ solution: 's1', roundId, worker: worker(w), result, nonce: ++n });
const size = (s: VotingSpec): number => v8.serialize(s.state).length;
const settled = (roundId: string, eligible: number, submitted: number, top: number) =>
  ev('RoundSettled', {
    solution: 's1',
    roundId,
    group: 'g1',
    period: 0,
    result: 'aa',
    tally: { eligible, submitted, top, outcome: 'SETTLED', result: 'aa' },
    merkleRoot: 'ff'.repeat(32),
    attestors: [],
    dissenters: [],
  });
/** The events of one round, as its own stream holds them. */
const streamOf = (s: VotingSpec, roundId: string): RecordedEvent[] => s.log.filter((e) => (e.data as { roundId?: string }).roundId === roundId);

/** Round `id` started at the current height with a vote by each of `workers` workers (two in three vote 'aa'). */
function round(s: VotingSpec, id: string, workers: number): void {
  s.after(start('s1', id, registrar), { type: 'Votes', votes: Array.from({ length: workers }, (_, i) => v(id, i + 1, i % 3 === 2 ? 'bb' : 'aa')) });
}
const closeAll = (s: VotingSpec, ids: readonly string[]): void => {
  for (const id of ids) s.after({ type: 'CloseRound', solution: 's1', roundId: id });
};

describe('bounded memory: a closed round leaves the decision state', () => {
  test('the serialized state after 10 closed rounds of 1,000 votes is that after 1 plus a small summary per round: it does not grow with their votes', () => {
    const W = 1000;
    const s = given(...world({ maxWaitingThreshold: 10 }, W), block(20));
    const base = size(s);
    round(s, 'r0', W);
    const open = size(s);
    s.given(block(30));
    closeAll(s, ['r0']);
    s.given(settled('r0', W, W, 667));
    const one = size(s);
    const ids = Array.from({ length: 9 }, (_, i) => `r${i + 1}`);
    for (const id of ids) round(s, id, W);
    const nineOpen = size(s);
    s.given(block(40));
    closeAll(s, ids);
    for (const id of ids) s.given(settled(id, W, W, 667));
    const ten = size(s);
    const perRound = (ten - one) / 9;
    console.log(
      `serialized state: base ${base} B, 1 round open ${open} B, 1 closed ${one} B, 10 open ${nineOpen} B, 10 closed ${ten} B; ${perRound.toFixed(0)} B per closed round`,
    );
    assert.ok(open - base > 100 * W, `an open round holds its snapshot and votes (${open - base} B for ${W} votes)`);
    assert.ok(perRound < 1000, `a closed round keeps a summary only: ${perRound} B each`);
    assert.ok(ten < base + 10 * 1000, `10 closed rounds of ${W} votes: ${ten - base} B over the state without rounds`);
    // The summary is what the status shows.
    const r = s.state.rounds.get(roundKey('s1', 'r5'))!;
    assert.deepEqual([r.status, r.eligible, r.submitted, r.closedTop, r.top, r.snapshot.size, r.votes.size], ['SETTLED', W, W, 667, 667, 0, 0]);
  });

  test("a closed round's snapshot and votes are folded back from its own stream, as they stood before the close", () => {
    const s = given(...world({ maxWaitingThreshold: 10 }, 12), block(20));
    round(s, 'r', 7);
    const before = s.state.rounds.get(roundKey('s1', 'r'))!;
    const snapshot = [...before.snapshot];
    const votes = [...before.votes];
    s.given(block(30));
    closeAll(s, ['r']);
    const after = s.state.rounds.get(roundKey('s1', 'r'))!;
    assert.deepEqual([after.status, after.snapshot.size, after.votes.size, after.submitted, after.closedTop], ['OFF_CHAIN_VOTE', 0, 0, 7, 5]);
    const back = roundFromEvents(streamOf(s, 'r'))!;
    assert.deepEqual([...back.snapshot], snapshot);
    assert.deepEqual([...back.votes], votes);
    assert.equal(snapshot.length, 12);
  });

  test('a late vote gets the refusal it got before the close dropped the snapshot: expired for a worker in the snapshot, unauthorized otherwise', () => {
    const s = given(...world({ maxWaitingThreshold: 10 }, 5), block(20));
    round(s, 'r', 3);
    // Worker 6 connects after the start (not in the snapshot); worker 2 and 4 disconnect after the close.
    s.given(ev('OperatorSubscribed', { group: 'g1', operator: 'op6', stake: '1000', activeFromPeriod: 0, height: 21 }));
    s.given(ev('WorkerConnected', { operator: 'op6', worker: worker(6), height: 21 }));
    s.given(block(30));
    closeAll(s, ['r']);
    const snapshot = roundFromEvents(streamOf(s, 'r'))!.snapshot;
    const o = (i: number): string => `ed25519:${'f'.repeat(60)}${(0x1000 + i).toString(16)}`;
    s.given(
      ev('WorkerDisconnected', { operator: o(2), worker: worker(2), height: 31 }),
      ev('WorkerDisconnected', { operator: o(4), worker: worker(4), height: 31 }),
    );
    // The rule before bounded memory, on the full snapshot: not connected and not in the snapshot → unauthorized; else expired.
    const before = (w: number): string => (!s.state.operatorOf.has(worker(w)) && !snapshot.has(worker(w)) ? 'PERMISSION_DENIED' : 'FAILED_PRECONDITION');
    for (const [w, expected] of [
      [1, 'FAILED_PRECONDITION'], // voted, still connected: a retry
      [2, 'FAILED_PRECONDITION'], // voted, disconnected since: a retry
      [4, 'FAILED_PRECONDITION'], // in the snapshot, did not vote, disconnected since
      [5, 'FAILED_PRECONDITION'], // in the snapshot, did not vote
      [6, 'FAILED_PRECONDITION'], // connected after the start
      [99, 'PERMISSION_DENIED'], // never a worker
    ] as const) {
      const outcome = decideVotes(s.state, [v('r', w, 'aa')], noNonces).outcomes[0];
      assert.ok(isDomainError(outcome));
      const refusal = isLateVote(outcome) ? outcome.refusal(snapshot.has(worker(w))) : outcome;
      assert.equal(refusal.code, expected, `worker ${w}: ${refusal.message}`);
      assert.equal(refusal.code, before(w));
      assert.equal(isLateVote(outcome), !s.state.operatorOf.has(worker(w)), 'only an account not connected now needs the snapshot');
      if (expected === 'FAILED_PRECONDITION') assert.match(refusal.message, /round_id: round r of solution s1 expired at block 30: votes are closed/);
      else assert.match(refusal.message, /is not a connected worker/);
    }
  });

  test('closed rounds share one empty snapshot and votes map, also in a state restored from its snapshot; reuse of a closed id and late votes are refused there as before', () => {
    const s = given(...world({ maxWaitingThreshold: 10 }, 6), block(20));
    for (const id of ['a', 'b', 'c']) round(s, id, 4);
    s.given(block(30));
    closeAll(s, ['a', 'b', 'c']);
    s.given(settled('a', 6, 4, 3), settled('b', 6, 4, 3));
    // A restart: the state as a snapshot stores it (node:v8), read back.
    const restored = v8.deserialize(v8.serialize(s.state)) as VotingState;
    const shared = restored.rounds.get(roundKey('s1', 'a'))!.votes;
    for (const state of [s.state, restored]) {
      for (const id of ['a', 'b', 'c']) {
        const r = state.rounds.get(roundKey('s1', id))!;
        assert.equal(r.votes, r.snapshot, `round ${id}: one map for both`);
        assert.equal(r.votes, state === s.state ? CLOSED_EMPTY : shared, `round ${id}: the map all closed rounds share`);
        assert.equal(r.votes.size, 0);
      }
      // Reuse of a closed round's id: refused, with the message of before.
      assert.throws(
        () => startRound(state, 's1', 'a', registrar),
        (e: unknown) => isDomainError(e) && e.code === 'ALREADY_EXISTS' && /round_id: round a of solution s1/.test(e.message),
      );
      // Late votes: the same outcome on the live and the restored state (expired / late-vote refusal).
      for (const w of [1, 5, 99]) {
        const live = decideVotes(s.state, [v('b', w, 'aa')], noNonces);
        const back = decideVotes(state, [v('b', w, 'aa')], noNonces);
        assert.deepEqual(back.events, []);
        const [x, y] = [live.outcomes[0], back.outcomes[0]];
        assert.ok(isDomainError(x) && isDomainError(y));
        assert.deepEqual([y.code, y.message, isLateVote(y)], [x.code, x.message, isLateVote(x)]);
        if (w !== 99) assert.match(y.message, /round_id: round b of solution s1 expired at block 30: votes are closed/);
      }
      assert.deepEqual(closeRound(state, 's1', 'c'), []);
      assert.deepEqual(reactToUnresolved(state, 's1', 'a').events, []);
    }
    // A round started after the restore gets maps of its own: its votes do not reach the shared map.
    const events = startRound(restored, 's1', 'd', registrar).events;
    let position = 1000;
    const fold = (st: VotingState, e: (typeof events)[number]): VotingState =>
      evolve(st, { type: e.type, data: e.data, streamId: 'round:s1:d', version: 0, position: encodePosition([BigInt(++position)]) });
    for (const e of events) fold(restored, e);
    const votes = decideVotes(restored, [v('d', 1, 'aa'), v('d', 2, 'bb')], noNonces);
    assert.deepEqual(votes.outcomes, ['accepted', 'accepted']);
    for (const e of votes.events) fold(restored, e);
    assert.equal(restored.rounds.get(roundKey('s1', 'd'))!.votes.size, 2);
    assert.equal(shared.size, 0);
    assert.equal(CLOSED_EMPTY.size, 0);
  });

  test('flat in finished rounds: the serialized state after 2,000 finished rounds is that after 10, within a few bytes (no id, no index entry per round)', () => {
    const finished = (rounds: number): number => {
      const s = given(...world({ maxWaitingThreshold: 10 }, 6), block(20));
      const ids = Array.from({ length: rounds }, (_, i) => `round-${i}`);
      for (const id of ids) round(s, id, 3);
      s.given(block(30));
      closeAll(s, ids);
      // Settled in consensus's stream of the solution, as the service records it: the round leaves the state.
      for (const id of ids) s.given({ ...settled(id, 6, 3, 2), streamId: settlementStream('s1') } as EventData);
      assert.equal(s.state.rounds.size, 0, 'every round left the state');
      return v8.serialize(s.state).length;
    };
    const [ten, many] = [finished(10), finished(2000)];
    console.log(`serialized state: 10 finished rounds ${ten} B, 2,000 finished rounds ${many} B`);
    assert.ok(Math.abs(many - ten) <= 16, `2,000 finished rounds: ${many} B against ${ten} B for 10`);
  });
});
