import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EventData } from '@ewx/platform';
import { MAX_BLOCKS_PER_CALL, type ConsensusCommand } from './decider.js';
import { nextCut, undecidedEnded } from './state.js';
import { consensus, ev, roundStarted } from './testing.js';

const ADMIN = 'ed25519:' + 'ad'.repeat(32);
const produce = (count: number): ConsensusCommand => ({ type: 'ProduceBlocks', signer: ADMIN, admin: ADMIN, manual: true, count });
const started = (roundId: string, startBlock: number, endBlock: number): EventData => roundStarted(roundId, { startBlock, endBlock, period: 0 });

describe('the clock: blocks as runs', () => {
  test('given height 0, when 100,000 blocks are produced, then one BlocksProduced {from 1, to 100000} is recorded and the height is 100000', () => {
    consensus()
      .when(produce(100_000))
      .then(ev('BlocksProduced', { from: 1, to: 100_000 }))
      .when(produce(1))
      .then(ev('BlockProduced', { height: 100_001 }));
  });

  test('one block is a BlockProduced (as the block timer writes); a run continues from the height, whatever wrote the previous blocks', () => {
    const s = consensus().given(ev('BlockProduced', { height: 1 }), ev('BlocksProduced', { from: 2, to: 9 }));
    assert.equal(s.state.height, 9);
    s.when(produce(1)).then(ev('BlockProduced', { height: 10 }));
    s.when({ type: 'ProduceNextBlock', after: 10 }).then(ev('BlockProduced', { height: 11 }));
    s.when({ type: 'ProduceNextBlock', after: 10 }).thenNothingChanged();
  });

  test('the block timer records the blocks it counted as one run after the height it read, unless another producer did', () => {
    const s = consensus().given(ev('BlocksProduced', { from: 1, to: 9 }));
    s.when({ type: 'ProduceNextBlock', after: 9, to: 15 }).then(ev('BlocksProduced', { from: 10, to: 15 }));
    s.when({ type: 'ProduceNextBlock', after: 9, to: 20 }).thenNothingChanged();
    s.when({ type: 'ProduceNextBlock', after: 15, to: 16 }).then(ev('BlockProduced', { height: 16 }));
    s.when({ type: 'ProduceNextBlock', after: 16, to: 16 }).thenThrows('INVALID_ARGUMENT', /^to: expected a height from 17/);
  });

  test(`a call asks for 1 to ${MAX_BLOCKS_PER_CALL} blocks`, () => {
    consensus()
      .when(produce(0))
      .thenThrows('INVALID_ARGUMENT', /^count: expected 1 to 1000000 blocks, got 0/);
    consensus()
      .when(produce(MAX_BLOCKS_PER_CALL + 1))
      .thenThrows('INVALID_ARGUMENT', /^count: /);
  });

  test('runs are cut at the end of each known round, and rounds that ended undecided are what a run waits for', () => {
    const s = consensus().given(ev('BlocksProduced', { from: 1, to: 4 }), started('r1', 4, 14), started('r2', 4, 9), started('r3', 2, 3));
    assert.equal(nextCut(s.state, 4, 100), 9, 'the first round end after the height');
    assert.equal(nextCut(s.state, 9, 100), 14);
    assert.equal(nextCut(s.state, 14, 100), 100, 'no round ends after 14');
    assert.equal(nextCut(s.state, 4, 6), 6, 'the target when it comes first');
    // r3 ended at 3 and is not decided: a run would wait for it (r1 and r2 have not ended).
    assert.deepEqual(
      undecidedEnded(s.state, 4).map((r) => r.roundId),
      ['r3'],
    );
    s.given(
      ev('RoundUnresolved', {
        solution: 's1',
        roundId: 'r3',
        tally: { eligible: 1, submitted: 0, top: 0, outcome: 'UNRESOLVED_NO_QUORUM' },
        merkleRoot: '',
        attestors: [],
        dissenters: [],
        validators: [],
      }),
    );
    assert.deepEqual(undecidedEnded(s.state, 4), []);
    assert.deepEqual(
      undecidedEnded(s.state, 9).map((r) => r.roundId),
      ['r2'],
    );
  });
});
