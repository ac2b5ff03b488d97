import { decodeRewardsLog } from '@ewx/contracts';
import { BLOCK_PRODUCED, BLOCKS_PRODUCED, recordPeriodClose, startProcessManager, type Logger, type Runtime } from '@ewx/platform';
import { periodAt } from '@ewx/platform/domain';
import { periodsDue, type RewardsCommand } from '../domain/decide.js';
import { rewardsDecider } from '../domain/decider.js';
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
 * What the calendar owes now, in the order it is owed: the calendar itself on first start, the
 * start of each period the height has entered, then each group's oldest period due for closing
 * (once it is closed, the next one is read again, so a run of blocks closes every period that fell
 * due inside it, in order).
 */
export function periodCommandsDue(s: RewardsState, settings: PeriodSettings): RewardsCommand[] {
  if (s.schedule.length === 0) return [{ type: 'StartCalendar', length: settings.periodBlocks }];
  const out: RewardsCommand[] = [];
  const current = periodAt(s.schedule, s.height);
  if (current && current.index > s.lastStartedPeriod) out.push({ type: 'MarkPeriodsStarted' });
  for (const group of s.groups.keys()) {
    const [period] = periodsDue(s, group, settings.settlementDelay);
    if (period !== undefined) out.push({ type: 'ClosePeriod', group, period, settlementDelay: settings.settlementDelay });
  }
  return out;
}

/**
 * The process manager of reward periods (`startProcessManager`): starts the calendar on first
 * start, records each period's start and closes each group's periods once due. Every step is an
 * idempotent command, and a pass runs at start-up, so a crash between a block and its reaction
 * loses nothing; a command that fails is tried again at the next block.
 */
export function startPeriodReactions(runtime: Runtime<RewardsState>, settings: PeriodSettings, log: Logger): { stop(): Promise<void> } {
  return startProcessManager(runtime, {
    decider: rewardsDecider,
    policy: undefined,
    log,
    due: (s) => periodCommandsDue(s, settings),
    failure: 'reward periods: a command failed, retried at the next block',
    triggers: (e, s) => {
      if (WAKE_ON.has(e.type)) return true;
      const ev = decodeRewardsLog(e);
      if (ev?.type === 'VoteMetadata') {
        const d = ev.data;
        const g = s.groups.get(d.group);
        if (g && d.rewardPeriod <= g.lastClosed && d.chunk === 0) {
          log.warn('late vote metadata: its period is closed; recorded, not paid', {
            group: d.group,
            period: d.rewardPeriod,
            solution: d.solution,
            roundId: d.roundId,
          });
        }
      }
      return false;
    },
    // Telemetry only: a period's close continues the trace of its last vote metadata (see traceCauses).
    causeOf: (e) => {
      const ev = decodeRewardsLog(e);
      return ev?.type === 'VoteMetadata' ? `${ev.data.group}|${ev.data.rewardPeriod}` : undefined;
    },
    causeKeyOf: (c) => (c.type === 'ClosePeriod' ? `${c.group}|${c.period}` : undefined),
    onDone: (c, events, ms) => {
      if (c.type !== 'ClosePeriod' || events.length === 0) return;
      recordPeriodClose(ms);
      const closed = runtime.state().groups.get(c.group)?.closed.get(c.period);
      log.info('reward period closed', {
        group: c.group,
        period: c.period,
        operators: closed?.operators,
        paid: closed?.paid.toString(),
        budgetExhausted: closed?.budgetExhausted,
        ms,
      });
    },
  });
}
