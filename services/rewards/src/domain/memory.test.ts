import assert from 'node:assert/strict';
import { serialize } from 'node:v8';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { EventData, RecordedEvent } from '@ewx/platform';
import { fingerprint, spec } from '@ewx/platform/testing';
import { periodRows } from './closed.js';
import { CHUNK_ROWS } from './events.js';
import { evolveKeepingRows } from './evolve.js';
import { addr, ev, rounds, tokens } from './fixtures.js';
import { close, given, of, rewardsSpecDecider, type RewardsSpec } from './spec-support.js';
import { addMember, memberPeriods, type ClosedPeriod, type RewardsState } from './state.js';
import type { RewardsComputedEvent } from '@ewx/contracts';

/**
 * Bounded memory (docs/SCALING.md §4 item 3): a closed period's per-operator rows leave the state
 * once its decision is folded; read back from its decision events they are what the state held.
 */
const G = 'grp';
const [A, B, C, D] = [addr(1), addr(2), addr(3), addr(4)];

const keeping = (): RewardsSpec => spec({ ...rewardsSpecDecider, evolve: evolveKeepingRows });
/** The same events through both folds: the state's (rows leave) and the one keeping every row. */
const both = (...events: (EventData | readonly EventData[])[]): [RewardsSpec, RewardsSpec] => [given(...events), keeping().given(...events)];

const world = (): EventData[] => [
  ev.schedule(10),
  ev.group(G, { subscriptionRewardPerBlock: tokens(1), votingRewardPerBlock: tokens(2), slaVotingThreshold: 50 }, tokens(1_000_000)),
  ev.subscribed(G, A, tokens(1000), 0),
  ev.subscribed(G, B, tokens(3000), 0),
  ev.subscribed(G, C, tokens(500), 2),
  ev.unsubscribed(G, B, 0, 1),
  ...[0, 1, 2, 3].flatMap((p) =>
    rounds(G, p, [
      { op: A, eligible: 4, correct: 3 + (p % 2) },
      { op: B, eligible: 4, correct: 1 },
      { op: C, eligible: p >= 2 ? 4 : 0, correct: p >= 2 ? 4 : 0 },
      // D votes in period 3 only, without stake: a row of stake 0.
      { op: D, eligible: p === 3 ? 2 : 0, correct: p === 3 ? 2 : 0 },
    ]),
  ),
  ev.block(45),
];

/** The events of `c`'s decision in a spec's log, as a read of its stream would give them. */
const decisionOf = (s: RewardsSpec, c: ClosedPeriod): RecordedEvent[] =>
  s.log.filter((e) => e.streamId === c.stream && e.version >= c.fromVersion && e.version <= c.toVersion) as unknown as RecordedEvent[];

/** A closed period without its rows and pending payouts: what both folds keep alike. */
const summary = (c: ClosedPeriod): unknown => {
  const { rows: _rows, unanswered: _unanswered, ...rest } = c;
  return rest;
};

const decisions = (s: RewardsState): unknown => ({
  earned: s.earned,
  claimed: s.claimed,
  groups: [...s.groups.values()].map((g) => [g.unpaid, g.lastClosed, g.members]),
});

describe('bounded memory: closed periods leave the decision state', () => {
  test('given four closed periods, then no rows stay in the state, and each period folded back from its decision events equals the rows the keeping fold holds', () => {
    const [now, kept] = both(world());
    for (let p = 0; p < 4; p++) {
      close(now, G, p);
      close(kept, G, p);
    }
    const g = now.state.groups.get(G)!;
    const k = kept.state.groups.get(G)!;
    assert.equal(g.closed.size, 4);
    for (const [p, c] of g.closed) {
      const held = k.closed.get(p)!;
      assert.equal(c.rows, undefined, `period ${p}: rows left the state`);
      assert.ok(held.rows && held.rows.size > 0);
      assert.equal(fingerprint(summary(c)), fingerprint(summary(held)));
      assert.equal(c.stream, `group:${G}`);
      assert.equal(fingerprint(periodRows(G, c, decisionOf(now, c))), fingerprint(held.rows));
      // The unanswered chunks' payouts are what a refusal takes back: the rows that were paid.
      const paid = [...held.rows].filter(([, r]) => r.base + r.active > 0n).map(([op, r]) => [op, r.base + r.active]);
      assert.equal(fingerprint([...(c.unanswered?.values() ?? [])].flat()), fingerprint(paid));
    }
    assert.equal(fingerprint(decisions(now.state)), fingerprint(decisions(kept.state)));
    // Every decision after is the same: the next close decides the same events on both.
    now.given(ev.block(55));
    kept.given(ev.block(55));
    assert.equal(fingerprint(close(now, G, 4)), fingerprint(close(kept, G, 4)));
    // Who is in which period: A in all, B while it has stake or rounds (0-3), C from 2, D in 3.
    assert.deepEqual(memberPeriods(g.members.get(A), 50), [4, 3, 2, 1, 0]);
    assert.deepEqual(memberPeriods(g.members.get(B), 50), [3, 2, 1, 0], 'stake 0 from period 2 on, but eligible in rounds: a row');
    assert.deepEqual(memberPeriods(g.members.get(C), 50), [4, 3, 2]);
    assert.deepEqual(memberPeriods(g.members.get(D), 50), [3]);
    assert.deepEqual(g.members.get(A), [0, 4], 'one run');
    for (const [op, runs] of g.members) {
      const inRows = [...k.closed.values()].filter((c) => c.rows!.has(op)).map((c) => c.period);
      assert.deepEqual(
        memberPeriods(runs, 50),
        inRows.sort((x, y) => y - x),
        `${op}: the periods whose rows have it`,
      );
    }
  });

  test('given a decision of 4,000 operators in three payout chunks, a refused chunk takes back exactly its RewardsComputed payouts, a credited one nothing, and once every chunk is answered nothing of it is kept', () => {
    const ops = Array.from({ length: 4000 }, (_, i) => addr(100 + i));
    const events = [
      ev.schedule(10),
      ev.group(G, { subscriptionRewardPerBlock: tokens(1), votingRewardPerBlock: '0', slaVotingThreshold: 0 }, tokens(1_000_000)),
      ...ops.map((op, i) => ev.subscribed(G, op, (1000n + BigInt(i)).toString(), 0)),
      ev.block(10),
    ];
    const [now, kept] = both(events);
    close(now, G, 0);
    close(kept, G, 0);
    const computed = of<RewardsComputedEvent>(now, 'RewardsComputed');
    assert.equal(computed.length, Math.ceil(4000 / CHUNK_ROWS));
    const c = now.state.groups.get(G)!.closed.get(0)!;
    assert.deepEqual([...c.unanswered!.keys()], [0, 1, 2]);
    const answers: EventData[] = [
      { type: 'RewardsCredited', data: { group: G, rewardPeriod: 0, chunk: 0, total: computed[0]!.subtotal, payouts: [] } },
      { type: 'RewardsCreditRefused', data: { group: G, rewardPeriod: 0, chunk: 1, subtotal: computed[1]!.subtotal, budget: '0', reason: 'test' } },
    ];
    now.given(...answers);
    kept.given(...answers);
    assert.deepEqual([...c.unanswered!.keys()], [2]);
    const refused = new Set(computed[1]!.payouts.map((p) => p.operator));
    for (const chunk of computed) {
      for (const p of chunk.payouts) {
        assert.equal(now.state.earned.get(p.operator)!.get(G), refused.has(p.operator) ? 0n : BigInt(p.amount), p.operator);
      }
    }
    assert.equal(fingerprint(decisions(now.state)), fingerprint(decisions(kept.state)));
    now.given({ type: 'RewardsCredited', data: { group: G, rewardPeriod: 0, chunk: 2, total: computed[2]!.subtotal, payouts: [] } });
    assert.equal(c.unanswered, undefined, 'every chunk answered: no payouts kept');
    assert.deepEqual([c.credited, c.refused], [2, 1]);
  });

  test('the state grows by a summary per closed period, not by its operators: 300 operators × 12 periods', () => {
    const ops = Array.from({ length: 300 }, (_, i) => addr(100 + i));
    const events = [
      ev.schedule(10),
      ev.group(G, { subscriptionRewardPerBlock: tokens(1), votingRewardPerBlock: tokens(1), slaVotingThreshold: 50 }, tokens(1_000_000_000)),
      ...ops.map((op, i) => ev.subscribed(G, op, (1000n + BigInt(i)).toString(), 0)),
      ...Array.from({ length: 12 }, (_, p) => ev.round(G, p, `r${p}`, ops, ops.slice(0, 200))),
      ev.block(130),
    ];
    const [now, kept] = both(events);
    const sizes: number[] = [];
    const keptSizes: number[] = [];
    for (let p = 0; p < 12; p++) {
      close(now, G, p);
      close(kept, G, p);
      // The registry answers each chunk (as it does: once per chunk).
      const answer: EventData = { type: 'RewardsCredited', data: { group: G, rewardPeriod: p, chunk: 0, total: '0', payouts: [] } };
      now.given(answer);
      kept.given(answer);
      sizes.push(serialize(now.state).length);
      keptSizes.push(serialize(kept.state).length);
    }
    const perPeriod = (sizes[11]! - sizes[1]!) / 10;
    const keptPerPeriod = (keptSizes[11]! - keptSizes[1]!) / 10;
    assert.ok(perPeriod < 600, `${perPeriod} bytes serialised per closed period`);
    assert.ok(keptPerPeriod > 300 * 40, `${keptPerPeriod} bytes per closed period when the rows stay`);
  });

  test('property: the runs of an operator list exactly the periods added, in any order, newest first, merged', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 80 }), fc.integer({ min: 1, max: 70 }), (periods, limit) => {
        const runs: number[] = [];
        for (const p of periods) addMember(runs, p);
        const expected = [...new Set(periods)].sort((a, b) => b - a);
        assert.deepEqual(memberPeriods(runs, 1000), expected);
        assert.deepEqual(memberPeriods(runs, limit), expected.slice(0, limit));
        assert.deepEqual(
          memberPeriods(runs, limit, (p) => p % 2 === 0),
          expected.filter((p) => p % 2 === 0).slice(0, limit),
        );
        // Sorted, disjoint and not adjacent: a run per stretch of consecutive periods.
        for (let i = 0; i + 1 < runs.length; i += 2) {
          assert.ok(runs[i]! <= runs[i + 1]!);
          if (i + 2 < runs.length) assert.ok(runs[i + 1]! + 1 < runs[i + 2]!);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('a period read back from a wrong slice of the stream is refused, not misread', () => {
    const [now] = both(world());
    close(now, G, 0);
    close(now, G, 1);
    const c0 = now.state.groups.get(G)!.closed.get(0)!;
    const c1 = now.state.groups.get(G)!.closed.get(1)!;
    assert.throws(() => periodRows(G, c0, decisionOf(now, c0).slice(1)), /expected \d+ decision events/);
    const shifted = decisionOf(now, c1).map((e, i) => ({ ...e, version: c0.fromVersion + i }));
    assert.throws(() => periodRows(G, c0, shifted), /belongs to group grp period 1/);
  });
});
