import { status as grpcStatus } from '@grpc/grpc-js';
import { RoundState, type Round } from '@ewx/proto/voting';
import type { PeriodPayout } from '@ewx/proto/rewards';
import type { ServiceStatus } from '@ewx/proto/common';
import { SERVICE_NAMES, type Ewx, type ServiceName } from './connect.js';
import { EwxCallError } from './errors.js';

export interface WaitOptions {
  /** Give up after this long (default 60 s) with an error naming what was awaited. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * How the helpers learn that something changed. There is no watch stream in the services yet, so
 * the one implementation polls (`pollingChanges`); a stream-backed one would re-run `check` on
 * each event instead and keep the same contract: resolve with the first value that is not
 * undefined, retry after transient errors, fail on refusals and at the deadline.
 */
export interface Changes {
  until<T>(what: string, check: () => Promise<T | undefined>, options?: WaitOptions): Promise<T>;
}

/** Errors that waiting cannot cure: the question itself is wrong. */
const FATAL = new Set<number>([grpcStatus.INVALID_ARGUMENT, grpcStatus.PERMISSION_DENIED, grpcStatus.UNAUTHENTICATED, grpcStatus.UNIMPLEMENTED]);

/** Polls `check` with exponential backoff (50 ms doubling to 1 s by default). */
export function pollingChanges({ firstMs = 50, maxMs = 1_000 } = {}): Changes {
  return {
    async until(what, check, { timeoutMs = 60_000, signal } = {}) {
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
          if (EwxCallError.is(e) && FATAL.has(e.code)) throw e;
          last = e;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
        await new Promise((r) => setTimeout(r, Math.min(delay, left)));
        delay = Math.min(maxMs, delay * 2);
      }
    },
  };
}

export interface HeightOptions extends WaitOptions {
  readonly changes?: Changes;
  /** Called with each service's status after every look. */
  readonly onProgress?: (statuses: Record<ServiceName, ServiceStatus>) => void;
}

/** Waits until every service has recorded block `height`; returns their statuses. */
export async function untilHeight(ewx: Ewx, height: bigint | number, options: HeightOptions = {}): Promise<Record<ServiceName, ServiceStatus>> {
  const h = BigInt(height);
  const changes = options.changes ?? pollingChanges();
  return changes.until(`every service at height ${h}`, async () => {
    const all = await Promise.all(SERVICE_NAMES.map((n) => ewx[n].getStatus({})));
    const statuses = Object.fromEntries(SERVICE_NAMES.map((n, i) => [n, all[i]!])) as Record<ServiceName, ServiceStatus>;
    options.onProgress?.(statuses);
    return all.every((s) => s.height >= h) ? statuses : undefined;
  }, options);
}

const FINAL_ROUND = new Set([RoundState.ROUND_STATE_SETTLED, RoundState.ROUND_STATE_UNRESOLVED]);

/**
 * Waits until a round's outcome is final everywhere it is kept: voting reports it settled or
 * unresolved and consensus' settlement says the same. (The round closes for votes at
 * `start + max_waiting_threshold` blocks; validators then attest.)
 */
export async function untilRoundClosed(ewx: Ewx, solution: string, roundId: string, options: WaitOptions & { changes?: Changes } = {}): Promise<Round> {
  const changes = options.changes ?? pollingChanges();
  return changes.until(`round ${roundId} of ${solution} settled or unresolved in voting and consensus`, async () => {
    const round = await ewx.voting.getRound({ solution, roundId });
    if (!FINAL_ROUND.has(round.state)) return undefined;
    const s = await ewx.consensus.getSettlement({ solution, roundId });
    return s.state === 'SETTLED' || s.state === 'UNRESOLVED' ? round : undefined;
  }, options);
}

/**
 * Waits until a group's reward period is closed by rewards and every payout chunk has been
 * answered by the registry's ledger (credited, or refused): from then on `GetAccount` shows the
 * unclaimed rewards and `ClaimRewards` can move them.
 */
export async function untilPeriodPaid(ewx: Ewx, group: string, period: number, options: WaitOptions & { changes?: Changes } = {}): Promise<PeriodPayout> {
  const changes = options.changes ?? pollingChanges();
  return changes.until(`reward period ${period} of group ${group} closed and credited`, async () => {
    const payouts = await ewx.rewards.getGroupPayouts({ group, limit: 500 });
    const p = payouts.periods.find((x) => x.period === period);
    return p && p.creditedChunks + p.refusedChunks >= p.payoutChunks ? p : undefined;
  }, options);
}
