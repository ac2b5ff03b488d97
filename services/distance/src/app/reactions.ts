import { BLOCK_PRODUCED, type Logger, type Runtime } from '@ewx/platform';
import { decide, poolStream } from '../domain/decider.js';
import type { DistanceParams } from '../domain/params.js';
import { dueForSettlement } from '../domain/settlement.js';
import type { DistanceState } from '../domain/state.js';
import type { Requests } from './requests.js';

export { poolStream } from '../domain/decider.js';

/**
 * When a block begins a new period, settle every period that is due (one command per period, each
 * idempotent). Also run once at start-up, so a crash between a block and its settlement loses
 * nothing, and re-drive holds whose outcome is unknown every `redriveMs`.
 */
export function startReactions(runtime: Runtime<DistanceState>, params: DistanceParams, reqs: Requests, log: Logger, redriveMs = 5000): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let queued = false;
  let stopped = false;
  const settleDue = async (): Promise<void> => {
    for (let period = dueForSettlement(runtime.state()); period !== undefined && !stopped; period = dueForSettlement(runtime.state())) {
      await runtime.execute(poolStream(period), (s) => decide({ type: 'SettleDuePeriod' }, s, params));
    }
  };
  const kick = (): void => {
    if (queued) return;
    queued = true;
    running = running.then(async () => {
      queued = false;
      await settleDue().catch((e: Error) => log.warn('settlement failed, will retry at the next block', { error: e.message }));
    });
  };
  const off = runtime.onEvent((e) => { if (e.type === BLOCK_PRODUCED) kick(); });
  kick();
  let redriving: Promise<unknown> = reqs.redrive().catch(() => 0);
  const timer = setInterval(() => {
    redriving = redriving.then(() => reqs.redrive()).catch((e: Error) => log.warn('re-drive failed', { error: e.message }));
    kick();
  }, redriveMs);
  return {
    async stop() {
      stopped = true;
      off();
      clearInterval(timer);
      await running;
      await redriving;
    },
  };
}
