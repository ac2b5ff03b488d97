import {
  decodeRewardsLog,
  periodAt,
  unhandled,
  withEntry,
  type GroupRegisteredEvent,
  type RewardInputsRecordedEvent,
  type RewardsComputedEvent,
  type RewardsCreditRefusedEvent,
  type RewardsEvent,
  type VoteMetadataEvent,
} from '@ewx/contracts';
import type { RecordedEvent } from '@ewx/platform/domain';
import { CHUNK_ROWS } from './events.js';
import { addMember, inMap, type ClosedPeriod, type OperatorRow, type OperatorStake, type RewardsState } from './state.js';

/**
 * Folds one recorded event (rewards' own or one recorded from the inbox) into the state, in place.
 * A closed period's per-operator rows leave the state once its decision is folded (see ClosedPeriod).
 */
export function evolve(s: RewardsState, e: RecordedEvent): RewardsState {
  return fold(s, e, false);
}

/**
 * `evolve` that keeps every closed period's rows in the state (as before bounded memory): the same
 * decisions; for tests that compare a period read back from the log with what the state held, and
 * the memory bench's reference.
 */
export function evolveKeepingRows(s: RewardsState, e: RecordedEvent): RewardsState {
  return fold(s, e, true);
}

function fold(s: RewardsState, e: RecordedEvent, keepRows: boolean): RewardsState {
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
      if (c) {
        c.credited += 1;
        answered(c, d.chunk);
      }
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
      return own(s, ev, e, keepRows);
  }
}

function groupRegistered(s: RewardsState, d: GroupRegisteredEvent): RewardsState {
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
    members: new Map(),
  });
  return s;
}

function voteMetadata(s: RewardsState, d: VoteMetadataEvent): RewardsState {
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

const noRuns = (): number[] => [];

/** Rewards' own events. */
function own(s: RewardsState, ev: RewardsEvent, e: RecordedEvent, keepRows: boolean): RewardsState {
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
          stream: e.streamId,
          fromVersion: e.version,
          toVersion: e.version,
          rows: undefined,
          unanswered: undefined,
        };
        g.closed.set(ev.data.rewardPeriod, c);
      }
      c.toVersion = Math.max(c.toVersion, e.version);
      if (!c.rows) c.rows = new Map();
      inputRows(c.rows, ev.data.operators);
      for (const o of ev.data.operators) addMember(inMap(g.members, o.operator, noRuns), c.period);
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
        toVersion: Math.max(prev.toVersion, e.version),
      });
      g.lastClosed = Math.max(g.lastClosed, d.rewardPeriod);
      s.votes.get(d.group)?.delete(d.rewardPeriod);
      return s;
    }
    case 'BudgetExhausted': {
      const c = s.groups.get(ev.data.group)?.closed.get(ev.data.rewardPeriod);
      if (c) c.toVersion = Math.max(c.toVersion, e.version);
      return s;
    }
    case 'RewardsComputed': {
      const d = ev.data;
      const g = s.groups.get(d.group);
      if (g) g.unpaid += BigInt(d.subtotal);
      const c = g?.closed.get(d.rewardPeriod);
      for (const p of d.payouts) {
        const byGroup = inMap(s.earned, p.operator, () => new Map<string, bigint>());
        byGroup.set(d.group, (byGroup.get(d.group) ?? 0n) + BigInt(p.amount));
      }
      if (c) {
        c.toVersion = Math.max(c.toVersion, e.version);
        if (c.rows) payoutRows(c.rows, d.payouts);
        // The decision's last event: what a refusal of each chunk takes back, then the rows leave the state.
        if (d.chunk === d.chunks - 1 && c.rows) {
          c.unanswered = refundable(c.rows);
          if (!keepRows) c.rows = undefined;
        }
      }
      return s;
    }
    default:
      return unhandled(ev);
  }
}

/** A decision's input rows, as the fold records them (amounts 0 until its payouts). */
export function inputRows(rows: Map<string, OperatorRow>, operators: RewardInputsRecordedEvent['operators']): void {
  for (const o of operators) {
    rows.set(o.operator, {
      stake: BigInt(o.stake),
      eligible: o.eligibleRounds,
      correct: o.correctVotes,
      inFinalPeriod: o.inFinalPeriod,
      base: 0n,
      active: 0n,
    });
  }
}

/** A payout chunk's amounts into the rows (an operator without a row is not added). */
export function payoutRows(rows: Map<string, OperatorRow>, payouts: RewardsComputedEvent['payouts']): void {
  for (const p of payouts) {
    const row = rows.get(p.operator);
    if (row) {
      row.base = BigInt(p.base ?? p.amount);
      row.active = BigInt(p.active ?? '0');
    }
  }
}

/** Each payout chunk's payouts as a refusal takes them back: the rows paid something, in row order, cut as decisionEvents cut them. */
function refundable(rows: Map<string, OperatorRow>): Map<number, (readonly [string, bigint])[]> | undefined {
  const out = new Map<number, (readonly [string, bigint])[]>();
  let i = 0;
  for (const [operator, r] of rows) {
    const amount = r.base + r.active;
    if (amount <= 0n) continue;
    inMap(out, Math.floor(i / CHUNK_ROWS), () => []).push([operator, amount] as const);
    i++;
  }
  return out.size > 0 ? out : undefined;
}

/** The registry answered a payout chunk (once per chunk): nothing can take its payouts back any more. */
function answered(c: ClosedPeriod, chunk: number): void {
  if (!c.unanswered) return;
  c.unanswered.delete(chunk);
  if (c.unanswered.size === 0) c.unanswered = undefined;
}

/**
 * The registry did not credit a payout chunk (an alert; nothing moved): its payouts leave the
 * operators' computed rewards. What rewards may still pay is not raised again: after a refusal its
 * view of the budget stays conservative (it never pays more than the registry holds).
 */
function creditRefused(s: RewardsState, d: RewardsCreditRefusedEvent): RewardsState {
  const g = s.groups.get(d.group);
  const c = g?.closed.get(d.rewardPeriod);
  if (!g || !c) return s;
  c.refused += 1;
  // The chunk's payouts, in the order decisionEvents chunked them (kept until this answer).
  for (const [operator, amount] of c.unanswered?.get(d.chunk) ?? []) {
    const byGroup = s.earned.get(operator);
    if (byGroup) byGroup.set(d.group, (byGroup.get(d.group) ?? 0n) - amount);
  }
  answered(c, d.chunk);
  return s;
}

function operatorStake(s: RewardsState, group: string, operator: string): OperatorStake {
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
