import { status as grpcStatus } from '@grpc/grpc-js';
import { RoundState, type Round } from '@ewx/proto/voting';
import type { PeriodPayout } from '@ewx/proto/rewards';
import type { ServiceStatus } from '@ewx/proto/common';
import { SERVICE_NAMES, type Ewx, type ServiceName } from './connect.js';
import { EwxCallError } from './errors.js';
import { rewardPeriodOf } from './periods.js';

/** Consensus's block events (the clock), recorded by every service: one block, or a run of blocks. */
const BLOCK_EVENTS = ['BlockProduced', 'BlocksProduced'];

export interface WaitOptions {
  /** Give up after this long (default 60 s) with an error naming what was awaited. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /**
   * False: a check that fails (e.g. a service unreachable) ends the wait with its error at once, as
   * `connect({ retry: false })` does for one call (the CLI's --no-retry). Default true: a failing
   * check is tried again until the deadline.
   */
  readonly retry?: boolean;
}

/**
 * How the helpers learn that something changed: `until` resolves with the first value of `check`
 * that is not undefined, re-running it when something may have changed; it fails at once on a
 * refusal (the question is wrong) and at the deadline, naming what it waited for. The helpers use
 * `watchChanges` (the services' Watch streams); `pollingChanges` is kept for callers that pass it.
 */
export interface Changes {
  until<T>(what: string, check: () => Promise<T | undefined>, options?: WaitOptions): Promise<T>;
}

/** Errors that waiting cannot cure: the question itself is wrong. */
const FATAL = new Set<number>([grpcStatus.INVALID_ARGUMENT, grpcStatus.PERMISSION_DENIED, grpcStatus.UNAUTHENTICATED, grpcStatus.UNIMPLEMENTED]);

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Whether a failing check ends the wait: a refusal always, any error with `retry: false`. */
const endsWait = (e: unknown, retry: boolean | undefined): boolean => retry === false || (EwxCallError.is(e) && FATAL.has(e.code));

const timedOut = (what: string, timeoutMs: number, last: unknown): Error =>
  new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);

/** Polls `check` with exponential backoff (50 ms doubling to 1 s by default). */
export function pollingChanges({ firstMs = 50, maxMs = 1_000 } = {}): Changes {
  return {
    async until(what, check, { timeoutMs = 60_000, signal, retry } = {}) {
      const deadline = Date.now() + timeoutMs;
      let delay = firstMs;
      let last: unknown;
      for (;;) {
        signal?.throwIfAborted();
        try {
          const v = await check();
          if (v !== undefined) return v;
          last = undefined;
        } catch (e) {
          if (endsWait(e, retry)) throw e;
          last = e;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw timedOut(what, timeoutMs, last);
        await new Promise((r) => setTimeout(r, Math.min(delay, left)));
        delay = Math.min(maxMs, delay * 2);
      }
    },
  };
}

/** What one service's Watch stream should show for a check to be worth re-running. */
export interface WatchSource {
  readonly service: ServiceName;
  /** Event types that may change the answer (all when empty). */
  readonly types: readonly string[];
  /** Also the other services' events the service records (e.g. BlockProduced in voting). */
  readonly includeInputs?: boolean;
}

/**
 * Changes learned from the services' Watch streams: each source's stream is opened from the
 * service's current position (`GetStatus().position`, read before the first check, so nothing
 * between the check and the stream is missed), and `check` runs again after events arrive
 * (coalesced: one check for however many events came while the previous one ran). A stream that
 * ends (the server stopped) or breaks is reopened from the last position received, with backoff.
 * A failing check is retried on the next event or after a backoff (50 ms doubling to 1 s). A server
 * without Watch (UNIMPLEMENTED) makes the source fall back to polling every second.
 */
export function watchChanges(ewx: Ewx, sources: readonly WatchSource[]): Changes {
  return {
    async until(what, check, { timeoutMs = 60_000, signal, retry } = {}) {
      signal?.throwIfAborted();
      const deadline = Date.now() + timeoutMs;
      const stop = new AbortController();
      const onAbort = (): void => stop.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      let dirty = true;
      let wake: (() => void) | undefined;
      const notify = (): void => {
        dirty = true;
        wake?.();
      };
      const sleep = (ms: number): Promise<void> => pause(ms, stop.signal);
      const follow = async (src: WatchSource, start: string | undefined): Promise<void> => {
        let from = start;
        let failures = 0;
        while (!stop.signal.aborted) {
          try {
            if (from === undefined) {
              from = (await ewx[src.service].getStatus({}, { deadlineMs: 10_000 })).position;
              notify();
            }
            for await (const e of ewx.watch(src.service, { from, types: src.types, includeInputs: src.includeInputs ?? false, signal: stop.signal })) {
              from = e.position;
              failures = 0;
              notify();
            }
          } catch (e) {
            if (EwxCallError.is(e) && e.code === grpcStatus.UNIMPLEMENTED) {
              // An older server: no stream to follow, so look again every second.
              while (!stop.signal.aborted) {
                await sleep(1_000);
                notify();
              }
              return;
            }
          }
          if (stop.signal.aborted) return;
          // The stream ended or broke: reopen where it stopped; the state may have moved meanwhile.
          await sleep(Math.min(1_000, 50 * 2 ** failures++));
          notify();
        }
      };
      // Positions first: a change after them reaches the streams, one before them the first check.
      // (A service that does not answer yet gets its position later, and a check then.)
      const first = { deadlineMs: Math.max(1, Math.min(10_000, timeoutMs)) };
      const starts = await Promise.all(
        sources.map((src) =>
          ewx[src.service].getStatus({}, first).then(
            (st) => st.position,
            () => undefined,
          ),
        ),
      );
      const streams = Promise.all(sources.map((src, i) => follow(src, starts[i])));
      let last: unknown;
      let retryMs = 50;
      try {
        for (;;) {
          signal?.throwIfAborted();
          if (dirty) {
            dirty = false;
            try {
              const v = await check();
              if (v !== undefined) return v;
              last = undefined;
              retryMs = 50;
            } catch (e) {
              if (endsWait(e, retry)) throw e;
              last = e;
            }
            continue;
          }
          const left = deadline - Date.now();
          if (left <= 0) throw timedOut(what, timeoutMs, last);
          await new Promise<void>((resolve) => {
            const t = setTimeout(done, last === undefined ? left : Math.min(left, retryMs));
            function done(): void {
              clearTimeout(t);
              wake = undefined;
              signal?.removeEventListener('abort', done);
              resolve();
            }
            wake = done;
            signal?.addEventListener('abort', done, { once: true });
          });
          if (last !== undefined && !dirty) {
            dirty = true;
            retryMs = Math.min(1_000, retryMs * 2);
          }
        }
      } finally {
        signal?.removeEventListener('abort', onAbort);
        stop.abort();
        await streams.catch(() => undefined);
      }
    },
  };
}

export interface HeightOptions extends WaitOptions {
  readonly changes?: Changes;
  /** Called with each service's status after every look. */
  readonly onProgress?: (statuses: Record<ServiceName, ServiceStatus>) => void;
}

/** How often `untilHeight` asks consensus to record the blocks it counted (RecordCountedBlocks). */
export const RECORD_COUNTED_EVERY_MS = 500;

/**
 * Waits until every service has recorded block `height`; returns their statuses. With a timed clock,
 * idle blocks are counted by consensus's producer and recorded only when a decision needs them
 * (docs/SCALING.md, "The clock"): meanwhile it asks the producer every `RECORD_COUNTED_EVERY_MS` to
 * record its count once it reaches `height` (RecordCountedBlocks with at_least: nothing is recorded
 * before), so the wait ends when the wall clock reaches the height, not at the next run.
 */
export async function untilHeight(ewx: Ewx, height: bigint | number, options: HeightOptions = {}): Promise<Record<ServiceName, ServiceStatus>> {
  const h = BigInt(height);
  const changes =
    options.changes ??
    watchChanges(
      ewx,
      SERVICE_NAMES.map((service) => ({ service, types: BLOCK_EVENTS, includeInputs: true })),
    );
  const stop = new AbortController();
  const asking = askRecorded(ewx, h, stop.signal);
  try {
    return await changes.until(
      `every service at height ${h}`,
      async () => {
        const all = await Promise.all(SERVICE_NAMES.map((n) => ewx[n].getStatus({})));
        const statuses = Object.fromEntries(SERVICE_NAMES.map((n, i) => [n, all[i]!])) as Record<ServiceName, ServiceStatus>;
        options.onProgress?.(statuses);
        return all.every((s) => s.height >= h) ? statuses : undefined;
      },
      options,
    );
  } finally {
    stop.abort();
    await asking;
  }
}

/**
 * Asks consensus to record its counted blocks once they reach `h`, until consensus's recorded height
 * reaches it or `signal` aborts. Never fails: an error (consensus restarting, a standby) is asked
 * again at the next turn; a server without RecordCountedBlocks (UNIMPLEMENTED) is not asked again.
 */
async function askRecorded(ewx: Ewx, h: bigint, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    try {
      if ((await ewx.consensus.recordCountedBlocks({ atLeast: h }, { deadlineMs: 2_000 })).height >= h) return;
    } catch (e) {
      if (EwxCallError.is(e) && e.code === grpcStatus.UNIMPLEMENTED) return;
    }
    await pause(RECORD_COUNTED_EVERY_MS, signal);
  }
}

const FINAL_ROUND = new Set([RoundState.ROUND_STATE_SETTLED, RoundState.ROUND_STATE_UNRESOLVED]);

/**
 * Waits until a round's outcome is final everywhere it is kept: voting reports it settled or
 * unresolved and consensus' settlement says the same. (The round closes for votes at
 * `start + max_waiting_threshold` blocks; validators then attest.)
 */
export async function untilRoundClosed(ewx: Ewx, solution: string, roundId: string, options: WaitOptions & { changes?: Changes } = {}): Promise<Round> {
  const changes =
    options.changes ??
    watchChanges(ewx, [
      // Voting learns the outcome from consensus (its inputs); consensus settles or gives up.
      { service: 'voting', types: ['RoundClosed', 'RoundSettled', 'RoundUnresolved'], includeInputs: true },
      { service: 'consensus', types: ['RoundSettled', 'RoundUnresolved'] },
    ]);
  return changes.until(
    `round ${roundId} of ${solution} settled or unresolved in voting and consensus`,
    async () => {
      const round = await ewx.voting.getRound({ solution, roundId });
      if (!FINAL_ROUND.has(round.state)) return undefined;
      const s = await ewx.consensus.getSettlement({ solution, roundId });
      // round_state (the shared names); a server before it had only the string `state`.
      const final = s.roundState !== RoundState.ROUND_STATE_UNSPECIFIED ? FINAL_ROUND.has(s.roundState) : s.state === 'SETTLED' || s.state === 'UNRESOLVED';
      return final ? round : undefined;
    },
    options,
  );
}

/**
 * Waits until a group's reward period is closed by rewards and every payout chunk has been
 * answered by the registry's ledger (credited, or refused): from then on `GetAccount` shows the
 * unclaimed rewards and `ClaimRewards` can move them.
 */
export async function untilPeriodPaid(ewx: Ewx, group: string, period: number, options: WaitOptions & { changes?: Changes } = {}): Promise<PeriodPayout> {
  // Rewards computes the payout chunks, the registry's answers (credited, refused) are its inputs.
  const changes =
    options.changes ??
    watchChanges(ewx, [{ service: 'rewards', types: ['RewardsDecided', 'RewardsComputed', 'RewardsCredited', 'RewardsCreditRefused'], includeInputs: true }]);
  return changes.until(
    `reward period ${period} of group ${group} closed and credited`,
    async () => {
      const payouts = await ewx.rewards.getGroupPayouts({ group, limit: 500 });
      const p = payouts.periods.find((x) => rewardPeriodOf(x) === period);
      return p && p.creditedChunks + p.refusedChunks >= p.payoutChunks ? p : undefined;
    },
    options,
  );
}
