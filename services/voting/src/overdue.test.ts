import assert from 'node:assert/strict';
import { test } from 'node:test';
import { votingDecider } from './domain/decider.js';
import type { Round, VotingState } from './domain/state.js';
import { OVERDUE_STEP_BLOCKS, overdueDeadline, overdueRounds } from './index.js';

/** A state at `height` holding rounds of the given status and end block (only what the gauge reads). */
const stateWith = (height: number, rounds: readonly Pick<Round, 'status' | 'endBlock'>[]): VotingState => {
  const s = votingDecider.initialState();
  s.height = height;
  for (const [i, r] of rounds.entries()) s.rounds.set(`sol/r${i}`, r as Round);
  return s;
};

test('voting asks for a run every OVERDUE_STEP_BLOCKS blocks while a round is overdue, and never otherwise', () => {
  // No round, or only rounds still open or decided: no deadline (an idle or healthy network costs nothing).
  assert.equal(overdueDeadline(stateWith(100, [])), undefined);
  assert.equal(overdueDeadline(stateWith(100, [{ status: 'ACTIVE', endBlock: 150 }])), undefined);
  assert.equal(
    overdueDeadline(
      stateWith(100, [
        { status: 'SETTLED', endBlock: 50 },
        { status: 'UNRESOLVED', endBlock: 60 },
      ]),
    ),
    undefined,
  );
  // Closed and waiting for consensus, or past its end block and not closed yet: the height a step above.
  const waiting = stateWith(100, [{ status: 'OFF_CHAIN_VOTE', endBlock: 90 }]);
  assert.deepEqual(overdueRounds(waiting), { rounds: 1, oldestBlocks: 10 });
  assert.equal(overdueDeadline(waiting), 100 + OVERDUE_STEP_BLOCKS);
  assert.equal(overdueDeadline(stateWith(100, [{ status: 'ACTIVE', endBlock: 100 }])), 100 + OVERDUE_STEP_BLOCKS);
});
