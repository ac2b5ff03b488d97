import type { Logger, Runtime } from '@ewx/platform';
import { CHAIN_STREAM, decide, type ConsensusState } from '../domain/decider.js';

export { CHAIN_STREAM } from '../domain/decider.js';

/**
 * The block clock: the only place that reads the wall clock, and it only decides when to ask for
 * the next block. What a block is, and its height, come from the log.
 *
 * `rank` is this producer's place in the validator set: rank 0 produces every tick; rank k > 0
 * stands by and produces only when no block has been recorded for (k + 1) × 2 block times (the
 * producers before it are down). A late block racing the primary adds nothing: ProduceNextBlock is
 * idempotent per height.
 */
export function startBlockClock(runtime: Runtime<ConsensusState>, blockTimeMs: number, log: Logger, rank = 0): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let lastBlockAt = Date.now();
  const off = runtime.onEvent((e) => { if (e.type === 'BlockProduced') lastBlockAt = Date.now(); });
  const timer = setInterval(() => {
    if (rank > 0 && Date.now() - lastBlockAt < (rank + 1) * 2 * blockTimeMs) return;
    running = running.then(() => {
      const after = runtime.state().height;
      return runtime.execute(CHAIN_STREAM, (s) => decide({ type: 'ProduceNextBlock', after }, s))
        .catch((e: Error) => log.warn('block clock: producing a block failed, will retry next tick', { error: e.message }));
    });
  }, blockTimeMs);
  return { async stop() { clearInterval(timer); off(); await running; } };
}
