import type { Logger, Runtime } from '@ewx/platform';
import { decide, type ConsensusState } from '../domain/decider.js';

/** The stream every block is appended to: its version is the height minus one. */
export const CHAIN_STREAM = 'chain';

/**
 * The block clock: the only place that reads the wall clock, and it only decides when to ask for
 * the next block. What a block is, and its height, come from the log.
 */
export function startBlockClock(runtime: Runtime<ConsensusState>, blockTimeMs: number, log: Logger): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => {
      const after = runtime.state().height;
      return runtime.execute(CHAIN_STREAM, (s) => decide({ type: 'ProduceNextBlock', after }, s))
        .catch((e: Error) => log.warn('block clock: producing a block failed, will retry next tick', { error: e.message }));
    });
  }, blockTimeMs);
  return { async stop() { clearInterval(timer); await running; } };
}
