import { EwxCallError, type Ewx, type WatchedEvent } from '@ewx/client';
import type { Operator, Solution } from '@ewx/proto/registry';

/** The operator a worker serves, as far as the ladder needs it. */
export type ServedOperator = Pick<Operator, 'address' | 'subscriptions'>;
import type { ScheduleEntry } from '@ewx/proto/rewards';
import { RoundState, type Round } from '@ewx/proto/voting';

/** A reward period as the worker needs it: which rounds may start, which stakes count. */
export interface PeriodInfo {
  readonly index: number;
  readonly firstBlock: bigint;
  readonly lastBlock: bigint;
}

/** The period containing `height` under the rewards schedule (SPEC §6), as the services compute it. */
export function periodAt(schedule: readonly ScheduleEntry[], height: bigint): PeriodInfo | undefined {
  for (let i = schedule.length - 1; i >= 0; i--) {
    const e = schedule[i]!;
    if (height >= e.firstBlock) {
      const k = (height - e.firstBlock) / BigInt(e.length);
      const firstBlock = e.firstBlock + k * BigInt(e.length);
      return { index: e.fromPeriod + Number(k), firstBlock, lastBlock: firstBlock + BigInt(e.length) - 1n };
    }
  }
  return undefined;
}

/** What the worker reads from the network. Queries only: nothing here signs. */
export interface NetworkReads {
  /** Voting's height: votes are accepted while it is below a round's end block. */
  height(): Promise<bigint>;
  schedule(): Promise<readonly ScheduleEntry[]>;
  /** The operator this worker serves, if any, with its subscriptions. */
  operatorOf(worker: string): Promise<ServedOperator | undefined>;
  solutionsOf(group: string): Promise<Solution[]>;
  activeRounds(solution: string): Promise<Round[]>;
  round(solution: string, roundId: string): Promise<Round | undefined>;
}

const PAGE = 500;

async function allPages<T>(page: (token: string) => Promise<{ items: T[]; next: string }>): Promise<T[]> {
  const out: T[] = [];
  let token = '';
  do {
    const r = await page(token);
    out.push(...r.items);
    token = r.next;
  } while (token);
  return out;
}

/**
 * The reads over the client kit. The operator of the worker comes from the registry's worker index
 * (`GetWorker`: one call, the operator and its subscriptions). Only a registry older than that RPC
 * (UNIMPLEMENTED) is read the old way: `operatorHint` asked directly, else the operator list scanned
 * (500 a page) until the worker is found.
 */
export function clientReads(ewx: Ewx, operatorHint?: string): NetworkReads {
  let known = operatorHint;
  let lookup = true;
  return {
    height: async () => (await ewx.voting.getStatus({})).height,
    schedule: async () => (await ewx.rewards.getCurrentPeriod({})).schedule,
    async operatorOf(worker) {
      if (lookup) {
        try {
          const w = await ewx.registry.getWorker({ address: worker });
          return w.connected ? { address: w.operator, subscriptions: w.subscriptions } : undefined;
        } catch (e) {
          if (!(EwxCallError.is(e) && e.code === 12)) throw e;
          lookup = false; // UNIMPLEMENTED: a registry before GetWorker
        }
      }
      if (known) {
        const op = await ewx.registry.getOperator({ address: known }).catch(() => undefined);
        if (op?.worker === worker) return op;
        if (operatorHint) return undefined;
      }
      const all = await allPages(async (pageToken) => {
        const r = await ewx.registry.listOperators({ page: { pageSize: PAGE, pageToken } });
        return { items: r.operators, next: r.page?.nextPageToken ?? '' };
      });
      const op = all.find((o) => o.worker === worker);
      known = op?.address;
      return op;
    },
    solutionsOf: (group) =>
      allPages(async (pageToken) => {
        const r = await ewx.registry.listSolutions({ group, page: { pageSize: PAGE, pageToken } });
        return { items: r.solutions, next: r.page?.nextPageToken ?? '' };
      }),
    activeRounds: (solution) =>
      allPages(async (pageToken) => {
        const r = await ewx.voting.listRounds({ solution, state: RoundState.ROUND_STATE_ACTIVE, page: { pageSize: PAGE, pageToken } });
        return { items: r.rounds, next: r.page?.nextPageToken ?? '' };
      }),
    round: (solution, roundId) =>
      ewx.voting.getRound({ solution, roundId }).catch((e: { code?: number }) => {
        if (e.code === 5) return undefined; // NOT_FOUND
        throw e;
      }),
  };
}

/**
 * When to look at the network again. The runtime re-reads what it follows each time `next`
 * resolves: a polling ticker today; a stream-backed one resolves on each published event instead.
 * This is the one place to switch when the services' Watch stream is at hand.
 */
export interface Changes {
  next(signal: AbortSignal): Promise<void>;
  close(): void;
}

/** Resolves every `intervalMs` (or at once when aborted). */
export function pollingChanges(intervalMs: number): Changes {
  return {
    next: (signal) =>
      new Promise((resolve) => {
        if (signal.aborted) return resolve();
        const t = setTimeout(done, intervalMs);
        function done(): void {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done, { once: true });
      }),
    close() {},
  };
}

/** Waits `ms`, or less if `signal` aborts first (it resolves either way). */
export const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((r) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      r();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** A round as voting's RoundStarted event announces it: enough to vote without reading the round. */
export interface StartedRound {
  readonly solution: string;
  readonly roundId: string;
  readonly group: string;
  readonly startBlock: bigint;
  readonly endBlock: bigint;
  readonly period: number;
}

/** The RoundStarted event's data, or undefined if it is not one (a newer shape is read as far as it goes). */
export function startedRound(e: Pick<WatchedEvent, 'type' | 'data'>): StartedRound | undefined {
  if (e.type !== 'RoundStarted' || typeof e.data !== 'object' || e.data === null) return undefined;
  const d = e.data as Record<string, unknown>;
  // `rewardPeriod` if the event carries it (the contract's spelling), else `period`.
  const period = d.rewardPeriod ?? d.period;
  if (
    typeof d.solution !== 'string' ||
    typeof d.roundId !== 'string' ||
    typeof d.group !== 'string' ||
    !Number.isSafeInteger(d.startBlock) ||
    !Number.isSafeInteger(d.endBlock) ||
    !Number.isSafeInteger(period)
  )
    return undefined;
  return {
    solution: d.solution,
    roundId: d.roundId,
    group: d.group,
    startBlock: BigInt(d.startBlock as number),
    endBlock: BigInt(d.endBlock as number),
    period: period as number,
  };
}

export interface WatchChangesOptions {
  /** Looks again after this long without an event (default 2 s). */
  readonly idleMs?: number;
  /** The polling interval when the server has no Watch (default 250 ms). */
  readonly pollMs?: number;
  readonly onMode?: (mode: 'watch' | 'polling', why: string) => void;
  /** Each round voting starts, as soon as the stream brings it (before the look it also triggers). */
  readonly onRoundStarted?: (round: StartedRound) => void;
  /**
   * Whether a recorded block (its height) is a change worth a look (default: always). A look per
   * block per worker is what kept the service busy under load; the runtime asks for a block only
   * when it acts on the height (not ready yet, a period turning, worker-started slots).
   */
  readonly wantsBlock?: (height: bigint | undefined) => boolean;
}

/**
 * Changes learned from voting's Watch stream with its inputs: its own events (rounds started,
 * votes, rounds closed) and what it records from the others (blocks, subscriptions, workers,
 * solutions), from its current position on. `next` resolves as soon as an event came since the
 * last look (however many came), or after `idleMs` without one (the ladder is read again then).
 * A broken or ended stream is reopened from the last position with backoff; a server without
 * Watch (UNIMPLEMENTED) makes it poll every `pollMs` instead.
 */
export function watchChanges(ewx: Ewx, { idleMs = 2_000, pollMs = 250, onMode, onRoundStarted, wantsBlock }: WatchChangesOptions = {}): Changes {
  const stop = new AbortController();
  let dirty = true;
  let polling = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    dirty = true;
    wake?.();
  };
  void (async () => {
    let from: string | undefined;
    let failures = 0;
    while (!stop.signal.aborted) {
      try {
        if (from === undefined) from = (await ewx.voting.getStatus({}, { deadlineMs: 10_000 })).position;
        notify();
        if (failures === 0) onMode?.('watch', `following voting's Watch stream from position ${JSON.stringify(from)}`);
        for await (const e of ewx.watch('voting', { from, includeInputs: true, signal: stop.signal })) {
          from = e.position;
          failures = 0;
          const round = startedRound(e);
          if (round) {
            try {
              onRoundStarted?.(round);
            } catch {
              /* the listener's error is not the stream's */
            }
          }
          // Other workers' votes change nothing the worker acts on; with many workers they would make every runtime look again per vote.
          if (e.type === 'VoteCast' || e.type === 'VotesCast') continue;
          if (e.type === 'BlockProduced' && wantsBlock && !wantsBlock(e.height)) continue;
          notify();
        }
      } catch (e) {
        if (EwxCallError.is(e) && e.code === 12) {
          polling = true;
          onMode?.('polling', 'the voting service has no Watch stream (UNIMPLEMENTED): polling instead');
          return;
        }
      }
      if (stop.signal.aborted) return;
      // The stream ended (server stopped) or broke: reopen where it stopped, after a pause.
      await sleep(Math.min(1_000, 50 * 2 ** failures++), stop.signal);
    }
  })();
  return {
    next: (signal) =>
      new Promise((resolve) => {
        if (dirty || signal.aborted) {
          dirty = false;
          resolve();
          return;
        }
        const t = setTimeout(done, polling ? pollMs : idleMs);
        function done(): void {
          clearTimeout(t);
          wake = undefined;
          signal.removeEventListener('abort', done);
          dirty = false;
          resolve();
        }
        wake = done;
        signal.addEventListener('abort', done, { once: true });
      }),
    close: () => stop.abort(),
  };
}
