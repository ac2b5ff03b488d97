import type { Network } from '@ewx/proto/consensus';
import type { RewardPeriod, ScheduleEntry } from '@ewx/proto/rewards';
import type { Ewx } from './connect.js';
import { EwxCallError } from './errors.js';
import { currentRewardPeriod } from './periods.js';

/** The reward calendar as the rewards service keeps it (its `GetCurrentPeriod`). */
export interface RewardCalendar {
  /** The height rewards had recorded when asked (it may trail consensus's by a block or two). */
  readonly height: bigint;
  /** The current reward period (index, first and last block, length); undefined before the first block. */
  readonly period: RewardPeriod | undefined;
  /** Every period-length entry, in order; a SetRewardPeriodLength adds one from the next period on. */
  readonly schedule: readonly ScheduleEntry[];
  /** The first entry that governs a later period than the current one: the next length change, if any. */
  readonly nextChange: ScheduleEntry | undefined;
  /** Blocks after a period's last block before it is closed and paid. */
  readonly settlementDelay: number;
}

/** Who runs the network (consensus's `GetNetwork`) and its reward calendar (rewards' `GetCurrentPeriod`). */
export interface NetworkView extends Network {
  readonly calendar: RewardCalendar;
}

/**
 * The network in one call: the admin account, the validator set, the height and block mode from
 * consensus, and the reward calendar from the rewards service, which owns it (consensus does not
 * record the calendar: it would have to take the rewards service's schedule events into its log).
 * The two reads are made together; each carries its own height.
 */
export async function getNetwork(ewx: Ewx, options: { deadlineMs?: number } = {}): Promise<NetworkView> {
  const call = options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs };
  const [network, current] = await Promise.all([
    ewx.consensus.getNetwork({}, call),
    // NOT_FOUND: no block yet, so no calendar yet.
    ewx.rewards.getCurrentPeriod({}, call).catch((e: unknown) => {
      if (EwxCallError.is(e) && e.code === 5) return undefined;
      throw e;
    }),
  ]);
  const period = current && currentRewardPeriod(current);
  const schedule = current?.schedule ?? [];
  return {
    ...network,
    calendar: {
      height: current?.height ?? 0n,
      period,
      schedule,
      nextChange: period === undefined ? undefined : schedule.find((e) => e.fromPeriod > period.index),
      settlementDelay: current?.settlementDelay ?? 0,
    },
  };
}
