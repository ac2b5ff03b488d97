import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RoundStartedEvent } from '@ewx/platform';
import { reactToUnresolved } from './retry.js';
import { startRound } from './start.js';
import { roundKey, type VotingState } from './state.js';
import { REGISTRAR, apply, block, ev, given, world } from './testing.js';

const unresolved = (roundId: string) => ev('RoundUnresolved', { solution: 's1', roundId, reason: 'NO_QUORUM', tally: { eligible: 10, submitted: 0, top: 0, outcome: 'UNRESOLVED' }, merkleRoot: '' });

function unresolvedRound(policy: 'NONE' | 'RETRY_ONCE', at = 20): VotingState {
  const s = given(...world({ unresolvedPolicy: policy }), block(at));
  apply(s, startRound(s, 's1', 'r', { kind: 'account', address: REGISTRAR }).events);
  return apply(s, [block(at + 10), ev('RoundClosed', { solution: 's1', roundId: 'r', height: at + 10, submitted: 0, chunk: 0, chunks: 1, votes: [] }), unresolved('r')]);
}

describe('unresolved policy (decided here)', () => {
  test('NONE: an unresolved round is left as it is', () => {
    assert.deepEqual(reactToUnresolved(unresolvedRound('NONE'), 's1', 'r').events, []);
  });

  test('RETRY_ONCE: a round <id>#retry over the same data starts, once', () => {
    const s = unresolvedRound('RETRY_ONCE');
    const r = reactToUnresolved(s, 's1', 'r');
    assert.equal(r.roundId, 'r#retry');
    const started = r.events[0]!.data as unknown as RoundStartedEvent;
    assert.deepEqual([started.roundId, started.retryOf, started.starter, started.startBlock], ['r#retry', 'r', 'system', 30]);
    apply(s, r.events);
    assert.deepEqual(reactToUnresolved(s, 's1', 'r').events, []);
  });

  test('RETRY_ONCE: when the retry is unresolved too, an alert is emitted, once', () => {
    const s = unresolvedRound('RETRY_ONCE');
    apply(s, reactToUnresolved(s, 's1', 'r').events);
    apply(s, [unresolved('r#retry')]);
    const alert = reactToUnresolved(s, 's1', 'r#retry');
    assert.deepEqual(alert.events.map((e) => e.type), ['RoundAlert']);
    apply(s, alert.events);
    assert.ok(s.rounds.get(roundKey('s1', 'r#retry'))!.alerted);
    assert.deepEqual(reactToUnresolved(s, 's1', 'r#retry').events, []);
  });

  test('RETRY_ONCE: when the period leaves no room for the retry, an alert instead', () => {
    const s = unresolvedRound('RETRY_ONCE', 85); // unresolved at 95: a retry would end at 105 > 100
    const r = reactToUnresolved(s, 's1', 'r');
    assert.deepEqual(r.events.map((e) => e.type), ['RoundAlert']);
    assert.match((r.events[0]!.data as { reason: string }).reason, /cannot start/);
  });
});
