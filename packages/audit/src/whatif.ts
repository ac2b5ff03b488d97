import { decodeRewardsLog } from '@ewx/contracts';
import type { Tally } from '@ewx/platform';
import { consensusDecider } from '@ewx/consensus';
import { evolveKeepingVotes, tally, tallyText, type ConsensusState, type ValidatedRound } from '@ewx/consensus/domain/decider';
import { computePeriodRewards, type PeriodInputs } from '@ewx/rewards/domain/compute';
import { inputsFromLog, type RewardInputsRecordedEvent, type RewardsDecidedEvent } from '@ewx/rewards/domain/events';
import type { LogSource } from './source.js';
import { asRecorded } from './types.js';

/** Parameters a what-if may change; absent ones keep what was in force. */
export interface WhatIfParams {
  /** sla_voting_threshold, percent. */
  readonly sla?: number;
  /** quorum_percent of every solution, percent. */
  readonly quorum?: number;
  /** vote_threshold_percent (majority) of every solution, percent. */
  readonly majority?: number;
  /** voting (active) reward per block, base units. */
  readonly votingReward?: bigint;
  /** subscription (base) reward per block, base units. */
  readonly subscriptionReward?: bigint;
}

export interface WhatIfRow {
  readonly group: string;
  readonly period: number;
  readonly operator: string;
  readonly eligible: [number, number];
  readonly correct: [number, number];
  readonly slaMet: [boolean, boolean];
  /** [then, now], base units. */
  readonly base: [bigint, bigint];
  readonly active: [bigint, bigint];
  readonly total: [bigint, bigint];
}

export interface ChangedRound {
  readonly solution: string;
  readonly roundId: string;
  readonly group: string;
  readonly period: number;
  readonly then: string;
  readonly now: string;
}

export interface WhatIfReport {
  readonly params: WhatIfParams;
  readonly periods: { readonly from: number; readonly to: number };
  readonly rows: WhatIfRow[];
  readonly rounds: ChangedRound[];
  /** Per group and period: what was paid then and would be now. */
  readonly totals: { group: string; period: number; paidThen: bigint; paidNow: bigint; budgetExhaustedNow: boolean }[];
}

const settledCounts = (r: ValidatedRound, t: Tally): Map<string, { eligible: number; correct: number }> => {
  const out = new Map<string, { eligible: number; correct: number }>();
  if (t.outcome !== 'SETTLED') return out;
  const votes = new Map(r.votes);
  for (const [w, op] of r.snapshot) {
    const c = out.get(op) ?? { eligible: 0, correct: 0 };
    c.eligible++;
    if (votes.get(w) === t.result) c.correct++;
    out.set(op, c);
  }
  return out;
};

/**
 * Replays past reward periods `from..to` under changed parameters, in memory: rounds re-tallied
 * with the new quorum and majority (from consensus' recorded snapshots and votes), each
 * operator's counts moved by the rounds whose outcome changes, and every period decision of
 * rewards recomputed from its recorded inputs with the new SLA and rates. Reads the logs; writes nothing.
 */
export async function whatIf(source: LogSource, from: number, to: number, params: WhatIfParams): Promise<WhatIfReport> {
  const present = await source.services();
  if (!present.includes('rewards')) throw new Error(`${source.description}: no rewards log`);
  const deltas = new Map<string, Map<string, { eligible: number; correct: number }>>();
  const rounds: ChangedRound[] = [];
  if (params.quorum !== undefined || params.majority !== undefined) {
    if (!present.includes('consensus')) throw new Error(`${source.description}: no consensus log (needed to re-tally rounds)`);
    const s: ConsensusState = consensusDecider.initialState();
    for await (const b of source.read('consensus')) for (const e of b) evolveKeepingVotes(s, asRecorded(e));
    for (const r of s.rounds.values()) {
      if (r.period < from || r.period > to || !r.outcome) continue;
      const then = r.outcome.tally;
      const now = tally({
        eligible: r.snapshot.size,
        results: r.votes.map((v) => v[1]),
        quorumPercent: params.quorum ?? r.quorumPercent,
        voteThresholdPercent: params.majority ?? r.voteThresholdPercent,
      });
      if (tallyText(now) === tallyText(then)) continue;
      rounds.push({ solution: r.solution, roundId: r.roundId, group: r.group, period: r.period, then: tallyText(then), now: tallyText(now) });
      const key = `${r.group}|${r.period}`;
      let d = deltas.get(key);
      if (!d) {
        d = new Map();
        deltas.set(key, d);
      }
      const a = settledCounts(r, then);
      const b = settledCounts(r, now);
      for (const op of new Set([...a.keys(), ...b.keys()])) {
        const x = d.get(op) ?? { eligible: 0, correct: 0 };
        x.eligible += (b.get(op)?.eligible ?? 0) - (a.get(op)?.eligible ?? 0);
        x.correct += (b.get(op)?.correct ?? 0) - (a.get(op)?.correct ?? 0);
        d.set(op, x);
      }
    }
  }

  const decisions = new Map<string, { decided?: RewardsDecidedEvent; chunks: RewardInputsRecordedEvent[] }>();
  for await (const b of source.read('rewards')) {
    for (const e of b) {
      const ev = decodeRewardsLog(e);
      if (e.streamId.startsWith('inbox:') || (ev?.type !== 'RewardsDecided' && ev?.type !== 'RewardInputsRecorded')) continue;
      const d = ev.data;
      if (d.rewardPeriod < from || d.rewardPeriod > to) continue;
      const key = `${d.group}|${d.rewardPeriod}`;
      const x = decisions.get(key) ?? { chunks: [] };
      if (ev.type === 'RewardsDecided') x.decided = ev.data;
      else x.chunks.push(ev.data);
      decisions.set(key, x);
    }
  }
  const rows: WhatIfRow[] = [];
  const totals: WhatIfReport['totals'] = [];
  for (const [key, x] of decisions) {
    if (!x.decided) continue;
    const inputs = inputsFromLog(x.decided, x.chunks);
    const d = deltas.get(key) ?? new Map();
    const changed: PeriodInputs = {
      ...inputs,
      config: {
        ...inputs.config,
        ...(params.sla !== undefined ? { slaVotingThreshold: params.sla } : {}),
        ...(params.votingReward !== undefined ? { votingRewardPerBlock: params.votingReward.toString() } : {}),
        ...(params.subscriptionReward !== undefined ? { subscriptionRewardPerBlock: params.subscriptionReward.toString() } : {}),
      },
      operators: inputs.operators.map((o) => {
        const delta = d.get(o.operator);
        return delta ? { ...o, eligibleRounds: o.eligibleRounds + delta.eligible, correctVotes: o.correctVotes + delta.correct } : o;
      }),
    };
    const then = computePeriodRewards(inputs);
    const now = computePeriodRewards(changed);
    totals.push({ group: inputs.group, period: inputs.period, paidThen: then.paid, paidNow: now.paid, budgetExhaustedNow: now.budgetExhausted });
    inputs.operators.forEach((o, i) => {
      const c = changed.operators[i]!;
      const a = then.rewards[i]!;
      const b = now.rewards[i]!;
      const sla = (x: typeof o, s: number) => x.eligibleRounds > 0 && x.correctVotes * 100 >= s * x.eligibleRounds;
      rows.push({
        group: inputs.group,
        period: inputs.period,
        operator: o.operator,
        eligible: [o.eligibleRounds, c.eligibleRounds],
        correct: [o.correctVotes, c.correctVotes],
        slaMet: [sla(o, inputs.config.slaVotingThreshold), sla(c, changed.config.slaVotingThreshold)],
        base: [a.base, b.base],
        active: [a.active, b.active],
        total: [a.base + a.active, b.base + b.active],
      });
    });
  }
  rows.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : a.period - b.period || (a.operator < b.operator ? -1 : 1)));
  return { params, periods: { from, to }, rows, rounds, totals };
}
