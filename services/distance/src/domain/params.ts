import { PERBILL, TOKEN } from '@ewx/platform/domain';

/** The rules' parameters (Ğ1 production values by default); fixed per process from configuration. */
export interface DistanceParams {
  /** Blocks per evaluation period (Ğ1: 40). Recorded in the log at first start; cannot change after. */
  readonly periodBlocks: number;
  /** Base units held per request (Ğ1: 10 tokens). */
  readonly price: bigint;
  /** A median at or above this Perbill is valid (Ğ1: 80 %). */
  readonly minPerbill: number;
  readonly maxDistance: number;
  /** A valid result lasts this many evaluation periods, counted from the period it was settled in. */
  readonly validityPeriods: number;
  /** Requests per pool (Ğ1: 1300). */
  readonly maxPoolSize: number;
  /** Addresses allowed to publish results (at most 100). */
  readonly evaluators: ReadonlySet<string>;
  /** Signs web-of-trust changes. */
  readonly wotAdmin: string;
}

export const MAX_EVALUATORS = 100;

/** ≈ one year of 6-second blocks in 40-block periods (Ğ1's membership period). */
export const DEFAULT_VALIDITY_PERIODS = 131_490;

export const defaultParams = (wotAdmin: string, evaluators: readonly string[] = []): DistanceParams => ({
  periodBlocks: 40,
  price: 10n * TOKEN,
  minPerbill: Number((PERBILL * 80n) / 100n),
  maxDistance: 5,
  validityPeriods: DEFAULT_VALIDITY_PERIODS,
  maxPoolSize: 1300,
  evaluators: new Set(evaluators),
  wotAdmin,
});
