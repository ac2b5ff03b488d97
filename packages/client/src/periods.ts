import type { RewardPeriod } from '@ewx/proto/rewards';

/**
 * Reading the renamed period fields (issue 10: never the bare word "period"). Servers fill both the
 * new field and the deprecated `period`; a server from before the rename fills only `period`, so
 * these read the new field and fall back to the old one only when the new one is unset.
 */

/** A reward period number: `reward_period`, else the deprecated `period`. */
export const rewardPeriodOf = (m: { readonly rewardPeriod: number; readonly period: number }): number => m.rewardPeriod || m.period;

/** The current reward period of GetCurrentPeriod: `reward_period`, else the deprecated `period`. */
export const currentRewardPeriod = (m: {
  readonly rewardPeriod?: RewardPeriod | undefined;
  readonly period?: RewardPeriod | undefined;
}): RewardPeriod | undefined => m.rewardPeriod ?? m.period;
