import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EventData } from '@ewx/platform';
import { fingerprint } from '@ewx/platform/testing';
import { dueRounds, type VoteCommand } from './votes.js';
import { given, start, type VotingSpec } from './spec-support.js';
import { REGISTRAR, block, world, worker } from './testing.js';

const run = (from: number, to: number): EventData => ({ type: 'BlocksProduced', data: { from, to } });
let n = 0n;
const v = (roundId: string, w: number, result: string): VoteCommand => ({ solution: 's1', roundId, worker: worker(w), result, nonce: ++n });
const registrar = { kind: 'account', address: REGISTRAR } as const;

/** What app/reactions.ts does after a block event: close every due round. */
const react = (s: VotingSpec): void => {
  for (const r of dueRounds(s.state)) s.run({ type: 'CloseRound', ...r });
};

/** Round r1 started at block 1 (ends at 11), r2 at block 5 (ends at 15), both with votes; then `blocks` take the height from 5 to 30. */
function story(blocks: (s: VotingSpec) => void): VotingSpec {
  const s = given(...world({ maxWaitingThreshold: 10 }, 5), block(1)).after(start('s1', 'r1', registrar));
  s.after({ type: 'Votes', votes: [v('r1', 1, 'aa'), v('r1', 2, 'aa'), v('r1', 3, 'bb')] });
  for (let h = 2; h <= 5; h++) {
    s.given(block(h));
    react(s);
  }
  s.after(start('s1', 'r2', registrar), { type: 'Votes', votes: [v('r2', 4, 'cc')] });
  blocks(s);
  return s;
}
const closes = (s: VotingSpec): string[] => s.log.filter((e) => e.type === 'RoundClosed').map((e) => JSON.stringify(e.data));

describe('blocks as runs: rounds close as block by block when runs are cut at round ends', () => {
  test('given rounds ending at 11 and 15, when blocks 6..30 come as runs cut at 11 and 15 (as consensus cuts them), then the closes (with their heights) and the state equal those of one block at a time', () => {
    const one = story((s) => {
      for (let h = 6; h <= 30; h++) {
        s.given(block(h));
        react(s);
      }
    });
    const runs = story((s) => {
      for (const [a, b] of [
        [6, 11],
        [12, 15],
        [16, 30],
      ] as const) {
        s.given(run(a, b));
        react(s);
      }
    });
    assert.equal(closes(one).length, 2);
    assert.deepEqual(closes(runs), closes(one));
    assert.deepEqual(
      closes(runs).map((c) => (JSON.parse(c) as { height: number }).height),
      [11, 15],
    );
    assert.equal(fingerprint(runs.state), fingerprint(one.state));
  });

  test('an uncut run past a round end closes it at the run end: the reason consensus cuts runs at round ends', () => {
    const uncut = story((s) => {
      s.given(run(6, 30));
      react(s);
    });
    assert.deepEqual(
      closes(uncut).map((c) => (JSON.parse(c) as { height: number }).height),
      [30, 30],
    );
  });
});
