import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { EventData } from '@ewx/platform';
import { nextDeadline } from './deadlines.js';
import { currentPeriod } from './state.js';
import { EVALUATORS, fullWot } from './testing.js';
import { blocksTo, distance, type DistanceSpec, requestAndHold } from './spec-support.js';

const L = 10;
const END = 120;
const run = (from: number, to: number): EventData => ({ type: 'BlocksProduced', data: { from, to } });

interface Story {
  /** Evaluation periods in which identities are requested (two each). */
  readonly requests: readonly number[];
  /** Whether an evaluator publishes for each pool once it is current (0: the pool settles NOT_EVALUATED). */
  readonly evaluators: number;
  readonly validityPeriods: number;
}

/** Settling until nothing is due, as the reaction does after a block event. */
const settleAll = (s: DistanceSpec): EventData[] => {
  const out: EventData[] = [];
  for (let e = s.run({ type: 'SettleDuePeriod' }); e.length > 0; e = s.run({ type: 'SettleDuePeriod' })) out.push(...e);
  return out;
};

/** What happens at a height once it is recorded: requests made in their periods, evaluators publishing once their pool is current. */
function act(s: DistanceSpec, story: Story, done: Set<string>, id: { next: number }): void {
  const p = currentPeriod(s.state);
  if (story.requests.includes(p) && !done.has(`req${p}`)) {
    done.add(`req${p}`);
    requestAndHold(s, id.next++);
    requestAndHold(s, id.next++);
  }
  const pool = s.state.pools.get(p);
  if (pool && pool.entries.length > 0 && story.evaluators > 0 && !done.has(`pub${p}`)) {
    done.add(`pub${p}`);
    s.run({ type: 'PublishResult', evaluator: EVALUATORS[0]!, period: p, values: pool.entries.map((_, k) => (k % 2 === 0 ? 900_000_000 : 100_000_000)) });
  }
}

/** Distance's own decisions with where they were recorded (the height), not the snapshot's log position. */
const decisions = (events: readonly EventData[]): string[] =>
  events
    .filter(
      (e) => !(e.type === 'PoolSettled' && (e.data as { entries: number; expired: number }).entries === 0 && (e.data as { expired: number }).expired === 0),
    )
    .map((e) => {
      const { snapshotPosition: _p, ...data } = e.data as { snapshotPosition?: string };
      return JSON.stringify([e.type, data]);
    });

function blockByBlock(story: Story): { settled: EventData[]; current: Set<number> } {
  const s = distance({ periodBlocks: L, validityPeriods: story.validityPeriods }).given(...fullWot(12));
  const done = new Set<string>();
  const id = { next: 1 };
  const settled: EventData[] = [];
  const current = new Set<number>();
  act(s, story, done, id);
  while (s.state.height < END) {
    settled.push(...blocksTo(s, s.state.height + 1));
    current.add(currentPeriod(s.state));
    act(s, story, done, id);
  }
  return { settled, current };
}

/** Blocks in runs cut only at `nextDeadline` (as the deadline watch asks consensus), else one run to the end. */
function atDeadlines(story: Story): { settled: EventData[]; current: Set<number>; runs: number } {
  const s = distance({ periodBlocks: L, validityPeriods: story.validityPeriods }).given(...fullWot(12));
  const done = new Set<string>();
  const id = { next: 1 };
  const settled: EventData[] = [];
  const current = new Set<number>();
  let runs = 0;
  act(s, story, done, id);
  while (s.state.height < END) {
    const d = nextDeadline(s.state);
    assert.ok(d === undefined || d > s.state.height, `a deadline above the height ${s.state.height}: ${d}`);
    // Requests are commands (their period is synced to the wall clock): a run stops where the story makes one.
    const req = Math.min(...story.requests.map((p) => p * L + 1).filter((h) => h > s.state.height));
    const to = Math.min(d ?? END, req, END);
    s.given(run(s.state.height + 1, to));
    runs++;
    settled.push(...settleAll(s));
    current.add(currentPeriod(s.state));
    act(s, story, done, id);
  }
  return { settled, current, runs };
}

describe("distance's next deadline: evaluation periods that begin with a pool, and end with something to settle", () => {
  test('two requests in period 0, one evaluator, validity of 2 periods: runs cut at 11 (pool 1 begins), 21 (pool 1 settles), 41 (validity expires); nothing after', () => {
    const s = distance({ periodBlocks: L, validityPeriods: 2 }).given(...fullWot(12));
    assert.equal(nextDeadline(s.state), 11, 'before any run, each period is settled at its end');
    requestAndHold(s, 1);
    requestAndHold(s, 2);
    assert.equal(nextDeadline(s.state), 11, 'pool 1 begins');
    s.given(run(1, 11));
    s.run({ type: 'PublishResult', evaluator: EVALUATORS[0]!, period: 1, values: [900_000_000, 100_000_000] });
    assert.equal(nextDeadline(s.state), 21, 'pool 1 settles when period 2 begins');
    s.given(run(12, 21));
    assert.ok(settleAll(s).some((e) => e.type === 'EvaluationSettled'));
    // Identity 1 valid for periods 2 and 3: it expires when period 3 is settled, at period 4's first block.
    assert.equal(nextDeadline(s.state), 41);
    s.given(run(22, 41));
    assert.deepEqual(
      settleAll(s).map((e) => e.type),
      ['ValidityExpired', 'PoolSettled'],
    );
    assert.equal(nextDeadline(s.state), undefined, 'idle: no deadline');
  });

  test('a hold being placed (requested, not confirmed) waits for its pool: the next period begins, then ends', () => {
    const s = distance({ periodBlocks: L }).given(...fullWot(12));
    s.given(run(1, 15));
    s.run({ type: 'RequestEvaluation', requester: EVALUATORS[2]!, identity: 3 });
    assert.equal(nextDeadline(s.state), 21);
  });

  test('property: blocks in runs cut at the deadlines settle the same pools at the same heights as block by block, and every pool is current for its evaluators', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 9 }), { maxLength: 3 }),
        fc.integer({ min: 0, max: 1 }),
        fc.integer({ min: 1, max: 3 }),
        (requests, evaluators, validityPeriods) => {
          const story = { requests, evaluators, validityPeriods };
          const one = blockByBlock(story);
          const cut = atDeadlines(story);
          assert.deepEqual(decisions(cut.settled), decisions(one.settled));
          for (const p of requests) assert.ok(cut.current.has(p + 1), `pool ${p + 1} was current`);
          // Idle stretches cost no run: a few per request, not one per period.
          assert.ok(cut.runs <= 2 + 5 * requests.length, `${cut.runs} runs`);
        },
      ),
      { numRuns: 100 },
    );
  });
});
