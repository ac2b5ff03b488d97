import assert from 'node:assert/strict';
import { isDomainError } from '../errors.js';
import { encodePosition, type LogPosition } from '../eventstore/types.js';

/**
 * Given/when/then specifications over a decider, as Emmett writes them:
 *
 *   spec(decider).given(e1, e2).when(command).then(e3)
 *   spec(decider).given(e1).when(command).thenThrows('FAILED_PRECONDITION', /^group: /)
 *   spec(decider).given(e1).when(command).thenNothingChanged()
 *
 * `given` folds events into a fresh state as if read from the log; `when` runs the pure `decide`;
 * each `then…` checks its outcome and returns the spec at the state after it, so a story can go on
 * (`.when(next).then(…)`). No I/O: the log is an array.
 */

/** What the kit needs of an event: a tag and its data (a typed union or the platform's EventData). */
export interface SpecEvent {
  readonly type: string;
  readonly data: unknown;
  readonly metadata?: unknown;
}

/** Where an event sits in the log, as `evolve` receives it. */
export interface SpecEnvelope {
  readonly streamId: string;
  readonly version: number;
  readonly position: LogPosition;
}

export interface SpecDecider<S, C, E extends SpecEvent> {
  initialState(): S;
  /** May update the state in place (the runtime's way) or return a new one. */
  // biome-ignore lint/suspicious/noConfusingVoidType: an in-place evolve is typed `=> void`, and must fit here
  evolve(state: S, event: E & SpecEnvelope): S | void;
  /** Pure: the events a command gives on a state, or a DomainError. Services whose decide takes more (a policy, parameters) bind it. */
  decide(command: C, state: S): readonly E[];
  /** The stream a command writes to (the spec's stream when absent). */
  streamOf?(command: C): string;
}

export interface Spec<S, C, E extends SpecEvent> {
  /** The state folded so far. */
  readonly state: S;
  /** Every event applied so far, in order. */
  readonly log: readonly (E & SpecEnvelope)[];
  /** Applies events (arrays are flattened) as if read from the log. */
  given(...events: (E | readonly E[])[]): Spec<S, C, E>;
  /** Runs commands as earlier steps of the story (each must be accepted) and applies what they decide; `when` is for the step under test. */
  after(...commands: C[]): Spec<S, C, E>;
  /** Decides and applies one command as an earlier step, returning its events (for a value a later step needs). */
  run(command: C): readonly E[];
  when(command: C): When<S, C, E>;
}

export interface When<S, C, E extends SpecEvent> {
  /** Exactly these events (type, data and any metadata given), in this order; they are applied. */
  then(...expected: E[]): Spec<S, C, E>;
  /** Checks the events decided (already applied: `state` is the state after them). */
  then(check: (events: readonly E[], state: S) => void): Spec<S, C, E>;
  /** Refused with a DomainError of `code` whose message matches `message`; the state and the log are unchanged. */
  thenThrows(code: string, message?: RegExp): Spec<S, C, E>;
  /** Accepted with nothing to do: decide returns no event and the state is unchanged (an idempotent repeat). */
  thenNothingChanged(): Spec<S, C, E>;
}

/** A fingerprint of a state: JSON with Maps, Sets, bigints and byte arrays spelled out, so two states compare by value. */
export function fingerprint(value: unknown): string {
  return (
    JSON.stringify(value, function (this: unknown, _key, v: unknown) {
      if (typeof v === 'bigint') return `${v}n`;
      if (v instanceof Map) return { '<Map>': [...v] };
      if (v instanceof Set) return { '<Set>': [...v] };
      if (v instanceof Uint8Array) return { '<bytes>': Buffer.from(v).toString('hex') };
      if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
        return { '<bytes>': Buffer.from((v as { data: number[] }).data).toString('hex') };
      }
      return v;
    }) ?? 'undefined'
  );
}

/** An event as the log would keep it: type, data and metadata through JSON (what a read would give back). */
const asStored = (e: SpecEvent, withMetadata: boolean): unknown =>
  JSON.parse(
    JSON.stringify({ type: e.type, data: e.data, ...(withMetadata ? { metadata: e.metadata } : {}) }, (_k, v: unknown) =>
      typeof v === 'bigint' ? `${v}n` : v,
    ),
  );

const show = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

export function spec<S, C, E extends SpecEvent>(decider: SpecDecider<S, C, E>, options: { readonly stream?: string } = {}): Spec<S, C, E> {
  let state = decider.initialState();
  const log: (E & SpecEnvelope)[] = [];
  const versions = new Map<string, number>();
  const apply = (events: readonly E[], command?: C): void => {
    const stream = command === undefined ? undefined : decider.streamOf?.(command);
    for (const e of events) {
      const streamId = stream ?? (e as Partial<SpecEnvelope>).streamId ?? options.stream ?? 'spec';
      const version = (versions.get(streamId) ?? -1) + 1;
      versions.set(streamId, version);
      const recorded = { ...e, streamId, version, position: encodePosition([BigInt(log.length + 1)]) } as E & SpecEnvelope;
      const next = decider.evolve(state, recorded);
      if (next !== undefined) state = next;
      log.push(recorded);
    }
  };
  const decide = (command: C): readonly E[] => decider.decide(command, state);
  const accepted = (command: C): readonly E[] => {
    let events: readonly E[];
    try {
      events = decide(command);
    } catch (e) {
      assert.fail(`spec: a step before the one under test was refused: ${show(e)} (command ${fingerprint(command).slice(0, 300)})`);
    }
    apply(events, command);
    return events;
  };

  const self: Spec<S, C, E> = {
    get state() {
      return state;
    },
    log,
    given(...events) {
      apply(events.flat() as E[]);
      return self;
    },
    after(...commands) {
      for (const c of commands) accepted(c);
      return self;
    },
    run: accepted,
    when(command) {
      return {
        then(...args: unknown[]): Spec<S, C, E> {
          const events = decide(command);
          if (typeof args[0] === 'function') {
            apply(events, command);
            (args[0] as (events: readonly E[], state: S) => void)(events, state);
            return self;
          }
          const expected = args as E[];
          const withMetadata = expected.some((e) => e.metadata !== undefined);
          assert.deepStrictEqual(
            events.map((e) => asStored(e, withMetadata)),
            expected.map((e) => asStored(e, withMetadata)),
            `spec: the events decided differ from the ones expected`,
          );
          apply(events, command);
          return self;
        },
        thenThrows(code, message) {
          const before = fingerprint(state);
          const length = log.length;
          let events: readonly E[] | undefined;
          try {
            events = decide(command);
          } catch (e) {
            assert.ok(isDomainError(e), `spec: expected a DomainError ${code}, got ${show(e)}`);
            assert.equal(e.code, code, `spec: expected ${code}, got ${e.code}: ${e.message}`);
            if (message) assert.match(e.message, message, `spec: the ${code} message does not match`);
            assert.equal(fingerprint(state), before, 'spec: a refused command changed the state');
            assert.equal(log.length, length);
            return self;
          }
          assert.fail(
            `spec: expected ${code}${message ? ` ${message}` : ''}, the command was accepted with ${events.length} event(s): ${events.map((e) => e.type).join(', ') || 'none'}`,
          );
        },
        thenNothingChanged() {
          const before = fingerprint(state);
          const events = decide(command);
          assert.deepEqual(
            events.map((e) => e.type),
            [],
            'spec: expected no event',
          );
          assert.equal(fingerprint(state), before, 'spec: decide changed the state');
          return self;
        },
      } as When<S, C, E>;
    },
  };
  return self;
}
