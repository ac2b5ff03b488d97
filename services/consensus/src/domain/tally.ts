import type { Tally } from '@ewx/platform/domain';

export interface TallyInput {
  /** E: the size of the round's eligibility snapshot. */
  readonly eligible: number;
  /** The recorded results (hex), one per voting worker. */
  readonly results: Iterable<string>;
  readonly quorumPercent: number;
  readonly voteThresholdPercent: number;
}

/**
 * SPEC §5 in integers. Quorum: S × 100 ≥ quorum% × E and S > 0. Majority: top × 100 ≥ threshold% × S.
 * Two different results tied for top: unresolved (TIE), checked after the majority rule.
 */
export function tally(i: TallyInput): Tally {
  const counts = new Map<string, number>();
  for (const r of i.results) counts.set(r, (counts.get(r) ?? 0) + 1);
  return tallyCounts({ ...i, counts });
}

/**
 * The same rule from the count of each result (a Map in first-vote order, as `tally` builds it),
 * so a validator that counted the votes as they were recorded (`voteCounts`) only looks at the
 * distinct results when settling.
 */
export function tallyCounts(i: Omit<TallyInput, 'results'> & { readonly counts: ReadonlyMap<string, number> }): Tally {
  const counts = i.counts;
  let submitted = 0;
  for (const n of counts.values()) submitted += n;
  let top = 0;
  let topResult: string | undefined;
  let tied = false;
  for (const [r, n] of counts) {
    if (n > top) {
      top = n;
      topResult = r;
      tied = false;
    } else if (n === top) tied = true;
  }
  const base = { eligible: i.eligible, submitted, top };
  if (submitted === 0 || submitted * 100 < i.quorumPercent * i.eligible) return { ...base, outcome: 'UNRESOLVED', reason: 'NO_QUORUM' };
  if (top * 100 < i.voteThresholdPercent * submitted) return { ...base, outcome: 'UNRESOLVED', reason: 'NO_MAJORITY' };
  if (tied) return { ...base, outcome: 'UNRESOLVED', reason: 'TIE' };
  return { ...base, outcome: 'SETTLED', result: topResult! };
}

/** The canonical text of a tally, hashed into the result chain and signed in attestations. */
export const tallyText = (t: Tally): string => `${t.outcome}|${t.result ?? ''}|${t.reason ?? ''}|E=${t.eligible}|S=${t.submitted}|top=${t.top}`;

/**
 * The count of each result of `votes` ([worker, result], append-only), kept per array and extended
 * by the votes appended since the last call (call it as votes are recorded). An array changed other
 * than by appending is counted again from scratch. A cache only: `tallyCounts(voteCounts(v))` equals
 * `tally` over the results of v.
 */
interface Counted {
  count: number;
  last: unknown;
  readonly counts: Map<string, number>;
}
const counted = new WeakMap<readonly (readonly [string, string])[], Counted>();

/** The counts of `from` (counted up to its end) kept for `to`, the same votes in another order (counts do not depend on it). */
export function carryVoteCounts(from: readonly (readonly [string, string])[], to: readonly (readonly [string, string])[]): void {
  const c = counted.get(from);
  if (c && c.count === from.length && from.length === to.length) counted.set(to, { count: to.length, last: to[to.length - 1], counts: c.counts });
}

export function voteCounts(votes: readonly (readonly [string, string])[]): ReadonlyMap<string, number> {
  let c = counted.get(votes);
  if (!c || c.count > votes.length || (c.count > 0 && votes[c.count - 1] !== c.last)) {
    c = { count: 0, last: undefined, counts: new Map() };
    counted.set(votes, c);
  }
  const counts = c.counts;
  for (let i = c.count; i < votes.length; i++) {
    const r = votes[i]![1];
    counts.set(r, (counts.get(r) ?? 0) + 1);
  }
  c.count = votes.length;
  c.last = votes[votes.length - 1];
  return counts;
}
