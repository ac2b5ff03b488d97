import type { EventData } from '@ewx/platform';
import { spec, type Spec, type SpecDecider } from '@ewx/platform/testing';
import type { RegistryCommand } from './commands.js';
import { decide } from './decider.js';
import { evolve } from './evolve.js';
import { balanceOf } from './ledger.js';
import { initialState, type RegistryState } from './state.js';
import { PERIOD_LENGTH, POLICY, type World } from './test-support.js';

/** The registry's decider for the spec kit (`@ewx/platform/testing`), its policy bound. */
export const registryDecider: SpecDecider<RegistryState, RegistryCommand, EventData> = {
  initialState,
  evolve,
  decide: (c, s) => decide(c, s, POLICY),
};
export type RegistrySpec = Spec<RegistryState, RegistryCommand, EventData>;

/** A spec given the log of a fixture (`world()`, `funded()`, `withGroup()` …). */
export const given = (fixture: World): RegistrySpec => spec(registryDecider).given(fixture.log);

export const free = (s: RegistrySpec, a: string): bigint => balanceOf(s.state.ledger, a).free;
export const reserved = (s: RegistrySpec, a: string): bigint => balanceOf(s.state.ledger, a).reserved;

/** Another service's event, recorded as the inbox does. */
export const inbox = (s: RegistrySpec, type: string, data: unknown): RegistrySpec => s.given({ type, data: data as never });

/** BlockProduced up to `height`. */
export function blockTo(s: RegistrySpec, height: number): RegistrySpec {
  for (let h = s.state.height + 1; h <= height; h++) s.given({ type: 'BlockProduced', data: { height: h } });
  return s;
}

/** Every block up to the first block of `period`, and the commands the reactions issue on each block. */
export function toPeriod(s: RegistrySpec, period: number): RegistrySpec {
  const first = 1 + period * PERIOD_LENGTH;
  for (let h = s.state.height + 1; h <= first; h++) {
    s.given({ type: 'BlockProduced', data: { height: h } });
    for (const group of s.state.groups.keys()) s.run({ type: 'SettleGroup', group });
  }
  return s;
}
