/**
 * The reference evaluation: one plain breadth-first search per target, walking
 * certifications backwards (receiver → issuers) for maxDistance levels and counting
 * the referees met. Deliberately the obvious algorithm — it is the baseline the
 * benchmark compares against and the oracle the tests trust — so it shares only
 * the referee rule and the Perbill rounding with the fast version.
 */
import { assertMaxDistance, DEFAULT_MAX_DISTANCE, perbill, referees } from './referees.js';
import { indicesOf, type WotGraph } from './wot.js';

export function evaluateNaive(graph: WotGraph, targets: readonly number[], options: { readonly maxDistance?: number } = {}): Uint32Array {
  const maxDistance = options.maxDistance ?? DEFAULT_MAX_DISTANCE;
  assertMaxDistance(maxDistance);
  const refs = referees(graph, maxDistance);
  const refereeCount = refs.indices.length;
  const result = new Uint32Array(targets.length);
  indicesOf(graph, targets).forEach((target, i) => {
    const self = refs.isReferee[target];
    let reached = 0;
    for (const v of withinDistance(graph, target, maxDistance)) {
      if (v !== target && refs.isReferee[v] === 1) reached++;
    }
    result[i] = perbill(reached, refereeCount - self);
  });
  return result;
}

/** Every identity with a certification chain of length ≤ maxDistance to `target`, itself included. */
function withinDistance(graph: WotGraph, target: number, maxDistance: number): Set<number> {
  const seen = new Set<number>([target]);
  let frontier = [target];
  for (let depth = 0; depth < maxDistance && frontier.length > 0; depth++) {
    const next: number[] = [];
    for (const v of frontier) {
      for (let e = graph.inOffsets[v]; e < graph.inOffsets[v + 1]; e++) {
        const issuer = graph.inSources[e];
        if (!seen.has(issuer)) {
          seen.add(issuer);
          next.push(issuer);
        }
      }
    }
    frontier = next;
  }
  return seen;
}
