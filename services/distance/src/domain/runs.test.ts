import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EventData } from '@ewx/platform';
import { EVALUATORS, fullWot } from './testing.js';
import { blocksTo, distance, type DistanceSpec, requestAndHold } from './spec-support.js';

const run = (from: number, to: number): EventData => ({ type: 'BlocksProduced', data: { from, to } });

/** Identities 1 and 2 requested in period 0 (periods of 10 blocks), evaluated in period 1; identity 5 requested in period 1; then the height goes to 65 by `blocks`. */
function story(blocks: (s: DistanceSpec) => EventData[]): { s: DistanceSpec; settled: EventData[] } {
  const s = distance({ periodBlocks: 10, validityPeriods: 2 }).given(...fullWot(8));
  requestAndHold(s, 1);
  requestAndHold(s, 2);
  blocksTo(s, 11);
  requestAndHold(s, 5);
  EVALUATORS.slice(0, 2).forEach((evaluator, i) => {
    blocksTo(s, s.state.height + 1);
    s.run({ type: 'PublishResult', evaluator, period: 1, values: [900_000_000 - i, 100_000_000] });
  });
  return { s, settled: blocks(s) };
}

/** Settling runs until nothing is due, as the reaction does after a block event. */
const settleAll = (s: DistanceSpec): EventData[] => {
  const out: EventData[] = [];
  for (let e = s.run({ type: 'SettleDuePeriod' }); e.length > 0; e = s.run({ type: 'SettleDuePeriod' })) out.push(...e);
  return out;
};
/**
 * The decisions without where they were recorded: the height (a run settles at its last block) and
 * the log position of the period's web-of-trust snapshot (the run's, holding the same version).
 */
const decisions = (events: readonly EventData[]): string[] =>
  events.map((e) => {
    const { height: _h, snapshotPosition: _p, ...data } = e.data as { height?: number; snapshotPosition?: string };
    return JSON.stringify([e.type, data]);
  });

describe('blocks as runs: the same settlements as block by block, idle periods passed without events', () => {
  test('given pools of periods 1 and 2 and validity of 2 periods, when blocks 14..65 come as one BlocksProduced, then the same pools settle with the same outcomes and expiries, in the same order, and idle periods add no event', () => {
    const one = story((s) => blocksTo(s, 65));
    const runs = story((s) => {
      s.given(run(s.state.height + 1, 65));
      return settleAll(s);
    });
    assert.ok(one.settled.length >= 5, `settlements happened: ${one.settled.map((e) => e.type).join(', ')}`);
    // Block by block every period is settled, idle ones with an empty PoolSettled; a run passes those without an event.
    const idle = (e: EventData): boolean => {
      const d = e.data as { entries?: number; expired?: number; evaluators?: unknown[] };
      return e.type === 'PoolSettled' && d.entries === 0 && d.expired === 0 && d.evaluators?.length === 0;
    };
    assert.ok(one.settled.filter(idle).length >= 2, 'idle periods settled block by block');
    assert.deepEqual(runs.settled.filter(idle), []);
    assert.deepEqual(decisions(runs.settled), decisions(one.settled.filter((e) => !idle(e))));
    assert.equal(runs.s.state.settledThrough, one.s.state.settledThrough);
    assert.equal(runs.s.state.height, 65);
    // Every period that began inside the run began at its first block: the snapshot of the last one.
    assert.deepEqual([runs.s.state.snapshot.period, runs.s.state.snapshot.height], [one.s.state.snapshot.period, one.s.state.snapshot.height]);
    assert.deepEqual([...runs.s.state.pools.keys()], [...one.s.state.pools.keys()]);
  });
});

test('an idle stretch of 1,000 evaluation periods in one run adds no settlement; a request after it settles as usual', () => {
  const s = distance({ periodBlocks: 10 }).given(...fullWot(8));
  s.given(run(1, 10_000));
  assert.deepEqual(settleAll(s), []);
  assert.equal(s.state.settledThrough, 998, 'every period before the current one (999) passed');
  requestAndHold(s, 3); // in period 999: evaluated in period 1000
  s.given(run(10_001, 10_021)); // period 1001 begins: pool 1000 is due
  const settled = settleAll(s);
  assert.deepEqual(
    settled.map((e) => e.type),
    ['EvaluationSettled', 'PoolSettled'],
  );
  assert.deepEqual([(settled[1]!.data as { evaluationPeriod: number }).evaluationPeriod, s.state.settledThrough], [1000, 1001]);
});
