import assert from 'node:assert/strict';
import { encodePosition, isDomainError, type ErrorCode, type EventData, type RecordedEvent } from '@ewx/platform';
import { decide, type DistanceCommand } from './decider.js';
import { defaultParams, type DistanceParams } from './params.js';
import { evolve, initialState, type DistanceState } from './state.js';

/** Keys for specs: fixed addresses, no randomness. */
export const addr = (n: number): string => `ed25519:${n.toString(16).padStart(64, '0')}`;
export const ADMIN = addr(0xad);
export const EVALUATORS = [addr(0xe1), addr(0xe2), addr(0xe3)];
export const REQUESTER = addr(0x11);

/**
 * A given/when/then harness over decide and evolve: `given` events are applied as if read from the
 * log; `when` runs a command and applies what it decided, returning those events.
 */
export interface Spec {
  readonly state: DistanceState;
  readonly params: DistanceParams;
  given(...events: EventData[]): Spec;
  when(c: DistanceCommand): EventData[];
  /** Expects `c` to be refused with `code` (and a message matching `message`), changing nothing. */
  refuses(c: DistanceCommand, code: ErrorCode, message?: RegExp): void;
  /** Blocks up to `height`, settling each due period as the reaction does; returns what settling decided. */
  blocksTo(height: number): EventData[];
}

export function spec(overrides: Partial<DistanceParams> = {}): Spec {
  const params: DistanceParams = { ...defaultParams(ADMIN, EVALUATORS), ...overrides };
  const state = initialState();
  let position = 0n;
  const apply = (events: readonly EventData[]): void => {
    for (const e of events) evolve(state, { ...e, streamId: 'spec', version: 0, position: encodePosition([++position]) } as RecordedEvent);
  };
  apply([{ type: 'DistanceConfigured', data: { periodBlocks: params.periodBlocks } }]);
  const self: Spec = {
    state,
    params,
    given(...events) { apply(events); return self; },
    when(c) { const out = decide(c, state, params); apply(out); return out; },
    refuses(c, code, message) {
      const before = position;
      assert.throws(() => decide(c, state, params), (e: unknown) => {
        assert.ok(isDomainError(e), `expected a DomainError, got ${String(e)}`);
        assert.equal(e.code, code, e.message);
        if (message) assert.match(e.message, message);
        return true;
      });
      assert.equal(position, before);
    },
    blocksTo(height) {
      const settled: EventData[] = [];
      for (let h = state.height + 1; h <= height; h++) {
        apply([block(h)]);
        for (let out = self.when({ type: 'SettleDuePeriod' }); out.length > 0; out = self.when({ type: 'SettleDuePeriod' })) settled.push(...out);
      }
      return settled;
    },
  };
  return self;
}

export const block = (height: number): EventData => ({ type: 'BlockProduced', data: { height } });

export const ofType = <T>(events: readonly EventData[], type: string): T[] =>
  events.filter((e) => e.type === type).map((e) => e.data as unknown as T);

/** A web of trust of `n` members where everybody certifies everybody else (all are referees). */
export function fullWot(n: number, firstId = 0): EventData[] {
  const ids = Array.from({ length: n }, (_, i) => firstId + i);
  return [{ type: 'WotImported', data: { importId: 'spec', chunk: 0, chunks: 1, identities: ids.map((id) => ({ id, member: true, certifiedBy: ids.filter((o) => o !== id) })) } }];
}

/** Requests `identity` and confirms its hold: it joins the pool of the next period. */
export function requestAndHold(s: Spec, identity: number, requester = REQUESTER): string {
  const [held] = s.when({ type: 'RequestEvaluation', requester, identity });
  const holdId = (held!.data as { holdId: string }).holdId;
  s.when({ type: 'ConfirmHold', holdId });
  return holdId;
}
