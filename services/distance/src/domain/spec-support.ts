import type { EventData } from '@ewx/platform';
import { spec, type Spec } from '@ewx/platform/testing';
import { decide, type DistanceCommand } from './decider.js';
import { defaultParams, type DistanceParams } from './params.js';
import { evolve, initialState, type DistanceState } from './state.js';
import { ADMIN, block, EVALUATORS, REQUESTER } from './testing.js';

/** The spec kit (`@ewx/platform/testing`) over distance's decider, with the parameters its decide takes. */
export type DistanceSpec = Spec<DistanceState, DistanceCommand, EventData>;

/** A spec with the production parameters (`overrides` aside), the evaluation period length recorded first. */
export function distance(overrides: Partial<DistanceParams> = {}): DistanceSpec {
  const params: DistanceParams = { ...defaultParams(ADMIN, EVALUATORS), ...overrides };
  return spec({ initialState, evolve, decide: (c: DistanceCommand, st: DistanceState) => decide(c, st, params) }).given({
    type: 'DistanceConfigured',
    data: { periodBlocks: params.periodBlocks },
  });
}

/** Blocks up to `height`, settling each due period as the reaction does; returns what settling decided. */
export function blocksTo(s: DistanceSpec, height: number): EventData[] {
  const settled: EventData[] = [];
  for (let h = s.state.height + 1; h <= height; h++) {
    s.given(block(h));
    for (let out = s.run({ type: 'SettleDuePeriod' }); out.length > 0; out = s.run({ type: 'SettleDuePeriod' })) settled.push(...out);
  }
  return settled;
}

/** Requests `identity` and confirms its hold: it joins the pool of the next period. */
export function requestAndHold(s: DistanceSpec, identity: number, requester = REQUESTER): string {
  const [held] = s.run({ type: 'RequestEvaluation', requester, identity });
  const holdId = (held!.data as { holdId: string }).holdId;
  s.run({ type: 'ConfirmHold', holdId });
  return holdId;
}
