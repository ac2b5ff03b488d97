import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, evaluateNaive, NO_REFEREES_PERBILL, referees, type Strategy } from './distance.js';
import { seededRandom, wotOf } from './testing.js';
import type { WotGraph } from './wot.js';

const STRATEGIES: Strategy[] = ['auto', 'forward', 'reverse'];

/** Every strategy and the naive search agree; returns their common result. */
function evaluateEveryWay(graph: WotGraph, ids: readonly number[], maxDistance = 5): number[] {
  const naive = Array.from(evaluateNaive(graph, ids, { maxDistance }));
  for (const strategy of STRATEGIES) {
    assert.deepEqual(Array.from(evaluate(graph, ids, { maxDistance, strategy })), naive, `${strategy} vs naive`);
  }
  return naive;
}

const perbillOf = (graph: WotGraph, id: number, maxDistance = 5): number => evaluateEveryWay(graph, [id], maxDistance)[0];

/**
 * Referees 0, 1, 2 certify each other; a chain 0 → 3 → 4 → 5 → 6 → 7 → 8 of
 * non-members hangs off referee 0. Members: 0, 1, 2, so R = 2 and the referees
 * are exactly 0, 1, 2. Referee 0 is at distance k from chain node 2 + k, and
 * referees 1 and 2 one step further.
 */
const chain = wotOf(
  9,
  [
    [0, 1],
    [0, 2],
    [1, 0],
    [1, 2],
    [2, 0],
    [2, 1],
    [0, 3],
    [3, 4],
    [4, 5],
    [5, 6],
    [6, 7],
    [7, 8],
  ],
  [0, 1, 2],
);

test('a referee at distance exactly 5 counts, at 6 it does not', () => {
  assert.deepEqual(Array.from(referees(chain).indices), [0, 1, 2]);
  assert.equal(perbillOf(chain, 6), 1_000_000_000, 'node 6: 0 at 4, 1 and 2 at 5');
  assert.equal(perbillOf(chain, 7), 333_333_333, 'node 7: 0 at 5 counts, 1 and 2 at 6 do not');
  assert.equal(perbillOf(chain, 8), 0, 'node 8: 0 at 6');
  assert.equal(perbillOf(chain, 7, 6), 1_000_000_000, 'with max distance 6 all three count');
  // R depends on the distance too: at max distance 1, R = 3 and nobody qualifies.
  assert.equal(perbillOf(chain, 4, 1), NO_REFEREES_PERBILL);
});

test('a referee being evaluated leaves itself out of both counts', () => {
  // Members 0..4, R = 2. Referees 1, 2, 3 certify each other. Referee 0 certifies
  // 1 and 2 and is certified by referee 4 and non-member 5; referee 4 certifies 0
  // and 1 and is certified by non-members 5 and 6, whom nobody certifies.
  const graph = wotOf(
    7,
    [
      [1, 2],
      [1, 3],
      [2, 1],
      [2, 3],
      [3, 1],
      [3, 2],
      [0, 1],
      [0, 2],
      [4, 0],
      [4, 1],
      [5, 0],
      [5, 4],
      [6, 4],
    ],
    [0, 1, 2, 3, 4],
  );
  assert.deepEqual(Array.from(referees(graph).indices), [0, 1, 2, 3, 4]);
  assert.equal(perbillOf(graph, 0), 250_000_000, '0: reached by 4 of {1, 2, 3, 4} — not 2/5 with itself');
  assert.equal(perbillOf(graph, 4), 0, '4: reached by none of {0, 1, 2, 3} — not 1/5');
  assert.equal(perbillOf(graph, 1), 1_000_000_000, '1: reached by all of {0, 2, 3, 4}');
});

test('an identity nobody certifies gets 0', () => {
  // Referees 0, 1, 2; identity 3 (a non-member) and 4 (a member) have no certification.
  const graph = wotOf(
    5,
    [
      [0, 1],
      [0, 2],
      [1, 0],
      [1, 2],
      [2, 0],
      [2, 1],
      [3, 0],
      [4, 1],
    ],
    [0, 1, 2, 4],
  );
  assert.deepEqual(evaluateEveryWay(graph, [3, 4]), [0, 0]);
});

test('a member below the referee threshold is not counted', () => {
  // Members 0..3, R = 2. Referees 0, 1, 2 certify each other; 0 → 4 → 5 → 6 → 7 → 8
  // is a chain of non-members. Member 3 certifies 0 and 8 but is certified only by
  // non-member 9, whom nobody certifies: 1 received, not a referee.
  const graph = wotOf(
    10,
    [
      [0, 1],
      [0, 2],
      [1, 0],
      [1, 2],
      [2, 0],
      [2, 1],
      [0, 4],
      [4, 5],
      [5, 6],
      [6, 7],
      [7, 8],
      [9, 3],
      [3, 8],
      [3, 0],
    ],
    [0, 1, 2, 3],
  );
  assert.deepEqual(Array.from(referees(graph).indices), [0, 1, 2]);
  // 8: referee 0 at distance 5, 1 and 2 at 6; member 3 at distance 1 is no referee: 1/3, not 2/4.
  assert.equal(perbillOf(graph, 8), 333_333_333);
  assert.equal(perbillOf(graph, 3), 0);
});

test('with no referee to count, the result is NO_REFEREES_PERBILL (one, as in Duniter)', () => {
  const noCertifications = wotOf(3, []);
  assert.equal(referees(noCertifications).indices.length, 0);
  assert.deepEqual(evaluateEveryWay(noCertifications, [0, 1, 2]), [NO_REFEREES_PERBILL, NO_REFEREES_PERBILL, NO_REFEREES_PERBILL]);
  // One member, R = 1: member 0 (certified by 1, certifying 2) is the only referee.
  const lone = wotOf(
    3,
    [
      [1, 0],
      [0, 2],
    ],
    [0],
  );
  assert.deepEqual(Array.from(referees(lone).indices), [0]);
  assert.deepEqual(evaluateEveryWay(lone, [0, 1, 2]), [NO_REFEREES_PERBILL, 0, 1_000_000_000]);
  assert.deepEqual(evaluateEveryWay(wotOf(0, []), []), []);
});

test('results follow the requested order, repeats included; unknown ids throw', () => {
  const ids = [7, 6, 7, 8, 0];
  const once = evaluateEveryWay(chain, [6, 7, 8, 0]);
  assert.deepEqual(evaluateEveryWay(chain, ids), [once[1], once[0], once[1], once[2], once[3]]);
  assert.throws(() => evaluate(chain, [1, 99]), { name: 'RangeError', message: 'unknown identity id 99' });
  assert.throws(() => evaluateNaive(chain, [99]), RangeError);
  assert.throws(() => evaluate(chain, [1], { maxDistance: 0 }), RangeError);
});

test('fast strategies equal the naive search on random webs of trust', () => {
  const random = seededRandom(20240611);
  for (let round = 0; round < 40; round++) {
    // Up to 600 identities: enough for several 256-seed batches in both directions.
    const size = 1 + Math.floor(random() * (round < 30 ? 60 : 600));
    const density = random() * 6;
    const certifications = new Map<string, [number, number]>();
    for (let k = 0; k < size * density; k++) {
      const issuer = Math.floor(random() * size);
      const receiver = Math.floor(random() * size);
      if (issuer !== receiver) certifications.set(`${issuer}>${receiver}`, [issuer, receiver]);
    }
    const members = Array.from({ length: size }, (_, i) => i).filter(() => random() < 0.7);
    const graph = wotOf(size, [...certifications.values()], members);
    const maxDistance = 1 + Math.floor(random() * 6);
    evaluateEveryWay(graph, graph.ids, maxDistance);
  }
});
