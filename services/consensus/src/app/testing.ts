import type { Runtime } from '@ewx/platform';
import type { ConsensusState } from '../domain/decider.js';
import type { Scheduler } from './clock.js';

/* Test support for consensus's processes: a block timer ticked by hand, voting's events delivered to a runtime. */

/** A scheduler the test ticks by hand: the timer's decisions, without wall-clock time. */
export function manualScheduler(): Scheduler & { tick(): void } {
  let tick: (() => void) | undefined;
  return {
    every(_ms, f) {
      tick = f;
      return () => {
        tick = undefined;
      };
    },
    tick: () => tick?.(),
  };
}

/** Ticks `clock` `n` times, each time until `timer` has done what the tick started. */
export async function tickTimes(clock: { tick(): void }, timer: { idle(): Promise<void> }, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    clock.tick();
    await timer.idle();
  }
}

/**
 * Delivers voting's events about rounds to the runtime `rt()` gives (it may change, as across a
 * restart) as consensus's inbox does: the stream `round:<solution>:<roundId>` numbered from 0, log
 * positions 1, 2, … across every stream, `solution` and `roundId` in each event's data.
 */
export function votingFeed(
  rt: () => Pick<Runtime<ConsensusState>, 'ingest'>,
): (solution: string, roundId: string, type: string, data: object) => Promise<boolean> {
  let position = 0;
  const versions = new Map<string, number>();
  return (solution, roundId, type, data) => {
    const streamId = `round:${solution}:${roundId}`;
    const version = versions.get(streamId) ?? 0;
    versions.set(streamId, version + 1);
    return rt().ingest({ source: 'voting', streamId, version, position: String(++position), type, data: { solution, roundId, ...data } as never });
  };
}
