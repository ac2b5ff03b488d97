import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RoundStartedEvent } from '@ewx/platform';
import { dueCommands } from './decider.js';
import { reactToUnresolved } from './retry.js';
import { given, start, type VotingSpec, type VotingSpecCommand } from './spec-support.js';
import { roundKey } from './state.js';
import { REGISTRAR, block, ev, world } from './testing.js';

const unresolved = (roundId: string) =>
  ev('RoundUnresolved', { solution: 's1', roundId, reason: 'NO_QUORUM', tally: { eligible: 10, submitted: 0, top: 0, outcome: 'UNRESOLVED' }, merkleRoot: '' });

const react = (roundId: string): VotingSpecCommand => ({ type: 'ReactToUnresolved', solution: 's1', roundId });

function unresolvedRound(policy: 'NONE' | 'RETRY_ONCE', at = 20): VotingSpec {
  const s = given(...world({ unresolvedPolicy: policy }), block(at)).after(start('s1', 'r', { kind: 'account', address: REGISTRAR }));
  return s.given([
    block(at + 10),
    ev('RoundClosed', { solution: 's1', roundId: 'r', height: at + 10, submitted: 0, chunk: 0, chunks: 1, votes: [] }),
    unresolved('r'),
  ]);
}

describe('unresolved policy (decided here)', () => {
  test('NONE: an unresolved round is left as it is', () => {
    unresolvedRound('NONE').when(react('r')).thenNothingChanged();
  });

  test('RETRY_ONCE: a round <id>#retry over the same data starts, once', () => {
    const s = unresolvedRound('RETRY_ONCE');
    assert.equal(reactToUnresolved(s.state, 's1', 'r').roundId, 'r#retry');
    s.when(react('r')).then((events) => {
      const started = events[0]!.data as unknown as RoundStartedEvent;
      assert.deepEqual([started.roundId, started.retryOf, started.starter, started.startBlock], ['r#retry', 'r', 'system', 30]);
    });
    s.when(react('r')).thenNothingChanged();
  });

  test('RETRY_ONCE: when the retry is unresolved too, an alert is emitted, once', () => {
    const s = unresolvedRound('RETRY_ONCE');
    s.after(react('r')).given(unresolved('r#retry'));
    s.when(react('r#retry')).then((alert) =>
      assert.deepEqual(
        alert.map((e) => e.type),
        ['RoundAlert'],
      ),
    );
    assert.ok(s.state.rounds.get(roundKey('s1', 'r#retry'))!.alerted);
    s.when(react('r#retry')).thenNothingChanged();
  });

  test('RETRY_ONCE: when the period leaves no room for the retry, an alert instead', () => {
    const s = unresolvedRound('RETRY_ONCE', 85); // unresolved at 95: a retry would end at 105 > 100
    s.when(react('r')).then((events) => {
      assert.deepEqual(
        events.map((e) => e.type),
        ['RoundAlert'],
      );
      assert.match((events[0]!.data as { reason: string }).reason, /cannot start/);
    });
  });

  test('the process manager owes the policy of an unresolved RETRY_ONCE round until its retry or alert is recorded', () => {
    assert.deepEqual(dueCommands(unresolvedRound('NONE').state), []);
    const s = unresolvedRound('RETRY_ONCE');
    assert.deepEqual(dueCommands(s.state), [{ type: 'ApplyUnresolvedPolicy', solution: 's1', roundId: 'r' }]);
    s.after(react('r'));
    assert.deepEqual(dueCommands(s.state), []);
    s.given(unresolved('r#retry'));
    assert.deepEqual(dueCommands(s.state), [{ type: 'ApplyUnresolvedPolicy', solution: 's1', roundId: 'r#retry' }]);
    s.after(react('r#retry'));
    assert.deepEqual(dueCommands(s.state), []);
  });
});
