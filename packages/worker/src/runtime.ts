import { EwxCallError, rewardPeriodOf, type Ewx, type Signer } from '@ewx/client';
import type { Solution } from '@ewx/proto/registry';
import type { Round } from '@ewx/proto/voting';
import { pino, type Logger } from 'pino';
import { defaultRoundId, voteBytes, type HandlerRegistry, type RoundInput } from './handlers.js';
import { assess, type Assessment, type Duty, type WorkerStatus } from './ladder.js';
import { refusalReason, workerMetrics, type WorkerMetrics } from './metrics.js';
import { clientReads, periodAt, pollingChanges, sleep, watchChanges, type Changes, type NetworkReads, type PeriodInfo, type StartedRound } from './network.js';

export interface WorkerOptions {
  /** Connected client kit; the worker signs its votes with `signer`. */
  readonly ewx: Ewx;
  readonly signer: Signer;
  readonly handlers: HandlerRegistry;
  /** The operator's address: used only with a registry older than GetWorker (saves scanning its operator list). */
  readonly operator?: string;
  readonly logger?: Logger;
  readonly metrics?: WorkerMetrics;
  /**
   * How the worker learns that something changed: `watch` (default) follows voting's Watch
   * stream (polling if the server has none), `poll` looks every `pollMs`, or a `Changes` of one's own.
   */
  readonly changes?: Changes | 'watch' | 'poll';
  /** Default 250 ms. */
  readonly pollMs?: number;
  /** How often subscriptions and solutions are read again while ready (default 2 s). */
  readonly refreshMs?: number;
  /** First retry delay of a vote after a transient error (doubles up to 2 s; default 100 ms). */
  readonly retryMs?: number;
  readonly reads?: NetworkReads;
  /**
   * With the Watch stream (`changes: 'watch'`): vote as soon as RoundStarted arrives, and look again
   * on a block only when the height matters (default true). False: every round is found by a look
   * (the height and the round list read first) and every block triggers one, as before; kept for
   * comparison (packages/worker/bench/round-latency.bench.ts).
   */
  readonly voteOnRoundStarted?: boolean;
  /** Called with what became of each round the worker took up (the demo's table, tests). */
  readonly onOutcome?: (o: VoteOutcome) => void;
}

/** What became of one round: voted (`accepted`), `refused` (with the reason), `missed`, `abstained` or `failed` (the logic threw). */
export interface VoteOutcome {
  readonly worker: string;
  readonly solution: string;
  readonly roundId: string;
  readonly outcome: 'accepted' | 'refused' | 'missed' | 'abstained' | 'failed';
  readonly reason?: string;
  /** The vote, hex. */
  readonly result?: string;
  /** A vote for a worker-started slot round the worker had not seen yet: it started the round if it came first. */
  readonly started?: boolean;
}

export interface WorkerState {
  readonly worker: string;
  readonly status: WorkerStatus;
  readonly message: string;
  readonly operator?: string;
  readonly height?: string;
  readonly period?: number;
  readonly solutions: readonly { solution: string; group: string; logicRef: string; handler: boolean; nominated: boolean }[];
  /** ms since the epoch of the last completed look at the network. */
  readonly lastLoopAt?: number;
  /** ms since the epoch when the loop last finished a turn, whether the look succeeded or not. */
  readonly lastTickAt?: number;
  readonly lastError?: string;
}

export interface WorkerRuntime {
  readonly address: string;
  readonly metrics: WorkerMetrics;
  state(): WorkerState;
  /** Resolves once the status is `status` (tests, the demo). */
  until(status: WorkerStatus, timeoutMs?: number): Promise<void>;
  /** Stops looking, lets votes in flight finish (at most `graceMs`), then resolves. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Errors worth another try: the service or the network, not the vote. The client kit already
 * retried UNAVAILABLE within each call's deadline; this loop goes on until the round's end block.
 */
const TRANSIENT = new Set([1, 2, 4, 8, 10, 13, 14]); // CANCELLED UNKNOWN DEADLINE_EXCEEDED RESOURCE_EXHAUSTED ABORTED INTERNAL UNAVAILABLE
const isNonceRefusal = (e: EwxCallError): boolean => e.code === 7 && /^nonce: /.test(e.details);
const key = (solution: string, roundId: string): string => `${solution}\n${roundId}`;

/**
 * Starts a worker node runtime: it follows its operator's subscriptions and the groups' active
 * solutions, runs each solution's logic (found by logic reference) for every round it is
 * eligible for, and votes, retrying transient failures until the round's end block.
 */
export function startWorker(o: WorkerOptions): WorkerRuntime {
  const address = o.signer.address;
  const log = o.logger ?? pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const metrics = o.metrics ?? workerMetrics();
  const reads = o.reads ?? clientReads(o.ewx, o.operator);
  const pollMs = o.pollMs ?? 250;
  const refreshMs = o.refreshMs ?? 2_000;
  const retryMs = o.retryMs ?? 100;
  const changes =
    typeof o.changes === 'object'
      ? o.changes
      : o.changes === 'poll'
        ? pollingChanges(pollMs)
        : watchChanges(o.ewx, {
            pollMs,
            idleMs: refreshMs,
            onMode: (mode, why) => (mode === 'watch' ? log.info({ worker: address }, why) : log.warn({ worker: address }, why)),
            ...(o.voteOnRoundStarted === false ? {} : { onRoundStarted: (r: StartedRound) => takeUp(r), wantsBlock: (h: bigint | undefined) => wantsBlock(h) }),
          });
  const abort = new AbortController();
  const report = (solution: string, roundId: string, outcome: VoteOutcome['outcome'], extra: Partial<VoteOutcome> = {}): void => {
    try {
      o.onOutcome?.({ worker: address, solution, roundId, outcome, ...extra });
    } catch {
      /* a listener's error is not the worker's */
    }
  };
  let assessment: Assessment | undefined;
  let assessedAt = 0;
  let height = 0n;
  let period: PeriodInfo | undefined;
  let lastLoopAt: number | undefined;
  let lastTickAt: number | undefined;
  let lastError: string | undefined;
  /** Rounds taken care of (voted, abstained, missed, refused): key → end block, pruned as height passes. */
  const handled = new Map<string, bigint>();
  const inflight = new Set<Promise<void>>();
  const waiters = new Set<() => void>();
  // Votes of one worker go one at a time: nonces must arrive in increasing order.
  let queue: Promise<unknown> = Promise.resolve();

  const setAssessment = (a: Assessment): void => {
    const changed = assessment?.status !== a.status || assessment.message !== a.message;
    assessment = a;
    metrics.setStatus(a.status);
    if (changed) {
      const fields = { worker: address, status: a.status, operator: a.operator, period: period?.index };
      if (a.status === 'ready') log.info(fields, a.message);
      else log.warn(fields, a.message);
      for (const d of a.duties) {
        if (!d.handler)
          log.warn(
            { worker: address, solution: d.solution.config!.namespace, logicRef: d.solution.config!.logicRef },
            "no handler for this solution's logic reference: the worker will not vote in it (register one with --handlers or --handler ref=cmd)",
          );
        else if (!d.nominated)
          log.warn(
            { worker: address, solution: d.solution.config!.namespace },
            "nominations are on and this worker is not nominated: it is not in the solution's rounds",
          );
      }
    }
    for (const w of waiters) w();
  };

  async function refresh(): Promise<void> {
    const schedule = await reads.schedule();
    period = periodAt(schedule, height);
    const operator = await reads.operatorOf(address);
    const groups = operator?.subscriptions.map((s) => s.group) ?? [];
    const solutions = new Map<string, Solution[]>();
    for (const g of groups) solutions.set(g, await reads.solutionsOf(g));
    setAssessment(assess(address, operator, period?.index ?? 0, solutions, o.handlers));
    assessedAt = Date.now();
  }

  /** May this worker vote in `round`: its stake in the round's group counts in the round's period. */
  const eligibleFor = (round: { readonly group: string; readonly period: number }): boolean => {
    const from = assessment?.activeGroups.get(round.group);
    return from !== undefined && round.period >= from;
  };

  /**
   * Whether a block is worth a look: while not ready (a period may make the stake count), once the
   * period ends (the ladder and duties are read again), and for worker-started solutions (their
   * slots go by height). Otherwise rounds come with RoundStarted and the idle look catches the rest.
   */
  function wantsBlock(h: bigint | undefined): boolean {
    if (assessment?.status !== 'ready' || !period || h === undefined || h > period.lastBlock) return true;
    return assessment.duties.some((d) => d.handler && d.solution.config?.votingStartMethod === 'WORKER');
  }

  /**
   * A round from the watch stream, voted for at once: no read of the height or the round list
   * between the RoundStarted event and the vote (under load those reads took longer than a short
   * round lasts). The same rules as the look's: a duty with a handler, nominated, the stake counting
   * in the round's period; `handled` keeps the look from voting twice.
   */
  function takeUp(r: StartedRound): void {
    if (abort.signal.aborted || assessment?.status !== 'ready') return;
    const d = assessment.duties.find((x) => x.solution.config?.namespace === r.solution && x.handler && x.nominated);
    if (!d || handled.has(key(r.solution, r.roundId)) || !eligibleFor(r)) return;
    handled.set(key(r.solution, r.roundId), r.endBlock);
    track(vote(d, roundInput(d, r.roundId, r.startBlock, r.endBlock, r.period)));
  }

  async function look(): Promise<void> {
    height = await reads.height();
    metrics.height.set(Number(height));
    const p = period;
    if (assessment?.status !== 'ready' || Date.now() - assessedAt >= refreshMs || !p || height > p.lastBlock) await refresh();
    for (const [k, end] of handled) if (end + 1000n < height) handled.delete(k);
    if (assessment?.status !== 'ready') return;
    for (const d of assessment.duties) {
      if (!d.handler || !d.nominated) continue;
      const sol = d.solution.config!;
      const rounds = await reads.activeRounds(sol.namespace);
      for (const r of rounds) {
        const rp = rewardPeriodOf(r);
        if (handled.has(key(sol.namespace, r.roundId)) || !eligibleFor({ group: r.group, period: rp })) continue;
        handled.set(key(sol.namespace, r.roundId), r.endBlock);
        if (height >= r.endBlock) {
          metrics.roundsMissed.inc({ solution: sol.namespace });
          log.warn(
            { worker: address, solution: sol.namespace, roundId: r.roundId, endBlock: r.endBlock.toString(), height: height.toString() },
            'round missed: seen after its end block',
          );
          report(sol.namespace, r.roundId, 'missed', { reason: 'seen after its end block' });
          continue;
        }
        track(vote(d, roundInput(d, r.roundId, r.startBlock, r.endBlock, rp)));
      }
      if (sol.votingStartMethod === 'WORKER' && period) startByVote(d, rounds);
    }
  }

  /** A WORKER-started solution: vote for the round of the current slot if nobody started it yet. */
  function startByVote(d: Duty, active: readonly Round[]): void {
    const sol = d.solution.config!;
    const p = period!;
    if (!assessment?.activeGroups.has(d.group) || p.index < assessment.activeGroups.get(d.group)!) return;
    const ctx = { solution: sol.namespace, height, period: p, maxWaitingThreshold: sol.maxWaitingThreshold };
    const roundId = d.handler!.roundIdAt ? d.handler!.roundIdAt(ctx) : defaultRoundId(ctx);
    if (roundId === undefined || handled.has(key(sol.namespace, roundId)) || active.some((r) => r.roundId === roundId)) return;
    const end = height + sol.maxWaitingThreshold;
    handled.set(key(sol.namespace, roundId), end);
    track(vote(d, roundInput(d, roundId, height, end, p.index), true));
  }

  const roundInput = (d: Duty, roundId: string, startBlock: bigint, endBlock: bigint, p: number): RoundInput => ({
    solution: d.solution.config!.namespace,
    roundId,
    group: d.group,
    logicRef: d.solution.config!.logicRef,
    startBlock,
    endBlock,
    period: p,
    worker: address,
  });

  function track(p: Promise<void>): void {
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }

  async function vote(d: Duty, round: RoundInput, starting = false): Promise<void> {
    const solution = round.solution;
    const fields = { worker: address, solution, roundId: round.roundId };
    let result: Uint8Array | undefined;
    try {
      result = voteBytes(await d.handler!.compute(round));
    } catch (e) {
      metrics.handlerErrors.inc({ solution });
      log.error({ ...fields, err: (e as Error).message }, 'solution logic failed: no vote in this round');
      report(solution, round.roundId, 'failed', { reason: (e as Error).message });
      return;
    }
    if (!result) {
      log.debug(fields, 'the solution logic abstained: no vote');
      report(solution, round.roundId, 'abstained');
      return;
    }
    const hex = Buffer.from(result).toString('hex');
    let delay = retryMs;
    for (let attempt = 1; !abort.signal.aborted || attempt === 1; attempt++) {
      try {
        metrics.votesSent.inc({ solution });
        const send = queue
          .catch(() => undefined)
          .then(async () => {
            // Signed by the client kit, which retries UNAVAILABLE within the deadline (the same
            // bytes; a lost reply answered from the nonce refusal, or the vote signed again).
            return o.ewx.voting.submitVote({ solution, roundId: round.roundId, result: Buffer.from(result!) }, { signer: o.signer, deadlineMs: 10_000 });
          });
        queue = send;
        const res = await send;
        metrics.votesAccepted.inc({ solution });
        log.info({ ...fields, result: hex, repeated: !res.accepted, slot: starting || undefined, attempt }, 'voted');
        report(solution, round.roundId, 'accepted', { result: hex, ...(starting ? { started: true } : {}) });
        return;
      } catch (e) {
        if (!EwxCallError.is(e)) throw e;
        const transient = TRANSIENT.has(e.code) || isNonceRefusal(e);
        if (e.code === 9 && (/expired at block/.test(e.details) || (starting && /^solution: a round would end at block/.test(e.details)))) {
          // The round closed (or its slot passed) while the vote travelled: the worker saw the height late. Missed, not refused.
          metrics.roundsMissed.inc({ solution });
          log.warn({ ...fields, details: e.details }, 'round missed: it closed before the vote arrived');
          report(solution, round.roundId, 'missed', { reason: e.details });
          return;
        }
        if (!transient) {
          metrics.votesRefused.inc({ solution, reason: refusalReason(e.code) });
          log.warn({ ...fields, code: e.codeName, reason: refusalReason(e.code), details: e.details }, 'vote refused');
          report(solution, round.roundId, 'refused', { reason: refusalReason(e.code), result: hex });
          return;
        }
        metrics.voteRetries.inc({ solution });
        const h = await reads.height().catch(() => height);
        if (h >= round.endBlock || abort.signal.aborted) {
          metrics.roundsMissed.inc({ solution });
          log.warn(
            { ...fields, endBlock: round.endBlock.toString(), height: h.toString(), lastError: e.message },
            'round missed: its end block came before the vote got through',
          );
          report(solution, round.roundId, 'missed', { reason: e.message });
          return;
        }
        log.warn({ ...fields, attempt, retryInMs: delay, err: e.message }, 'vote not delivered, retrying');
        await sleep(delay + Math.floor((Math.random() * delay) / 2), abort.signal);
        delay = Math.min(2_000, delay * 2);
      }
    }
  }

  const loop = (async () => {
    log.info({ worker: address, handlers: [...o.handlers.keys()] }, 'worker starting');
    while (!abort.signal.aborted) {
      try {
        await look();
        lastLoopAt = Date.now();
        if (lastError) log.info({ worker: address }, 'network reachable again');
        lastError = undefined;
      } catch (e) {
        const msg = (e as Error).message;
        if (msg !== lastError) log.error({ worker: address, err: msg }, 'cannot read the network: retrying');
        lastError = msg;
      }
      lastTickAt = Date.now();
      await changes.next(abort.signal);
    }
  })();

  return {
    address,
    metrics,
    state: () => ({
      worker: address,
      status: assessment?.status ?? 'starting',
      message: assessment?.message ?? 'starting: first look at the network',
      operator: assessment?.operator,
      height: height.toString(),
      period: period?.index,
      lastLoopAt,
      lastTickAt,
      lastError,
      solutions: (assessment?.duties ?? []).map((d) => ({
        solution: d.solution.config!.namespace,
        group: d.group,
        logicRef: d.solution.config!.logicRef,
        handler: d.handler !== undefined,
        nominated: d.nominated,
      })),
    }),
    until: (status, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (assessment?.status === status) {
            waiters.delete(check);
            clearTimeout(t);
            resolve();
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`worker ${address}: not ${status} after ${timeoutMs} ms (${assessment?.message ?? 'starting'})`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    async stop(graceMs = 5_000) {
      abort.abort();
      changes.close();
      await loop;
      const all = Promise.allSettled([...inflight]);
      await Promise.race([all, new Promise((r) => setTimeout(r, graceMs).unref())]);
      log.info({ worker: address }, 'worker stopped');
    },
  };
}
