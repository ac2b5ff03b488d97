import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { periodsDue } from './decide.js';
import { nextDeadline } from './deadlines.js';
import { ev, tokens } from './fixtures.js';
import { given, type RewardsSpec } from './spec-support.js';

const cfg = { subscriptionRewardPerBlock: tokens(1), votingRewardPerBlock: tokens(1), operationEndBlock: 10_000 };

/** What app/periods.ts does after a block: mark the periods started, close each group's due periods in order; the closes made. */
function react(s: RewardsSpec, delay: number): number {
  s.run({ type: 'MarkPeriodsStarted' });
  let closes = 0;
  for (const group of s.state.groups.keys())
    for (const p of periodsDue(s.state, group, delay)) {
      s.run({ type: 'ClosePeriod', group, period: p, settlementDelay: delay });
      closes++;
    }
  return closes;
}

describe("rewards' next deadline: the next height at which a reward period falls due for closing", () => {
  test('given periods of 10 blocks and a delay of 2: period 0 closes at 12, then each period 10 blocks later; none without a calendar or a group', () => {
    assert.equal(nextDeadline(given().state, 2), undefined, 'no calendar');
    assert.equal(nextDeadline(given(ev.schedule(10)).state, 2), undefined, 'no group: nothing closes');
    const s = given(ev.schedule(10), ev.group('g', cfg, tokens(100)));
    assert.equal(nextDeadline(s.state, 2), 12);
    s.given(ev.block(11));
    assert.equal(nextDeadline(s.state, 2), 12);
    // At 12 period 0 is due: until the reaction closes it, the next deadline is already period 1's.
    s.given(ev.block(12));
    assert.equal(nextDeadline(s.state, 2), 22);
    assert.equal(react(s, 2), 1);
    assert.equal(nextDeadline(s.state, 2), 22);
    // A run far past several closes: the next one above the height.
    s.given({ type: 'BlocksProduced', data: { from: 13, to: 57 } });
    assert.equal(nextDeadline(s.state, 2), 62);
    // A removed group closes nothing more.
    s.given({ type: 'GroupStatusChanged', data: { group: 'g', status: 'REMOVED' } });
    assert.equal(s.state.groups.get('g')!.status, 'REMOVED');
    assert.equal(nextDeadline(s.state, 2), undefined);
  });

  test('a delay of 0 closes at the last block; a new length applies from the next period', () => {
    const s = given(ev.schedule(10), ev.group('g', cfg, tokens(100)), ev.block(3));
    assert.equal(nextDeadline(s.state, 0), 10);
    // Periods of 5 blocks from period 1 (block 11): period 1 ends at 15, period 2 at 20.
    s.given(ev.schedule(5, 1, 11), ev.block(10));
    react(s, 0);
    assert.equal(nextDeadline(s.state, 0), 15);
    s.given(ev.block(15));
    react(s, 0);
    assert.equal(nextDeadline(s.state, 0), 20);
  });

  test('property: block by block, the deadline read at each height is the next height at which the reaction closes a period (length, delay, a second group registered later)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1, max: 60 }), (length, delay, second) => {
        const s = given(ev.schedule(length), ev.group('a', cfg, tokens(100)));
        const deadlines: (number | undefined)[] = [];
        const closedAt: number[] = [];
        const N = 80;
        for (let h = 1; h <= N; h++) {
          if (h === second) s.given(ev.group('b', cfg, tokens(100), h));
          deadlines[h - 1] = nextDeadline(s.state, delay);
          s.given(ev.block(h));
          if (react(s, delay) > 0) closedAt.push(h);
        }
        // A deadline read at height h − 1 (before block h): the first close after h − 1.
        for (let h = 1; h <= N; h++) {
          const first = closedAt.find((c) => c > h - 1);
          if (first !== undefined) assert.equal(deadlines[h - 1], first, `read at height ${h - 1}`);
          else assert.ok(deadlines[h - 1] === undefined || deadlines[h - 1]! > N);
        }
      }),
      { numRuns: 200 },
    );
  });
});
