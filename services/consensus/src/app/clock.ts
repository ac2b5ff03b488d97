import { intervalTimer, isBlockEvent, type Logger, type Runtime, type WatchTimer } from '@ewx/platform';
import type { BeatView, ClockBeats } from './beats.js';
import { CHAIN_STREAM, decide, nextCut, roundKey, undecidedEnded, type ConsensusState } from '../domain/decider.js';

export { CHAIN_STREAM } from '../domain/decider.js';

/** How the timer is driven (injected in tests; the real one is `setInterval`). It counts ticks and reads no clock. */
export type Scheduler = WatchTimer;
export const realScheduler: Scheduler = intervalTimer;

export interface BlockClockOptions {
  /** BLOCK_RUN_MAX: record the counted blocks at the latest every this many blocks (1: every tick). Default 1. */
  readonly runMax?: number;
  /** The wait for ended rounds before a run goes past them (as ProduceBlocks). */
  readonly settleWait?: SettleWait;
  readonly scheduler?: Scheduler;
  /**
   * Liveness outside the log (`./beats.ts`): with it a standby takes over when no lower place beats
   * `producing`, after about `beatTtlMs`, whatever BLOCK_RUN_MAX is. Without it (KurrentDB, a set of
   * one) the recorded blocks are the producer's heartbeat, as before.
   */
  readonly beats?: ClockBeats;
  /** This validator's address, written in its beat row. */
  readonly validator?: string;
  /** How long a beat keeps its row alive. Default max(3 block times, 1 s); at least 2 beat intervals. */
  readonly beatTtlMs?: number;
}

/** A validator beats at most this often (a 20 ms block time beats every 13 ticks, not every tick). */
export const BEAT_MIN_INTERVAL_MS = 250;
/** The shortest default beat TTL. */
export const BEAT_MIN_TTL_MS = 1_000;

/** Ticks between two beats, and the default TTL of a beat, for a block time. */
export function beatTiming(blockTimeMs: number): { everyTicks: number; ttlMs: number } {
  return { everyTicks: Math.max(1, Math.ceil(BEAT_MIN_INTERVAL_MS / blockTimeMs)), ttlMs: Math.max(BEAT_MIN_TTL_MS, 3 * blockTimeMs) };
}

export interface BlockClock {
  stop(): Promise<void>;
  /** The height counted in memory (ticks so far); the recorded height is `runtime.state().height`. */
  counted(): number;
  /** Resolves once no recording or beat is under way (tests: after a tick of a fake scheduler). */
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
 * `rank` is this producer's place in the validator set: rank 0 produces; rank k > 0 stands by.
 *
 * With `beats` (liveness outside the log, `./beats.ts`; PostgreSQL and PGlite): every validator
 * beats every `beatTiming(blockTimeMs).everyTicks` ticks (once a block time, at most every 250 ms;
 * one beat in flight at most), writing whether it produces and its counted height, alive for
 * `beatTtlMs` (default max(3 block times, 1 s)) by the store's clock. A standby at place k takes over
 * when k consecutive beats found no live row of a lower place that says `producing` (and it has run
 * for a TTL: a producer starting beside it had time to beat); it counts on from the highest count it
 * saw in the rows plus the ticks since it saw it rise (or the recorded height plus the ticks since
 * the last block, if higher), records that at once and beats `producing` at once. It gives back as
 * soon as a live lower row says `producing` (place 0 back). Every producer counts on from the
 * highest count in the rows it reads (place 0 restarted after a standby produced). A clean stop
 * beats `producing` false: the standby takes over at its next beat. Take-over ≈ TTL + k − 1 beats,
 * whatever `runMax` is; a crash loses at most a beat's counted blocks (the take-over counts on from
 * the dead producer's last beat).
 *
 * Without beats (KurrentDB; a set of one has no standby), or while this validator's beats fail but
 * its log reads: the recorded blocks are the heartbeat — a standby produces when no block has been
 * recorded for (k + 1) × 2 × `runMax` block times, then records the blocks of the ticks since the
 * last recorded block, and a block recorded by another producer ends its take-over. While beats
 * fail and the log does not read either (a database outage: it could not append), a standby does
 * not take over. A late run racing another producer adds nothing: ProduceNextBlock is idempotent
 * per height.
 */
export function startBlockClock(runtime: Runtime<ConsensusState>, blockTimeMs: number, log: Logger, rank = 0, opts: BlockClockOptions = {}): BlockClock {
  const { runMax = 1, settleWait = {}, scheduler = realScheduler, beats, validator = '' } = opts;
  const timing = beatTiming(blockTimeMs);
  const beatTtlMs = opts.beatTtlMs ?? timing.ttlMs;
  const beatIntervalMs = timing.everyTicks * blockTimeMs;
  if (beats && !(beatTtlMs >= 2 * beatIntervalMs))
    throw new Error(`beatTtlMs: expected at least two beat intervals (${2 * beatIntervalMs} ms at a ${blockTimeMs} ms block time), got ${beatTtlMs}`);
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
  /** A standby that took over: no lower place beats `producing` (or, by the log rule, no block for its threshold); until one does (or another producer's block shows up). */
  let tookOver = false;
  let ownAppend = false;
  /** Ticks since the start. */
  let ticks = 0;
  /** The beats: one in flight at most (`beatDone`), another asked for meanwhile (`beatAgain`). */
  let beating = false;
  let beatAgain = false;
  let lastBeatTick = Number.NEGATIVE_INFINITY;
  let beatDone: Promise<void> = Promise.resolve();
  /** `ok` once a beat worked; `failing` since one failed (warned once per outage). */
  let beatState: 'unknown' | 'ok' | 'failing' = 'unknown';
  /** Beats fail but the log reads: the log rule (blocks as the heartbeat) applies until they work again. */
  let logRule = !beats;
  /** A standby's consecutive beats that found no lower place producing. */
  let quietBeats = 0;
  /** The highest count seen in the rows, and the tick it was first seen at. */
  let seenCounted = 0;
  let seenAt = 0;
  /** A standby takes over by beats only after running this long: a producer started beside it has beaten by then. */
  const graceTicks = Math.ceil(beatTtlMs / blockTimeMs);
  const off = runtime.onEvent((e) => {
    if (isBlockEvent(e)) {
      sinceBlock = 0;
      // With beats, a take-over ends by the beats (a lower place producing), not by another's block.
      if (!ownAppend && logRule) tookOver = false;
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
  const counted = (): number => Math.max(target, runtime.state().height);
  const producing = (): boolean => !stopped && (rank === 0 || tookOver);
  /** What a beat answered: take over, give back, or count on from another producer's count. */
  const onBeat = (view: BeatView): void => {
    if (beatState === 'failing') log.info('block clock: beats work again', { rank });
    beatState = 'ok';
    logRule = false;
    if (view.counted > seenCounted) {
      seenCounted = view.counted;
      seenAt = ticks;
    }
    if (stopped) return;
    const lowerProducing = view.live.some((r) => r.place < rank && r.producing);
    if (rank === 0 || tookOver) {
      if (tookOver && lowerProducing) {
        tookOver = false;
        quietBeats = 0;
        log.info('block clock: a validator of a lower place produces again, this standby stands by', { rank });
        return;
      }
      // Another producer counted further (this one restarted while a standby produced): count on from there.
      target = Math.max(target, view.counted);
      return;
    }
    // Counted once past the grace, so places started together stay staggered.
    quietBeats = lowerProducing || ticks < graceTicks ? 0 : quietBeats + 1;
    // Place k waits k beats: place 1 goes first, and its `producing` row stops place 2.
    if (quietBeats < rank) return;
    tookOver = true;
    quietBeats = 0;
    const recorded = runtime.state().height;
    // The dead producer's last count plus the ticks since it was seen (or the ticks since the last block, if more).
    target = Math.max(recorded + sinceBlock, seenCounted + (ticks - seenAt));
    log.warn('block clock: no validator of a lower place beats as producing, this standby produces', { rank, recorded, counted: target });
    active = true; // the take-over's blocks are recorded at once
    start();
    beat(true);
  };
  const onBeatFailed = async (e: Error): Promise<void> => {
    if (beatState !== 'failing')
      log.warn(
        'block clock: beat failed; until beats work again a standby takes over only by the blocks in the log, and not while the log does not read either',
        {
          rank,
          error: e.message,
        },
      );
    beatState = 'failing';
    quietBeats = 0;
    // A database outage stops the beats and the appends alike: a standby that could not append does not take over.
    logRule = await runtime.catchUp().then(
      () => true,
      () => false,
    );
  };
  /** Beats if one is due (`now`: at once, after the one in flight). */
  const beat = (now = false): void => {
    if (!beats || stopped) return;
    if (beating) {
      if (now) beatAgain = true;
      return;
    }
    if (!now && ticks - lastBeatTick < timing.everyTicks) return;
    beating = true;
    lastBeatTick = ticks;
    beatDone = (async () => {
      do {
        beatAgain = false;
        try {
          onBeat(await beats.beat({ place: rank, validator, producing: producing(), counted: counted() }, beatTtlMs));
        } catch (e) {
          await onBeatFailed(e as Error);
        }
      } while (beatAgain && !stopped);
      beating = false;
    })();
  };
  const threshold = (rank + 1) * 2 * runMax;
  const cancel = scheduler.every(blockTimeMs, () => {
    ticks++;
    sinceBlock++;
    const recorded = runtime.state().height;
    if (rank > 0 && !tookOver) {
      if (!logRule || sinceBlock < threshold) {
        target = recorded;
        beat();
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
    beat();
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
      if (beats) {
        await beatDone;
        // The last beat says it does not produce: a standby takes over at its next beat, not after the TTL.
        await beats
          .beat({ place: rank, validator, producing: false, counted: counted() }, beatTtlMs)
          .catch((e: Error) => log.warn('block clock: the last beat failed; a standby takes over once this one expires', { rank, error: e.message }));
      }
    },
    counted,
    producing,
    async idle() {
      await beatDone; // a beat may start a recording (a take-over)
      await running;
    },
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
