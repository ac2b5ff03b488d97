/**
 * The reward period calendar, shared by every service so that each computes the period of a block
 * height the same way. The rewards service owns it and publishes `RewardPeriodScheduleChanged`;
 * others record those events and call `periodAt`. Heights start at 1.
 */
export interface ScheduleEntry {
  /** Index of the first period this entry governs. */
  readonly fromPeriod: number;
  /** First block of that period. */
  readonly firstBlock: number;
  /** Blocks per period from here on. */
  readonly length: number;
}

export type Schedule = readonly ScheduleEntry[];

export interface Period {
  readonly index: number;
  readonly firstBlock: number;
  readonly lastBlock: number;
  readonly length: number;
}

/** The period containing `height`, or undefined before the schedule starts or when there is none. */
export function periodAt(schedule: Schedule, height: number): Period | undefined {
  for (let i = schedule.length - 1; i >= 0; i--) {
    const e = schedule[i]!;
    if (height >= e.firstBlock) {
      const k = Math.floor((height - e.firstBlock) / e.length);
      const firstBlock = e.firstBlock + k * e.length;
      return { index: e.fromPeriod + k, firstBlock, lastBlock: firstBlock + e.length - 1, length: e.length };
    }
  }
  return undefined;
}

/** Period `index` by number (it may lie in the future under the current schedule). */
export function periodByIndex(schedule: Schedule, index: number): Period | undefined {
  for (let i = schedule.length - 1; i >= 0; i--) {
    const e = schedule[i]!;
    if (index >= e.fromPeriod) {
      const firstBlock = e.firstBlock + (index - e.fromPeriod) * e.length;
      return { index, firstBlock, lastBlock: firstBlock + e.length - 1, length: e.length };
    }
  }
  return undefined;
}

/** A new length takes effect from the period after the one containing `height`. */
export function scheduleChange(schedule: Schedule, height: number, length: number): ScheduleEntry {
  const cur = periodAt(schedule, height);
  if (!cur) return { fromPeriod: 0, firstBlock: 1, length };
  return { fromPeriod: cur.index + 1, firstBlock: cur.lastBlock + 1, length };
}

/** Folds a schedule change into a schedule (drops entries it supersedes). */
export const withEntry = (schedule: Schedule, e: ScheduleEntry): Schedule => [...schedule.filter((x) => x.fromPeriod < e.fromPeriod), e];
