import { isBlockEvent, type Logger, type Runtime } from '@ewx/platform';
import { CHAIN_STREAM, decide, nextCut, roundKey, undecidedEnded, type ConsensusState } from '../domain/decider.js';

export { CHAIN_STREAM } from '../domain/decider.js';

/** How the timer is driven (injected in tests; the real one is `setInterval`). It counts ticks and reads no clock. */
export interface Scheduler {
  /** Calls `tick` every `ms` until the returned function is called. */
  every(ms: number, tick: () => void): () => void;
}

export const realScheduler: Scheduler = {
  every(ms, tick) {
    const t = setInterval(tick, ms);
    return () => clearInterval(t);
  },
};

export interface BlockClockOptions {
  /** BLOCK_RUN_MAX: record the counted blocks at the latest every this many blocks (1: every tick). Default 1. */
  readonly runMax?: number;
  /** The wait for ended rounds before a run goes past them (as ProduceBlocks). */
  readonly settleWait?: SettleWait;
  readonly scheduler?: Scheduler;
}

export interface BlockClock {
  stop(): Promise<void>;
  /** The height counted in memory (ticks so far); the recorded height is `runtime.state().height`. */
  counted(): number;
  /** Resolves once no recording is under way (tests: after a tick of a fake scheduler). */
  idle(): Promise<void>;
  /**
   * Records the counted blocks now (RecordCountedBlocks), as a tick would once a rule holds; answers
   * the recorded height and how many blocks this call recorded. Nothing is recorded when nothing is
   * counted beyond the recorded height (no event), by a standby or after the stop, and past the end
   * of a round that ended undecided: those blocks follow its outcome (the timer records them then).
   * `atLeast` > 0 (a service's own deadline, at_least): while the count is below it, nothing is
   * recorded and the answer comes at once; once the recorded height reached it, nothing is needed
   * (nothing recorded either: a service whose inbox lags asks again for the same deadline).
   */
  recordCounted(atLeast?: number): Promise<CountedRecord>;
  /**
   * Whether this clock records the blocks now: the producer (rank 0) until its stop, or a standby
   * that took over (until another producer's block shows up). A service asking RecordCountedBlocks
   * asks another validator when the answer says not (CONSENSUS_ADDRESS lists them all).
   */
  producing(): boolean;
}

export interface CountedRecord {
  /** The recorded height afterwards. */
  readonly height: number;
  /** Blocks this call recorded (0: none were counted, they wait for an ended round, or the count is below `atLeast`). */
  readonly recorded: number;
  /** The height counted in memory when the call answered (the wall-clock height; `height` when nothing waits). */
  readonly counted: number;
}

/**
 * The block clock: the only place that reads the wall clock, and it only decides when blocks are
 * due and when to record them. What a block is, and its height, come from the log.
 *
 * Each tick counts one block in memory; the counted blocks are recorded as one run (one event,
 * `BlocksProduced`, or `BlockProduced` for one block) only when a decision may need them:
 *   - the count reaches the end block of a round consensus knows of: the run is cut there (`nextCut`,
 *     as ProduceBlocks), and the blocks after it are recorded only once every ended round is decided
 *     or given up on (`awaitEndedRounds`, as ProduceBlocks) — the timer keeps counting meanwhile;
 *   - the count is `runMax` blocks ahead of the recorded height (BLOCK_RUN_MAX: a bound on how stale
 *     the other services' heights are, e.g. for a reward period's end, which consensus does not know);
 *   - consensus recorded something other than blocks since the last run (a round started, a vote, an
 *     outcome): the network is at work, commands read heights, so the count is recorded at the next tick;
 *   - a service asks before deciding a command that reads the height (`recordCounted`,
 *     RecordCountedBlocks): recorded at once, so the command decides at the wall-clock height;
 *   - a clean stop: nothing counted is lost (a crash loses at most `runMax` − 1 counted blocks).
 *
 * `rank` is this producer's place in the validator set: rank 0 produces; rank k > 0 stands by and
 * produces only when no block has been recorded for (k + 1) × 2 × `runMax` block times (the producers
 * before it are down); it then records the blocks of the ticks since the last recorded block. A late
 * run racing another producer adds nothing: ProduceNextBlock is idempotent per height.
 */
export function startBlockClock(runtime: Runtime<ConsensusState>, blockTimeMs: number, log: Logger, rank = 0, opts: BlockClockOptions = {}): BlockClock {
  const { runMax = 1, settleWait = {}, scheduler = realScheduler } = opts;
  const givenUp = new Set<string>();
  let target = 0;
  /** Ticks since a block was last recorded (by anyone). */
  let sinceBlock = 0;
  /** Something other than blocks was recorded since the last run, or recordCounted asked for the count. */
  let active = false;
  /** The recording waits for ended rounds (awaitEndedRounds has something to wait for). */
  let waiting = false;
  /** recordCounted calls to answer once the recording waits for ended rounds (it answers at once then). */
  const onWait = new Set<() => void>();
  let stopping = false;
  /** Stopped: recordCounted records nothing more (the stop recorded what was counted). */
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  let recording = false;
  /** A standby that found no block recorded for its threshold and produces (until another producer's block shows up). */
  let tookOver = false;
  let ownAppend = false;
  const off = runtime.onEvent((e) => {
    if (isBlockEvent(e)) {
      sinceBlock = 0;
      if (!ownAppend) tookOver = false;
    } else active = true;
  });
  /** Whether the counted blocks must be recorded now (the rules above). */
  const due = (s: ConsensusState): boolean =>
    target > s.height && (stopping || active || target - s.height >= runMax || nextCut(s, s.height, target + 1) <= target);
  const hasEndedUndecided = (): boolean => {
    const s = runtime.state();
    return undecidedEnded(s, s.height).some((r) => !givenUp.has(roundKey(r.solution, r.roundId)));
  };
  /** Records what is due, run by run (cut at round ends, each past one waiting for the ended rounds). */
  const record = async (): Promise<void> => {
    for (;;) {
      if (!due(runtime.state())) return;
      active = false;
      if (hasEndedUndecided()) {
        waiting = true;
        for (const f of onWait) f();
      }
      try {
        await awaitEndedRounds(runtime, givenUp, log, settleWait);
      } finally {
        waiting = false;
      }
      const after = runtime.state().height;
      if (target <= after) return;
      ownAppend = true;
      try {
        await runtime.execute(CHAIN_STREAM, (s) => decide({ type: 'ProduceNextBlock', after, to: nextCut(s, after, target) }, s));
      } finally {
        ownAppend = false;
      }
      if (runtime.state().height === after) return; // another producer recorded first: counted again from its height next tick
    }
  };
  /** A tick while recording: look again once it is done (the rules may hold by then). */
  let again = false;
  const start = (): void => {
    if (recording) {
      again = true;
      return;
    }
    recording = true;
    running = (async () => {
      do {
        again = false;
        await record().catch((e: Error) => log.warn('block clock: recording blocks failed, will retry next tick', { error: e.message }));
      } while (again);
      recording = false;
    })();
  };
  const threshold = (rank + 1) * 2 * runMax;
  const cancel = scheduler.every(blockTimeMs, () => {
    sinceBlock++;
    const recorded = runtime.state().height;
    if (rank > 0 && !tookOver) {
      if (sinceBlock < threshold) {
        target = recorded;
        return;
      }
      tookOver = true;
      log.warn('block clock: no block recorded for a while, this standby produces', { rank, blockTimes: sinceBlock });
      // The blocks of the ticks since the last recorded one (this tick's is added below).
      target = recorded + sinceBlock - 1;
    }
    // Another producer may have recorded further: count on from its height.
    target = Math.max(target, recorded) + 1;
    start();
  });
  return {
    async stop() {
      stopped = true;
      cancel();
      off();
      await running;
      if (rank === 0 || tookOver) {
        stopping = true;
        start();
        await running;
      }
    },
    counted: () => Math.max(target, runtime.state().height),
    producing: () => !stopped && (rank === 0 || tookOver),
    idle: () => running,
    async recordCounted(atLeast = 0) {
      const before = runtime.state().height;
      const counted = Math.max(target, before);
      const early = atLeast > 0 && (counted < atLeast || before >= atLeast);
      if (early || stopped || (rank > 0 && !tookOver) || target <= before || waiting) return { height: before, recorded: 0, counted };
      // Until the recording is done, or it waits for an ended round's outcome (the blocks after it follow the outcome).
      await new Promise<void>((resolve) => {
        const done = (): void => {
          onWait.delete(done);
          resolve();
        };
        onWait.add(done); // before start(): the recording may reach the wait synchronously
        active = true;
        start();
        void running.then(done);
      });
      const height = runtime.state().height;
      return { height, recorded: height - before, counted: Math.max(target, height) };
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
 * `givenUp`) and blocks go on: the clock never stops for it. ProduceBlocks and the block timer wait
 * (the timer keeps counting blocks meanwhile).
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
