import type { Ewx } from '@ewx/client';
import { RoundState } from '@ewx/proto/voting';

/** What the demo shows, read through the client kit like any observer. */
export interface Snapshot {
  readonly height: bigint;
  readonly period: { index: number; firstBlock: bigint; lastBlock: bigint } | undefined;
  readonly rounds: { settled: number; unresolved: number; open: number };
  /** Per operator, in the order given: SLA of the current and of the last closed period, rewards earned. */
  readonly operators: readonly { operator: string; slaNow?: number; slaLast?: number; earned: bigint }[];
  /** Closed periods, newest first. */
  readonly periods: readonly { period: number; paid: bigint; due: bigint; qualifying: number; operators: number; credited: boolean; exhausted: boolean }[];
  readonly budgetLeft: bigint;
}

const PAGE = 500;

async function roundCounts(ewx: Ewx, solution: string): Promise<Snapshot['rounds']> {
  const out = { settled: 0, unresolved: 0, open: 0 };
  let pageToken = '';
  do {
    const r = await ewx.voting.listRounds({ solution, page: { pageSize: PAGE, pageToken } });
    for (const x of r.rounds) {
      if (x.state === RoundState.ROUND_STATE_SETTLED) out.settled++;
      else if (x.state === RoundState.ROUND_STATE_UNRESOLVED) out.unresolved++;
      else out.open++;
    }
    pageToken = r.page?.nextPageToken ?? '';
  } while (pageToken);
  return out;
}

async function sla(ewx: Ewx, group: string, period: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (period < 0) return out;
  let pageToken = '';
  do {
    const r = await ewx.consensus.getVoteMetadata({ group, rewardPeriod: period, page: { pageSize: PAGE, pageToken } });
    for (const m of r.operators) if (m.eligibleRounds > 0) out.set(m.operator, Math.floor((m.correctVotes * 100) / m.eligibleRounds));
    pageToken = r.page?.nextPageToken ?? '';
  } while (pageToken);
  return out;
}

export async function observe(ewx: Ewx, group: string, solution: string, operators: readonly string[]): Promise<Snapshot> {
  const [current, rounds, payouts] = await Promise.all([
    ewx.rewards.getCurrentPeriod({}),
    roundCounts(ewx, solution),
    ewx.rewards.getGroupPayouts({ group, limit: 500 }),
  ]);
  const p = current.period;
  const index = p?.index ?? 0;
  const [now, last] = await Promise.all([sla(ewx, group, index), sla(ewx, group, index - 1)]);
  const earned = await Promise.all(operators.map((o) => ewx.rewards.getUnclaimedRewards({ operator: o })));
  return {
    height: current.height,
    period: p ? { index: p.index, firstBlock: p.firstBlock, lastBlock: p.lastBlock } : undefined,
    rounds,
    operators: operators.map((o, i) => ({
      operator: o,
      slaNow: now.get(o),
      slaLast: last.get(o),
      earned: BigInt(earned[i]!.groups.find((g) => g.group === group)?.earned ?? '0'),
    })),
    periods: [...payouts.periods]
      .sort((a, b) => b.rewardPeriod - a.rewardPeriod)
      .map((x) => ({
        period: x.rewardPeriod,
        paid: BigInt(x.paid || '0'),
        due: BigInt(x.due || '0'),
        qualifying: x.qualifying,
        operators: x.operators,
        credited: x.creditedChunks + x.refusedChunks >= x.payoutChunks,
        exhausted: x.budgetExhausted,
      })),
    budgetLeft: BigInt(payouts.budgetAvailable || '0'),
  };
}

/** Base units as tokens with two decimals, rounded down. */
export const tokens = (base: bigint): string => {
  const cents = base / 10n ** 16n;
  return `${cents / 100n}.${(cents % 100n).toString().padStart(2, '0')}`;
};
