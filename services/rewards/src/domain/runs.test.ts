import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { EventData } from '@ewx/platform';
import { fingerprint } from '@ewx/platform/testing';
import { periodsDue } from './decide.js';
import { addr, ev, rounds, tokens } from './fixtures.js';
import { given, type RewardsSpec } from './spec-support.js';

const A = addr(1);
const B = addr(2);
const C = addr(3);
const G = 'grp';
const OWN = new Set(['RewardPeriodStarted', 'RewardInputsRecorded', 'RewardsDecided', 'BudgetExhausted', 'RewardsComputed']);
const run = (from: number, to: number): EventData => ({ type: 'BlocksProduced', data: { from, to } });

/** What app/periods.ts does after a block event: mark the periods started, close each due period in order. */
function react(s: RewardsSpec, delay: number): void {
  s.run({ type: 'MarkPeriodsStarted' });
  for (const p of periodsDue(s.state, G, delay)) s.run({ type: 'ClosePeriod', group: G, period: p, settlementDelay: delay });
}

/** A group with three operators and settled rounds in periods 0..2 (recorded before the blocks, as consensus orders them). */
const world = (length: number): RewardsSpec =>
  given(
    ev.schedule(length),
    ev.group(
      G,
      { subscriptionRewardPerBlock: tokens(1), votingRewardPerBlock: tokens(2), slaVotingThreshold: 50, operationEndBlock: 10_000 },
      tokens(1_000_000),
    ),
    ev.subscribed(G, A, tokens(1000), 0),
    ev.subscribed(G, B, tokens(3000), 0),
    ev.subscribed(G, C, tokens(500), 1),
    ev.unsubscribed(G, B, 1, 2),
    ...[0, 1, 2].flatMap((p) =>
      rounds(G, p, [
        { op: A, eligible: 10, correct: 9 + (p % 2) },
        { op: B, eligible: 10, correct: 4 + p },
        { op: C, eligible: 10, correct: 10 },
      ]),
    ),
  );

/** Rewards' own events per stream, in order (the calendar's and the group's streams are independent of each other). */
const decisions = (s: RewardsSpec): Record<string, string[]> => {
  const out: Record<string, string[]> = {};
  for (const e of s.log) {
    if (!OWN.has(e.type)) continue;
    out[e.streamId] = [...(out[e.streamId] ?? []), JSON.stringify([e.type, e.data])];
  }
  return out;
};

describe('blocks as runs: the same reward decisions as block by block', () => {
  test('given three periods of 10 blocks and a delay of 2, when the 35 blocks come as one BlocksProduced, then the decisions and the state equal those of 35 BlockProduced', () => {
    const one = world(10);
    for (let h = 1; h <= 35; h++) {
      one.given(ev.block(h));
      react(one, 2);
    }
    const runs = world(10).given(run(1, 35));
    react(runs, 2);
    assert.deepEqual(decisions(runs), decisions(one));
    assert.equal(fingerprint(runs.state), fingerprint(one.state));
    // Three periods closed (0, 1 and 2; period 3 ends at 40), four started.
    assert.deepEqual([runs.state.groups.get(G)!.lastClosed, runs.state.lastStartedPeriod], [2, 3]);
  });

  test('property: any cut of the blocks into runs gives the decisions and state of block by block (period length, delay, cuts)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 5 }),
        fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 8 }),
        (length, delay, sizes) => {
          const one = world(length);
          const runs = world(length);
          let h = 0;
          for (const n of sizes) {
            runs.given(n === 1 ? ev.block(h + 1) : run(h + 1, h + n));
            react(runs, delay);
            for (let k = 1; k <= n; k++) {
              one.given(ev.block(h + k));
              react(one, delay);
            }
            h += n;
          }
          assert.deepEqual(decisions(runs), decisions(one));
          assert.equal(fingerprint(runs.state), fingerprint(one.state));
        },
      ),
      { numRuns: 60 },
    );
  });
});
