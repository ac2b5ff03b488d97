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
  let submitted = 0;
  for (const r of i.results) {
    counts.set(r, (counts.get(r) ?? 0) + 1);
    submitted++;
  }
  let top = 0;
  let topResult: string | undefined;
  let tied = false;
  for (const [r, n] of counts) {
    if (n > top) { top = n; topResult = r; tied = false; } else if (n === top) tied = true;
  }
  const base = { eligible: i.eligible, submitted, top };
  if (submitted === 0 || submitted * 100 < i.quorumPercent * i.eligible) return { ...base, outcome: 'UNRESOLVED', reason: 'NO_QUORUM' };
  if (top * 100 < i.voteThresholdPercent * submitted) return { ...base, outcome: 'UNRESOLVED', reason: 'NO_MAJORITY' };
  if (tied) return { ...base, outcome: 'UNRESOLVED', reason: 'TIE' };
  return { ...base, outcome: 'SETTLED', result: topResult! };
}

/** The canonical text of a tally, hashed into the result chain and signed in attestations. */
export const tallyText = (t: Tally): string =>
  `${t.outcome}|${t.result ?? ''}|${t.reason ?? ''}|E=${t.eligible}|S=${t.submitted}|top=${t.top}`;
