import { isBlockEvent, startProcessManager, type Logger, type Runtime } from '@ewx/platform';
import { distanceDecider } from '../domain/decider.js';
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
export function startReactions(
  runtime: Runtime<DistanceState>,
  params: DistanceParams,
  reqs: Requests,
  log: Logger,
  redriveMs = 5000,
): { stop(): Promise<void> } {
  // One settlement per due period: after each, the next period may be due (its stream differs).
  const settlements = startProcessManager(runtime, {
    decider: distanceDecider,
    policy: params,
    log,
    failure: 'settlement failed, will retry at the next block',
    due: (s) => (dueForSettlement(s) === undefined ? [] : [{ type: 'SettleDuePeriod' }]),
    triggers: isBlockEvent,
  });
  const kick = settlements.kick;
  let redriving: Promise<unknown> = reqs.redrive().catch(() => 0);
  const timer = setInterval(() => {
    redriving = redriving.then(() => reqs.redrive()).catch((e: Error) => log.warn('re-drive failed', { error: e.message }));
    kick();
  }, redriveMs);
  return {
    async stop() {
      clearInterval(timer);
      await settlements.stop();
      await redriving;
    },
  };
}
