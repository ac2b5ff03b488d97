import { lastBlockOf } from './periods.js';
import { DEFAULT_PERIOD_BLOCKS, type DistanceState, type LastOutcome } from './state.js';

export type Status = 'NON_EXISTENT' | 'PENDING' | 'VALID';

export interface IdentityStatusView {
  readonly identity: number;
  /** PENDING while a request is in flight or pooled, even when an earlier result is still valid. */
  readonly status: Status;
  readonly inWot: boolean;
  readonly valid: boolean;
  readonly validUntilPeriod?: number;
  readonly validUntilHeight?: number;
  readonly pendingEvaluationPeriod?: number;
  readonly pendingHoldId?: string;
  readonly lastMedian?: number;
  /** The last settled evaluation: VALID, INVALID (the price was slashed) or NOT_EVALUATED (released). */
  readonly lastOutcome?: LastOutcome;
}

export function identityStatus(s: DistanceState, identity: number): IdentityStatusView {
  const until = s.validUntil.get(identity);
  const holdId = s.pendingByIdentity.get(identity);
  const r = holdId === undefined ? undefined : s.requests.get(holdId);
  const status: Status = holdId !== undefined ? 'PENDING' : until !== undefined ? 'VALID' : 'NON_EXISTENT';
  return {
    identity,
    status,
    inWot: s.wot.has(identity),
    valid: until !== undefined,
    ...(until === undefined ? {} : { validUntilPeriod: until, validUntilHeight: lastBlockOf(until, s.periodBlocks ?? DEFAULT_PERIOD_BLOCKS) }),
    ...(holdId === undefined ? {} : { pendingHoldId: holdId }),
    ...(r?.evaluationPeriod === undefined ? {} : { pendingEvaluationPeriod: r.evaluationPeriod }),
    ...(s.lastMedian.has(identity) ? { lastMedian: s.lastMedian.get(identity)! } : {}),
    ...(s.lastOutcome.has(identity) ? { lastOutcome: s.lastOutcome.get(identity)! } : {}),
  };
}
