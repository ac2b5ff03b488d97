/**
 * The baseline of bench/memory.bench.ts: rewards' fold before bounded memory (commit 893702a),
 * which kept every closed period's per-operator rows for ever. Bench only; not used by the service.
 * The state types of then, renamed Reference*; the fold verbatim.
 */
import { CHUNK_ROWS } from '../src/domain/events.js';
import { inMap, type AccountView, type OperatorStake, type PeriodVotes, type Rates } from '../src/domain/state.js';
import type { GroupConfig, Schedule } from '@ewx/platform/domain';
import {
  decodeRewardsLog,
  periodAt,
  unhandled,
  withEntry,
  type GroupRegisteredEvent,
  type RewardsCreditRefusedEvent,
  type RewardsEvent,
  type VoteMetadataEvent,
} from '@ewx/contracts';
import type { RecordedEvent } from '@ewx/platform/domain';




/** Folds one recorded event (rewards' own or one recorded from the inbox) into the state, in place. */
export function referenceEvolve(s: ReferenceRewardsState, e: RecordedEvent): ReferenceRewardsState {
  const ev = decodeRewardsLog(e);
  if (!ev) return s;
  switch (ev.type) {
    case 'BlockProduced':
      s.height = ev.data.height;
      return s;
    // A run of blocks: period starts and closes are reactions to the height, each due one in order.
    case 'BlocksProduced':
      s.height = ev.data.to;
      return s;
    case 'Deposited': {
      const d = ev.data;
      const a = inMap(s.accounts, d.account, () => ({ deposited: 0n, deposits: 0 }));
      a.deposited += BigInt(d.amount);
      a.deposits += 1;
      return s;
    }
    case 'GroupRegistered':
      return groupRegistered(s, ev.data);
    case 'GroupRewardsChanged': {
      const d = ev.data;
      const g = s.groups.get(d.group);
      if (g) {
        const kept = g.rates.filter((r) => r.fromPeriod < d.fromPeriod);
        g.rates.splice(0, g.rates.length, ...kept, {
          fromPeriod: d.fromPeriod,
          subscription: BigInt(d.subscriptionRewardPerBlock),
          voting: BigInt(d.votingRewardPerBlock),
        });
      }
      return s;
    }
    case 'GroupBudgetChanged': {
      const d = ev.data;
      const g = s.groups.get(d.group);
      if (!g) return s;
      // The registry's figure as published; a PAID settles that much of what rewards decided.
      g.registryBudget = BigInt(d.budget);
      if (d.reason === 'PAID') g.unpaid -= BigInt(d.amount);
      return s;
    }
    case 'GroupStatusChanged': {
      const d = ev.data;
      const g = s.groups.get(d.group);
      if (g) g.status = d.status;
      return s;
    }
    case 'OperatorSubscribed': {
      const d = ev.data;
      const o = operatorStake(s, d.group, d.operator);
      if (o.finalPeriod !== undefined && d.activeFromPeriod > o.finalPeriod) {
        // A new subscription after a withdrawal: nothing in between.
        setStake(o, o.finalPeriod + 1, 0n);
        o.finalPeriod = undefined;
      }
      setStake(o, d.activeFromPeriod, BigInt(d.stake));
      return s;
    }
    case 'StakeToppedUp': {
      const d = ev.data;
      setStake(operatorStake(s, d.group, d.operator), d.activeFromPeriod, BigInt(d.stake));
      return s;
    }
    case 'OperatorUnsubscribed': {
      const d = ev.data;
      operatorStake(s, d.group, d.operator).finalPeriod = d.finalPeriod;
      return s;
    }
    case 'StakeReleased': {
      const d = ev.data;
      const o = operatorStake(s, d.group, d.operator);
      setStake(o, (o.finalPeriod ?? d.finalPeriod) + 1, 0n);
      return s;
    }
    case 'VoteMetadata':
      return voteMetadata(s, ev.data);
    case 'RewardsCredited': {
      const d = ev.data;
      const c = s.groups.get(d.group)?.closed.get(d.rewardPeriod);
      if (c) c.credited += 1;
      return s;
    }
    case 'RewardsCreditRefused':
      return creditRefused(s, ev.data);
    case 'RewardsClaimed': {
      const d = ev.data;
      const byGroup = inMap(s.claimed, d.operator, () => new Map<string, bigint>());
      for (const x of d.groups) byGroup.set(x.group, (byGroup.get(x.group) ?? 0n) + BigInt(x.amount));
      return s;
    }
    default:
      return own(s, ev);
  }
}

function groupRegistered(s: ReferenceRewardsState, d: GroupRegisteredEvent): ReferenceRewardsState {
  if (s.groups.has(d.group)) return s;
  const firstPeriod = periodAt(s.schedule, Math.max(d.height, 1))?.index ?? 0;
  s.groups.set(d.group, {
    group: d.group,
    config: d.config,
    status: 'ACTIVE',
    firstPeriod,
    rates: [{ fromPeriod: -1, subscription: BigInt(d.config.subscriptionRewardPerBlock), voting: BigInt(d.config.votingRewardPerBlock) }],
    registryBudget: BigInt(d.budget),
    unpaid: 0n,
    lastClosed: firstPeriod - 1,
    closed: new Map(),
  });
  return s;
}

function voteMetadata(s: ReferenceRewardsState, d: VoteMetadataEvent): ReferenceRewardsState {
  const g = s.groups.get(d.group);
  if (g && d.rewardPeriod <= g.lastClosed) {
    // Settled after its period closed: recorded (this event), reported, never paid.
    const c = g.closed.get(d.rewardPeriod);
    if (c && d.chunk === 0) c.lateRounds += 1;
    return s;
  }
  const v = inMap(
    inMap(s.votes, d.group, () => new Map()),
    d.rewardPeriod,
    () => ({ operators: new Map(), seen: new Set<string>(), rounds: 0 }),
  );
  const key = `${d.solution}|${d.roundId}|${d.chunk}`;
  if (v.seen.has(key)) return s;
  v.seen.add(key);
  if (d.chunk === 0) v.rounds += 1;
  for (const op of d.eligibleOperators) {
    const c = v.operators.get(op);
    if (c) c.eligible += 1;
    else v.operators.set(op, { eligible: 1, correct: 0 });
  }
  for (const op of d.correctOperators) {
    const c = v.operators.get(op);
    if (c) c.correct += 1;
    else v.operators.set(op, { eligible: 0, correct: 1 });
  }
  return s;
}

/** Rewards' own events. */
function own(s: ReferenceRewardsState, ev: RewardsEvent): ReferenceRewardsState {
  switch (ev.type) {
    case 'RewardPeriodScheduleChanged':
      s.schedule = withEntry(s.schedule, ev.data);
      return s;
    case 'RewardPeriodStarted':
      s.lastStartedPeriod = Math.max(s.lastStartedPeriod, ev.data.index);
      return s;
    case 'RewardInputsRecorded': {
      const g = s.groups.get(ev.data.group);
      if (!g) return s;
      // The period is being closed: open its record now, rows filled by RewardsComputed.
      let c = g.closed.get(ev.data.rewardPeriod);
      if (!c) {
        c = {
          period: ev.data.rewardPeriod,
          firstBlock: 0,
          lastBlock: 0,
          activeBlocks: 0,
          basePool: 0n,
          activePool: 0n,
          budgetBefore: 0n,
          due: 0n,
          paid: 0n,
          budgetExhausted: false,
          operators: 0,
          qualifying: 0,
          slaVotingThreshold: 0,
          payoutChunks: 0,
          credited: 0,
          refused: 0,
          lateRounds: 0,
          rows: new Map(),
        };
        g.closed.set(ev.data.rewardPeriod, c);
      }
      for (const o of ev.data.operators) {
        c.rows.set(o.operator, {
          stake: BigInt(o.stake),
          eligible: o.eligibleRounds,
          correct: o.correctVotes,
          inFinalPeriod: o.inFinalPeriod,
          base: 0n,
          active: 0n,
        });
      }
      return s;
    }
    case 'RewardsDecided': {
      const d = ev.data;
      const g = s.groups.get(d.group);
      const prev = g?.closed.get(d.rewardPeriod);
      if (!g || !prev) return s;
      g.closed.set(d.rewardPeriod, {
        ...prev,
        firstBlock: d.inputs.firstBlock,
        lastBlock: d.inputs.lastBlock,
        activeBlocks: d.outcome.activeBlocks,
        basePool: BigInt(d.outcome.basePool),
        activePool: BigInt(d.outcome.activePool),
        budgetBefore: BigInt(d.inputs.budget),
        due: BigInt(d.outcome.due),
        paid: BigInt(d.outcome.paid),
        budgetExhausted: d.outcome.budgetExhausted,
        operators: d.inputs.operators,
        qualifying: d.outcome.qualifying,
        slaVotingThreshold: d.inputs.config.slaVotingThreshold,
        payoutChunks: d.outcome.payoutChunks,
      });
      g.lastClosed = Math.max(g.lastClosed, d.rewardPeriod);
      s.votes.get(d.group)?.delete(d.rewardPeriod);
      return s;
    }
    case 'BudgetExhausted':
      return s;
    case 'RewardsComputed': {
      const d = ev.data;
      const g = s.groups.get(d.group);
      if (g) g.unpaid += BigInt(d.subtotal);
      const c = g?.closed.get(d.rewardPeriod);
      for (const p of d.payouts) {
        const byGroup = inMap(s.earned, p.operator, () => new Map<string, bigint>());
        byGroup.set(d.group, (byGroup.get(d.group) ?? 0n) + BigInt(p.amount));
        const row = c?.rows.get(p.operator);
        if (row) {
          row.base = BigInt(p.base ?? p.amount);
          row.active = BigInt(p.active ?? '0');
        }
      }
      return s;
    }
    default:
      return unhandled(ev);
  }
}

/**
 * The registry did not credit a payout chunk (an alert; nothing moved): its payouts leave the
 * operators' computed rewards. What rewards may still pay is not raised again: after a refusal its
 * view of the budget stays conservative (it never pays more than the registry holds).
 */
function creditRefused(s: ReferenceRewardsState, d: RewardsCreditRefusedEvent): ReferenceRewardsState {
  const g = s.groups.get(d.group);
  const c = g?.closed.get(d.rewardPeriod);
  if (!g || !c) return s;
  c.refused += 1;
  // The chunk's payouts, rebuilt in the order decisionEvents chunked them.
  const paid = [...c.rows].filter(([, r]) => r.base + r.active > 0n);
  for (const [operator, r] of paid.slice(d.chunk * CHUNK_ROWS, (d.chunk + 1) * CHUNK_ROWS)) {
    const byGroup = s.earned.get(operator);
    if (byGroup) byGroup.set(d.group, (byGroup.get(d.group) ?? 0n) - r.base - r.active);
  }
  return s;
}

function operatorStake(s: ReferenceRewardsState, group: string, operator: string): OperatorStake {
  return inMap(
    inMap(s.stakes, group, () => new Map()),
    operator,
    () => ({ changes: [], finalPeriod: undefined }),
  );
}

function setStake(o: OperatorStake, fromPeriod: number, stake: bigint): void {
  const i = o.changes.findIndex((c) => c.fromPeriod >= fromPeriod);
  if (i < 0) o.changes.push({ fromPeriod, stake });
  else if (o.changes[i]!.fromPeriod === fromPeriod) o.changes[i] = { fromPeriod, stake };
  else o.changes.splice(i, 0, { fromPeriod, stake });
}

/** A closed period as decided: inputs and outcome per operator, for queries. */
export interface ReferenceClosedPeriod {
  readonly period: number;
  readonly firstBlock: number;
  readonly lastBlock: number;
  readonly activeBlocks: number;
  readonly basePool: bigint;
  readonly activePool: bigint;
  readonly budgetBefore: bigint;
  readonly due: bigint;
  readonly paid: bigint;
  readonly budgetExhausted: boolean;
  readonly operators: number;
  readonly qualifying: number;
  readonly slaVotingThreshold: number;
  readonly payoutChunks: number;
  /** Chunks the registry confirmed with RewardsCredited. */
  credited: number;
  /** Chunks the registry refused to credit (RewardsCreditRefused): not in anyone's unclaimed rewards. */
  refused: number;
  /** Settled rounds of this period whose metadata arrived after it closed: recorded, not paid. */
  lateRounds: number;
  /** operator → [stake, eligible, correct, inFinalPeriod, base, active]. */
  readonly rows: Map<string, ReferenceOperatorRow>;
}

export interface ReferenceOperatorRow {
  stake: bigint;
  eligible: number;
  correct: number;
  inFinalPeriod: boolean;
  base: bigint;
  active: bigint;
}

export interface ReferenceGroupView {
  readonly group: string;
  config: GroupConfig;
  status: 'ACTIVE' | 'RETIRING' | 'REMOVED';
  /** The period the group was registered in: the first one it is closed for. */
  readonly firstPeriod: number;
  /** Sorted by fromPeriod; the first entry (from the registration) has fromPeriod -1. */
  readonly rates: Rates[];
  /**
   * The group's budget as the registry last published it (GroupRegistered, GroupBudgetChanged): the
   * registry alone owns the budget; rewards does no arithmetic on it besides `budgetLeft`.
   */
  registryBudget: bigint;
  /**
   * Payouts rewards decided (RewardsComputed subtotals) that the registry has not yet reported as
   * paid (GroupBudgetChanged PAID, amount): still in `registryBudget` but promised. A chunk the
   * registry refused is never paid and stays here, so rewards stays conservative after a refusal.
   */
  unpaid: bigint;
  /** The last period closed, or firstPeriod - 1. */
  lastClosed: number;
  readonly closed: Map<number, ReferenceClosedPeriod>;
}


export interface ReferenceRewardsState {
  height: number;
  schedule: Schedule;
  /** The last period a RewardPeriodStarted was recorded for (-1: none). */
  lastStartedPeriod: number;
  readonly groups: Map<string, ReferenceGroupView>;
  /** group → operator → stake history; kept apart from groups since events may arrive before the group's. */
  readonly stakes: Map<string, Map<string, OperatorStake>>;
  /** group → period → votes, until the period is closed. */
  readonly votes: Map<string, Map<number, PeriodVotes>>;
  /** operator → group → rewards computed for it (sum of payouts). */
  readonly earned: Map<string, Map<string, bigint>>;
  /** operator → group → rewards claimed (RewardsClaimed from the registry). */
  readonly claimed: Map<string, Map<string, bigint>>;
  /** The foundation's thin slice: deposits seen per account. */
  readonly accounts: Map<string, AccountView>;
}


export const referenceInitialState = (): ReferenceRewardsState => ({
  height: 0,
  schedule: [],
  lastStartedPeriod: -1,
  groups: new Map(),
  stakes: new Map(),
  votes: new Map(),
  earned: new Map(),
  claimed: new Map(),
  accounts: new Map(),
});
