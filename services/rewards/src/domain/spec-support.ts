import type { EventData } from '@ewx/platform';
import { spec, type Spec, type SpecDecider } from '@ewx/platform/testing';
import { decide, type RewardsCommand } from './decide.js';
import { evolve } from './evolve.js';
import { initialState, type RewardsState } from './state.js';

/** Rewards' decider for the spec kit (`@ewx/platform/testing`), with the stream each command writes. */
export const rewardsSpecDecider: SpecDecider<RewardsState, RewardsCommand, EventData> = {
  initialState,
  evolve,
  decide,
  // As app/periods.ts writes them: a group's periods in `group:<group>`, the calendar in `calendar`.
  streamOf: (c) => (c.type === 'ClosePeriod' ? `group:${c.group}` : 'calendar'),
};
export type RewardsSpec = Spec<RewardsState, RewardsCommand, EventData>;

/** A spec given events as the inbox records them (arrays flattened). */
export const given = (...events: (EventData | readonly EventData[])[]): RewardsSpec => spec(rewardsSpecDecider).given(...events);

export const closeCmd = (group: string, period: number, settlementDelay = 0): RewardsCommand => ({ type: 'ClosePeriod', group, period, settlementDelay });
/** Closes a period as the reaction does (the step must be accepted); returns its events. */
export const close = (s: RewardsSpec, group: string, period: number, settlementDelay = 0): readonly EventData[] =>
  s.run(closeCmd(group, period, settlementDelay));

/** The data of every event of `type` in the spec's log. */
export const of = <T>(s: RewardsSpec, type: string): T[] => s.log.filter((e) => e.type === type).map((e) => e.data as unknown as T);
