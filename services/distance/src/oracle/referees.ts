/**
 * Who counts as a referee, and how a count of reached referees becomes a Perbill.
 * Shared by the fast and the naive evaluation so both apply the very same rule.
 */
import { issuedCount, receivedCount, type WotGraph } from './wot.js';

/** Duniter's Ğ1 value of the maximum referee distance. */
export const DEFAULT_MAX_DISTANCE = 5;

/** Parts per billion: the unit of every result. */
export const PERBILL_ONE = 1_000_000_000;

/**
 * The result when there is no referee to count (none in the graph, or the only one
 * is evaluating itself). Duniter's oracle computes `Perbill::from_rational(0, 0)`,
 * which Substrate defines as one (100 %): with no referee the distance rule has
 * nothing to demand. We keep that so our results match a Duniter evaluator's.
 */
export const NO_REFEREES_PERBILL = PERBILL_ONE;

/** The referees of a graph for one maximum distance. */
export interface Referees {
  /** R: certifications a member must have both received and issued to be a referee. */
  readonly threshold: number;
  /** Dense indices of the referees, ascending. */
  readonly indices: Int32Array;
  /** isReferee[index] is 1 for a referee. */
  readonly isReferee: Uint8Array;
}

/**
 * R = ⌈members^(1/maxDistance)⌉, computed exactly as the smallest integer R with
 * R^maxDistance ≥ members (a float root can land one off, e.g. 8000^(1/3)).
 * With 0 members that is R = 0, which is harmless: without members there are no
 * referees whatever R is.
 */
export function refereeThreshold(members: number, maxDistance: number): number {
  assertCount(members, 'members');
  assertMaxDistance(maxDistance);
  let r = Math.max(0, Math.floor(members ** (1 / maxDistance)) - 1);
  while (!powerReaches(r, maxDistance, members)) r++;
  return r;
}

/**
 * Referees: members that have received ≥ R and issued ≥ R certifications. Every
 * certification of the graph counts, whether its other end is a member or not;
 * that is what Duniter's oracle does and what gives R = 7 and 3,807 referees on
 * the Ğ1 export in shared/data/.
 */
export function referees(graph: WotGraph, maxDistance: number = DEFAULT_MAX_DISTANCE): Referees {
  const threshold = refereeThreshold(graph.memberCount, maxDistance);
  const isReferee = new Uint8Array(graph.size);
  let count = 0;
  for (let v = 0; v < graph.size; v++) {
    if (graph.member[v] === 1 && receivedCount(graph, v) >= threshold && issuedCount(graph, v) >= threshold) {
      isReferee[v] = 1;
      count++;
    }
  }
  const indices = new Int32Array(count);
  for (let v = 0, k = 0; v < graph.size; v++) if (isReferee[v] === 1) indices[k++] = v;
  return { threshold, indices, isReferee };
}

/**
 * floor(reached × 10^9 / total) in exact integer arithmetic; NO_REFEREES_PERBILL
 * when total is 0. The float quotient is only a first guess, corrected so that a
 * rounding of the division can never move a result across an integer.
 */
export function perbill(reached: number, total: number): number {
  if (total === 0) return NO_REFEREES_PERBILL;
  const scaled = reached * PERBILL_ONE;
  // Past 2^53 the product itself is inexact; no web of trust is that big, but stay exact.
  if (scaled > Number.MAX_SAFE_INTEGER) return Number((BigInt(reached) * BigInt(PERBILL_ONE)) / BigInt(total));
  let q = Math.floor(scaled / total);
  while (q * total > scaled) q--;
  while ((q + 1) * total <= scaled) q++;
  return q;
}

/** Throws unless maxDistance is a usable distance (a positive integer). */
export function assertMaxDistance(maxDistance: number): void {
  if (!Number.isSafeInteger(maxDistance) || maxDistance < 1) {
    throw new RangeError(`maxDistance must be a positive integer, got ${maxDistance}`);
  }
}

/** base^exponent ≥ target, without overflowing or looping long on base 0 or 1. */
function powerReaches(base: number, exponent: number, target: number): boolean {
  if (base <= 1) return base >= target; // 0^e = 0 and 1^e = 1 for e ≥ 1
  let p = 1;
  for (let i = 0; i < exponent; i++) {
    p *= base;
    if (p >= target) return true;
  }
  return false;
}

function assertCount(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}
