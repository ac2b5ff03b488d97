import { isBlockEvent, type Logger, type Runtime } from '@ewx/platform';
import { CHAIN_STREAM, decide, roundKey, undecidedEnded, type ConsensusState } from '../domain/decider.js';

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
  const off = runtime.onEvent((e) => {
    if (isBlockEvent(e)) lastBlockAt = Date.now();
  });
  const timer = setInterval(() => {
    if (rank > 0 && Date.now() - lastBlockAt < (rank + 1) * 2 * blockTimeMs) return;
    running = running.then(() => {
      const after = runtime.state().height;
      return runtime
        .execute(CHAIN_STREAM, (s) => decide({ type: 'ProduceNextBlock', after }, s))
        .catch((e: Error) => log.warn('block clock: producing a block failed, will retry next tick', { error: e.message }));
    });
  }, blockTimeMs);
  return {
    async stop() {
      clearInterval(timer);
      off();
      await running;
    },
  };
}

export interface SettleWait {
  /** Give up on the ended rounds when the log has not moved for this long (default 3 s). */
  readonly quietMs?: number;
  /** Give up after this long whatever happens (default 30 s). */
  readonly maxMs?: number;
  /** How often the log is read again meanwhile (other processes may append; default 10 ms). */
  readonly pollMs?: number;
}

/**
 * Before a run of blocks goes past a round's end: wait until every round that ended by the current
 * height is settled or unresolved, so its outcome (and vote metadata) precedes the next blocks in the
 * log — as when blocks came one at a time, slower than a round settles. A round that stays undecided
 * while nothing moves in the log (validators down) is given up on once (warned, remembered in
 * `givenUp`) and blocks go on: the clock never stops for it. Only ProduceBlocks waits: the block timer
 * produces one block per tick.
 */
export async function awaitEndedRounds(runtime: Runtime<ConsensusState>, givenUp: Set<string>, log: Logger, opts: SettleWait = {}): Promise<void> {
  const { quietMs = 3_000, maxMs = 30_000, pollMs = 10 } = opts;
  const pending = (): string[] => {
    const s = runtime.state();
    return undecidedEnded(s, s.height)
      .map((r) => roundKey(r.solution, r.roundId))
      .filter((k) => !givenUp.has(k));
  };
  if (pending().length === 0) return;
  const t0 = Date.now();
  let moved = t0;
  let at = runtime.position();
  for (;;) {
    await new Promise((r) => setTimeout(r, pollMs));
    await runtime.catchUp();
    const left = pending();
    if (left.length === 0) return;
    if (runtime.position() !== at) {
      at = runtime.position();
      moved = Date.now();
    }
    const now = Date.now();
    if (now - moved >= quietMs || now - t0 >= maxMs) {
      for (const k of left) givenUp.add(k);
      log.warn('block production: rounds ended but are not decided; producing further blocks without them', { rounds: left.length, waitedMs: now - t0 });
      return;
    }
  }
}
