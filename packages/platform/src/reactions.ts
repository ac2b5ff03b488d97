import type { ServiceDecider } from './decider.js';
import type { RecordedEvent } from './eventstore/types.js';
import type { Logger } from './log.js';
import type { Runtime } from './runtime.js';
import { traceCauses } from './telemetry/trace.js';

export interface ProcessManagerOptions<S, C extends { readonly type: string }, P> {
  readonly decider: ServiceDecider<S, C, P>;
  readonly policy: P;
  /** The commands the state owes now (state → due commands); each must be idempotent. */
  readonly due: (state: S) => readonly C[];
  /** Live events after which something may be due. */
  readonly triggers: (event: RecordedEvent, state: S) => boolean;
  readonly log: Logger;
  /** Logged (with the command type and the error) when a command fails; it is retried on the next trigger. */
  readonly failure: string;
  /**
   * Telemetry only (no decision reads it): the key under which a live event is remembered as the
   * cause of a command taken later, and the key of a command that continues that event's trace.
   */
  readonly causeOf?: (event: RecordedEvent) => string | undefined;
  readonly causeKeyOf?: (command: C) => string | undefined;
  /**
   * Called after each command that succeeded, with the events it appended (none when it decided
   * nothing) and its duration in milliseconds: for logs and telemetry, never for decisions. A throw
   * is logged as a failure of the command.
   */
  readonly onDone?: (command: C, events: readonly RecordedEvent[], ms: number) => void;
}

export interface ProcessManager {
  /** Asks for a pass (at most one more is queued while one runs). */
  kick(): void;
  stop(): Promise<void>;
}

/**
 * A service's reactions and process managers in one shape: a pass executes every command due in
 * the current state, one at a time, each on the stream and with the decide of the service's
 * decider; after each command what is due is read again (a command may make the next one due),
 * and a command tried once in a pass is not tried again in it. Passes run at start-up (a crash
 * between an input and its reaction loses nothing) and after each triggering event; they never
 * overlap.
 */
export function startProcessManager<S, C extends { readonly type: string }, P>(runtime: Runtime<S>, o: ProcessManagerOptions<S, C, P>): ProcessManager {
  let running: Promise<void> = Promise.resolve();
  let queued = false;
  let stopped = false;
  const causes = traceCauses();
  const pass = async (): Promise<void> => {
    const tried = new Set<string>();
    for (;;) {
      if (stopped) return;
      const s = runtime.state();
      const next = o
        .due(s)
        .map((c) => ({ c, stream: o.decider.streamOf(c, s) }))
        .find((x) => !tried.has(`${x.stream}\u0000${JSON.stringify(x.c)}`));
      if (!next) return;
      tried.add(`${next.stream}\u0000${JSON.stringify(next.c)}`);
      const exec = () => runtime.execute(next.stream, (st) => o.decider.decide(next.c, st, o.policy));
      const key = o.causeKeyOf?.(next.c);
      const t0 = Date.now();
      await (key === undefined ? exec() : causes.follow(key, exec))
        .then((events) => o.onDone?.(next.c, events, Date.now() - t0))
        .catch((e: Error) => o.log.warn(o.failure, { command: next.c.type, error: e.message }));
    }
  };
  const kick = (): void => {
    if (queued || stopped) return;
    queued = true;
    running = running.then(async () => {
      queued = false;
      await pass();
    });
  };
  const off = runtime.onEvent((e, s) => {
    const cause = o.causeOf?.(e);
    if (cause !== undefined) causes.note(cause, e.metadata);
    if (o.triggers(e, s)) kick();
  });
  kick();
  return {
    kick,
    async stop() {
      stopped = true;
      off();
      await running;
    },
  };
}
