/**
 * Duniter's distance rule: the share of referees that reach an identity through at
 * most maxDistance certifications (issuer → receiver), as a Perbill rounded down.
 *
 * Two exact strategies, chosen per call by which needs fewer 256-bit batches:
 * - forward: the referees are the seeds; their bits travel along certifications
 *   and each target counts the bits it ends with. Cost ~ referees / 256 batches
 *   whatever the number of targets, so it wins for "evaluate everybody".
 * - reverse: the targets are the seeds; their bits travel against certifications
 *   and each referee a bit reaches adds one to that target. Cost ~ targets / 256
 *   batches, so it wins for a pool of 1,300 against 3,807 referees.
 * Both count the same pairs (referee, target) with a path of length ≤ maxDistance,
 * so they agree bit for bit (the tests check it).
 */
import { BATCH, createSpreader, seedCount, spreadBatch, tallySeeds } from './bitspread.js';
import { assertMaxDistance, DEFAULT_MAX_DISTANCE, perbill, referees, type Referees } from './referees.js';
import { indicesOf, type WotGraph } from './wot.js';

export {
  DEFAULT_MAX_DISTANCE,
  NO_REFEREES_PERBILL,
  PERBILL_ONE,
  perbill,
  referees,
  refereeThreshold,
  type Referees,
} from './referees.js';
export { evaluateNaive } from './naive.js';

export type Strategy = 'auto' | 'forward' | 'reverse';

export interface EvaluateOptions {
  /** Longest certification chain that counts; Ğ1 uses 5. */
  readonly maxDistance?: number;
  /** Force a strategy (tests and benchmarks); 'auto' picks the cheaper one. */
  readonly strategy?: Strategy;
}

/**
 * Perbill per target id, in the order given (an id may repeat). A referee being
 * evaluated leaves itself out of both counts. Throws RangeError on an unknown id.
 */
export function evaluate(graph: WotGraph, targets: readonly number[], options: EvaluateOptions = {}): Uint32Array {
  const maxDistance = options.maxDistance ?? DEFAULT_MAX_DISTANCE;
  assertMaxDistance(maxDistance);
  const requested = indicesOf(graph, targets);
  const refs = referees(graph, maxDistance);
  const { unique, slotOf } = dedupe(requested, graph.size);
  const strategy = options.strategy ?? 'auto';
  const reverse = strategy === 'reverse' || (strategy === 'auto' && pickStrategy(unique.length, refs.indices.length) === 'reverse');
  const reachedBy = reverse ? countReverse(graph, unique, refs, maxDistance) : countForward(graph, unique, refs, maxDistance);
  const result = new Uint32Array(requested.length);
  for (let i = 0; i < requested.length; i++) {
    result[i] = shareOfReferees(reachedBy[slotOf[requested[i]]], requested[i], refs);
  }
  return result;
}

/**
 * The cheaper exact strategy: both cost about one graph sweep per batch of 256
 * seeds, the seeds being the referees (forward) or the distinct targets (reverse).
 */
export function pickStrategy(distinctTargets: number, refereeCount: number): 'forward' | 'reverse' {
  return batches(distinctTargets) < batches(refereeCount) ? 'reverse' : 'forward';
}

/** Perbill for every identity of the graph, in graph (file) order. */
export function evaluateAll(graph: WotGraph, options: EvaluateOptions = {}): Uint32Array {
  return evaluate(graph, graph.ids, options);
}

/**
 * The rule's last step, given how many referees reach `target` (itself included
 * when it is a referee, as it reaches itself at distance 0).
 */
export function shareOfReferees(reached: number, target: number, refs: Referees): number {
  const self = refs.isReferee[target];
  return perbill(reached - self, refs.indices.length - self);
}

/** Referees reaching each target: referee bits pushed along certifications. */
function countForward(graph: WotGraph, targets: Int32Array, refs: Referees, maxDistance: number): Uint32Array {
  const sp = createSpreader({ offsets: graph.outOffsets, nodes: graph.outTargets }, { offsets: graph.inOffsets, nodes: graph.inSources });
  const counts = new Uint32Array(targets.length);
  for (let from = 0; from < refs.indices.length; from += BATCH) {
    const bits = spreadBatch(sp, refs.indices, from, maxDistance, targets);
    for (let i = 0; i < targets.length; i++) counts[i] += seedCount(bits, targets[i]);
  }
  return counts;
}

/** Referees reaching each target: target bits pulled back against certifications. */
function countReverse(graph: WotGraph, targets: Int32Array, refs: Referees, maxDistance: number): Uint32Array {
  const sp = createSpreader({ offsets: graph.inOffsets, nodes: graph.inSources }, { offsets: graph.outOffsets, nodes: graph.outTargets });
  // Sized to whole batches so a tally never needs a bounds check.
  const counts = new Uint32Array(batches(targets.length) * BATCH);
  for (let from = 0; from < targets.length; from += BATCH) {
    const bits = spreadBatch(sp, targets, from, maxDistance, refs.indices);
    for (const r of refs.indices) tallySeeds(bits, r, counts, from);
  }
  return counts.subarray(0, targets.length);
}

/** Distinct targets (first-seen order) and, per graph index, its slot among them. */
function dedupe(requested: Int32Array, size: number): { unique: Int32Array; slotOf: Int32Array } {
  const slotOf = new Int32Array(size).fill(-1);
  let count = 0;
  for (const v of requested) if (slotOf[v] === -1) slotOf[v] = count++;
  const unique = new Int32Array(count);
  for (const v of requested) unique[slotOf[v]] = v;
  return { unique, slotOf };
}

function batches(seeds: number): number {
  return Math.ceil(seeds / BATCH);
}
