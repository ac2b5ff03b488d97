import { decodeRewardsLog } from '@ewx/contracts';
import { BLOCK_PRODUCED, BLOCKS_PRODUCED, recordPeriodClose, traceCauses, type Logger, type Runtime } from '@ewx/platform';
import { CALENDAR_STREAM, decide, groupStream, periodsDue } from '../domain/decide.js';
import type { RewardsState } from '../domain/state.js';

export { CALENDAR_STREAM, groupStream } from '../domain/decide.js';

export interface PeriodSettings {
  /** Length of the first reward periods (REWARD_PERIOD_BLOCKS). */
  readonly periodBlocks: number;
  /** Blocks after a period's last block before it is closed (REWARDS_SETTLEMENT_DELAY). */
  readonly settlementDelay: number;
}

const WAKE_ON = new Set([BLOCK_PRODUCED, BLOCKS_PRODUCED, 'GroupRegistered', 'GroupStatusChanged', 'RewardPeriodScheduleChanged']);

/**
 * The process manager of reward periods: starts the calendar on first start, records each period's
 * start and closes each group's periods once due. Every step is an idempotent command, and a pass
 * runs at start-up, so a crash between a block and its reaction loses nothing.
 */
export function startPeriodReactions(runtime: Runtime<RewardsState>, settings: PeriodSettings, log: Logger): { stop(): Promise<void> } {
  let running: Promise<void> = Promise.resolve();
  let queued = false;
  let stopped = false;
  // Telemetry only: a period's close continues the trace of its last vote metadata (see traceCauses).
  const causes = traceCauses();

  const closeDue = async (group: string): Promise<void> => {
    for (const period of periodsDue(runtime.state(), group, settings.settlementDelay)) {
      if (stopped) return;
      const t0 = Date.now();
      const events = await causes.follow(`${group}|${period}`, () => runtime.execute(groupStream(group),
        (st) => decide({ type: 'ClosePeriod', group, period, settlementDelay: settings.settlementDelay }, st)));
      if (events.length > 0) {
        recordPeriodClose(Date.now() - t0);
        const c = runtime.state().groups.get(group)?.closed.get(period);
        log.info('reward period closed', { group, period, operators: c?.operators, paid: c?.paid.toString(), budgetExhausted: c?.budgetExhausted, ms: Date.now() - t0 });
      }
    }
  };

  const pass = async (): Promise<void> => {
    await runtime.execute(CALENDAR_STREAM, (s) => decide({ type: 'MarkPeriodsStarted' }, s));
    const s = runtime.state();
    for (const group of [...s.groups.keys()]) {
      try {
        await closeDue(group);
      } catch (e) {
        log.warn('reward periods: closing failed, retried at the next block', { group, error: (e as Error).message });
      }
    }
  };

  const wake = (): void => {
    if (queued || stopped) return;
    queued = true;
    running = running.then(async () => {
      queued = false;
      await pass().catch((e: Error) => log.warn('reward periods: a pass failed, retried at the next block', { error: e.message }));
    });
  };

  const unsubscribe = runtime.onEvent((e, s) => {
    const ev = decodeRewardsLog(e);
    if (WAKE_ON.has(e.type)) wake();
    else if (ev?.type === 'VoteMetadata') {
      const d = ev.data;
      causes.note(`${d.group}|${d.rewardPeriod}`);
      const g = s.groups.get(d.group);
      if (g && d.rewardPeriod <= g.lastClosed && d.chunk === 0) {
        log.warn('late vote metadata: its period is closed; recorded, not paid', { group: d.group, period: d.rewardPeriod, solution: d.solution, roundId: d.roundId });
      }
    }
  });

  running = runtime.execute(CALENDAR_STREAM, (s) => decide({ type: 'StartCalendar', length: settings.periodBlocks }, s))
    .then(() => undefined, (e: Error) => log.error('reward periods: starting the calendar failed', { error: e.message }));
  wake();
  return {
    async stop() { stopped = true; unsubscribe(); await running; },
  };
}
