import { rewardsEvent } from '@ewx/contracts';
import { denied, invalid, periodAt, periodByIndex, precondition, scheduleChange, type EventData } from '@ewx/platform/domain';
import { computePeriodRewards, type OperatorInput, type PeriodInputs } from './compute.js';
import { decisionEvents } from './events.js';
import { budgetLeft, periodStake, ratesAt, type OperatorStake, type RewardsState } from './state.js';
import { sortedOrder } from './sort.js';

/** Longest reward period accepted: about 4 months of 12-second blocks. */
export const MAX_PERIOD_LENGTH = 1_000_000;

export type RewardsCommand =
  /** First start: the calendar begins at block 1 with the configured length; nothing if it exists. */
  | { readonly type: 'StartCalendar'; readonly length: number }
  /** Admin: a new period length, effective from the next period. */
  | { readonly type: 'SetRewardPeriodLength'; readonly signer: string; readonly admin: string; readonly length: number }
  /** Record the start of each period the recorded height has entered. */
  | { readonly type: 'MarkPeriodsStarted' }
  /** Close `period` for `group` once the height reached its last block + `settlementDelay`. */
  | { readonly type: 'ClosePeriod'; readonly group: string; readonly period: number; readonly settlementDelay: number };

/** The calendar's stream, and each group's for its period decisions. */
export const CALENDAR_STREAM = 'calendar';
export const groupStream = (group: string): string => `group:${group}`;

export function streamOf(c: RewardsCommand): string {
  return c.type === 'ClosePeriod' ? groupStream(c.group) : CALENDAR_STREAM;
}

export function decide(c: RewardsCommand, s: RewardsState): EventData[] {
  switch (c.type) {
    case 'StartCalendar':
      if (s.schedule.length > 0) return [];
      return [rewardsEvent({ type: 'RewardPeriodScheduleChanged', data: { fromPeriod: 0, firstBlock: 1, length: periodLength(c.length) } })];
    case 'SetRewardPeriodLength': {
      if (c.signer !== c.admin) throw denied('auth.signer: only the admin account may change the reward period length');
      const length = periodLength(c.length);
      if (s.schedule.length === 0) throw precondition('length: the reward period calendar has not started yet');
      return [rewardsEvent({ type: 'RewardPeriodScheduleChanged', data: scheduleChange(s.schedule, Math.max(s.height, 1), length) })];
    }
    case 'MarkPeriodsStarted': {
      const current = periodAt(s.schedule, s.height);
      if (!current) return [];
      const out: EventData[] = [];
      for (let i = Math.max(s.lastStartedPeriod + 1, 0); i <= current.index; i++) {
        const p = periodByIndex(s.schedule, i)!;
        out.push(rewardsEvent({ type: 'RewardPeriodStarted', data: { index: p.index, firstBlock: p.firstBlock, lastBlock: p.lastBlock } }));
      }
      return out;
    }
    case 'ClosePeriod': {
      const stakes: bigint[] = [];
      const inputs = closingInputs(s, c.group, c.period, c.settlementDelay, stakes);
      return inputs ? decisionEvents(inputs, computePeriodRewards(inputs, stakes)) : [];
    }
    default: {
      const never: never = c;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
}

function periodLength(length: number): number {
  if (!Number.isInteger(length) || length < 1 || length > MAX_PERIOD_LENGTH) {
    throw invalid('length', `expected a reward period length of 1 to ${MAX_PERIOD_LENGTH} blocks, got ${length}`);
  }
  return length;
}

/**
 * The inputs of `group`'s decision for `period`, or undefined when there is nothing to decide:
 * already closed (idempotent), or not the next period due. `stakes`, when given, receives each
 * operator's stake as a bigint (what `operators[i].stake` spells), so the close does not parse them back.
 */
export function closingInputs(s: RewardsState, group: string, period: number, settlementDelay: number, stakes?: bigint[]): PeriodInputs | undefined {
  const g = s.groups.get(group);
  if (!g) throw precondition(`ClosePeriod: group ${group} is not known to rewards`);
  if (period <= g.lastClosed || g.status === 'REMOVED') return undefined;
  if (period !== g.lastClosed + 1) throw precondition(`ClosePeriod: group ${group} closes period ${g.lastClosed + 1} first`);
  const p = periodByIndex(s.schedule, period);
  if (!p) throw precondition('ClosePeriod: the reward period calendar has not started yet');
  if (s.height < p.lastBlock + settlementDelay) {
    throw precondition(
      `ClosePeriod: period ${period} ends at block ${p.lastBlock}; it closes at block ${p.lastBlock + settlementDelay}, height is ${s.height}`,
    );
  }
  const rates = ratesAt(g, period);
  const byOperator: Map<string, OperatorStake> = s.stakes.get(group) ?? new Map();
  const votes = s.votes.get(group)?.get(period)?.operators ?? new Map();
  // Every operator once, sorted by address. The rows are built in the maps' own order (insertion
  // order: walking them so is far cheaper than looking operators up in address order), then put in
  // address order: the keys are distinct strings, ordered as `<` orders them (UTF-16 code units) by
  // a radix sort (sort.ts), much cheaper than comparing long addresses.
  const rows: OperatorInput[] = [];
  const rowStakes: bigint[] = [];
  const rowKeys: string[] = [];
  const add = (op: string, o: OperatorStake | undefined): void => {
    const { stake, inFinalPeriod } = periodStake(o, period);
    const counts = votes.get(op);
    const eligible = counts?.eligible ?? 0;
    const correct = counts?.correct ?? 0;
    if (stake === 0n && eligible === 0 && correct === 0 && !inFinalPeriod) return;
    rows.push({ operator: op, stake: stake.toString(), eligibleRounds: eligible, correctVotes: correct, inFinalPeriod });
    rowStakes.push(stake);
    rowKeys.push(op);
  };
  for (const [op, o] of byOperator) add(op, o);
  for (const op of votes.keys()) if (!byOperator.has(op)) add(op, undefined);
  const order = sortedOrder(rowKeys);
  const operators: OperatorInput[] = new Array<OperatorInput>(order.length);
  for (let i = 0; i < order.length; i++) {
    operators[i] = rows[order[i]!]!;
    stakes?.push(rowStakes[order[i]!]!);
  }
  return {
    group,
    period,
    firstBlock: p.firstBlock,
    lastBlock: p.lastBlock,
    config: {
      subscriptionRewardPerBlock: rates.subscription.toString(),
      votingRewardPerBlock: rates.voting.toString(),
      slaVotingThreshold: g.config.slaVotingThreshold,
      operationStartBlock: g.config.operationStartBlock,
      operationEndBlock: g.config.operationEndBlock,
    },
    budget: budgetLeft(g).toString(),
    operators,
  };
}

/** Periods of `group` due for closing at the recorded height, in order. */
export function periodsDue(s: RewardsState, group: string, settlementDelay: number): number[] {
  const g = s.groups.get(group);
  if (!g || g.status === 'REMOVED') return [];
  const out: number[] = [];
  for (let i = g.lastClosed + 1; ; i++) {
    const p = periodByIndex(s.schedule, i);
    if (!p || s.height < p.lastBlock + settlementDelay) return out;
    out.push(i);
  }
}
