import { decodeRewardsLog } from '@ewx/contracts';
import {
  type HeightSync,
  addressField,
  authenticate,
  invalid,
  nameField,
  notFound,
  periodAt,
  proven,
  renamedField,
  serviceStatus,
  watchHandler,
  shown,
  unary,
  wholeTokens,
  type GrpcService,
  type Logger,
  type Runtime,
} from '@ewx/platform';
import {
  RewardsService,
  SetRewardPeriodLengthRequest,
  type GetAccountViewRequest,
  type GetGroupPayoutsRequest,
  type GetOperatorRewardsRequest,
  type GetUnclaimedRewardsRequest,
  type ListOperatorRewardsRequest,
  type OperatorRewards,
  type PeriodPayout,
} from '@ewx/proto/rewards';
import { periodArchive, type PeriodArchive } from '../app/archive.js';
import { CALENDAR_STREAM, type PeriodSettings } from '../app/periods.js';
import { meetsSla } from '../domain/compute.js';
import { decide } from '../domain/decide.js';
import { budgetLeft, memberPeriods, periodStake, type ClosedPeriod, type OperatorRow, type RewardsState } from '../domain/state.js';

const M = '/ewx.v1.Rewards/';

/** A period not closed yet: what has been recorded so far, no amounts. */
function openPeriodView(s: RewardsState, operator: string, group: string, period: number): OperatorRewards {
  const g = s.groups.get(group)!;
  const { stake, inFinalPeriod } = periodStake(s.stakes.get(group)?.get(operator), period);
  const counts = s.votes.get(group)?.get(period)?.operators.get(operator) ?? { eligible: 0, correct: 0 };
  return {
    operator,
    group,
    period,
    rewardPeriod: period,
    stake: stake.toString(),
    eligibleRounds: counts.eligible,
    correctVotes: counts.correct,
    slaMet: !inFinalPeriod && stake > 0n && meetsSla(counts.correct, counts.eligible, g.config.slaVotingThreshold),
    slaVotingThreshold: g.config.slaVotingThreshold,
    inFinalPeriod,
    base: '0',
    active: '0',
    total: '0',
    totalWholeTokens: '0',
    closed: false,
  };
}

/** A closed period: the operator's recorded inputs and amounts (zeros when it was not in the decision). */
function closedPeriodView(operator: string, group: string, c: ClosedPeriod, rows: Map<string, OperatorRow>): OperatorRewards {
  const r = rows.get(operator);
  const total = (r?.base ?? 0n) + (r?.active ?? 0n);
  return {
    operator,
    group,
    period: c.period,
    rewardPeriod: c.period,
    stake: (r?.stake ?? 0n).toString(),
    eligibleRounds: r?.eligible ?? 0,
    correctVotes: r?.correct ?? 0,
    slaMet: r !== undefined && !r.inFinalPeriod && r.stake > 0n && meetsSla(r.correct, r.eligible, c.slaVotingThreshold),
    slaVotingThreshold: c.slaVotingThreshold,
    inFinalPeriod: r?.inFinalPeriod ?? false,
    base: (r?.base ?? 0n).toString(),
    active: (r?.active ?? 0n).toString(),
    total: total.toString(),
    totalWholeTokens: wholeTokens(total).toString(),
    closed: true,
  };
}

/** Closed periods read at once by one ListOperatorRewards. */
const READS_AT_ONCE = 8;

/** The rows of a closed period: the state's while its decision is being folded, else the log's (`archive`). */
const rowsOf = (archive: PeriodArchive, group: string, c: ClosedPeriod): Promise<Map<string, OperatorRow>> =>
  c.rows ? Promise.resolve(c.rows) : archive.read(group, c);

export function rewardsGrpc(
  runtime: Runtime<RewardsState>,
  admin: string,
  settings: PeriodSettings,
  log: Logger,
  archive: PeriodArchive = periodArchive(runtime.store),
  heights?: HeightSync,
): GrpcService {
  const st = (): RewardsState => runtime.state();
  return {
    name: 'ewx.v1.Rewards',
    definition: RewardsService,
    implementation: {
      getStatus: unary(M + 'GetStatus', log, serviceStatus(runtime)),
      watch: watchHandler(M + 'Watch', runtime, log),
      getAccountView: unary(M + 'GetAccountView', log, async (req: GetAccountViewRequest) => {
        const a = st().accounts.get(addressField('address', req.address));
        return { address: req.address, deposited: (a?.deposited ?? 0n).toString(), deposits: a?.deposits ?? 0 };
      }),
      getCurrentPeriod: unary(M + 'GetCurrentPeriod', log, async () => {
        const s = st();
        const p = periodAt(s.schedule, Math.max(s.height, 1));
        if (!p) throw notFound('the reward period calendar (not started yet)');
        const rewardPeriod = { index: p.index, firstBlock: BigInt(p.firstBlock), lastBlock: BigInt(p.lastBlock), length: p.length };
        return {
          period: rewardPeriod,
          rewardPeriod,
          height: BigInt(s.height),
          schedule: s.schedule.map((e) => ({ fromPeriod: e.fromPeriod, firstBlock: BigInt(e.firstBlock), length: e.length })),
          settlementDelay: settings.settlementDelay,
        };
      }),
      setRewardPeriodLength: unary(M + 'SetRewardPeriodLength', log, async (req: SetRewardPeriodLengthRequest) => {
        const auth = authenticate(M + 'SetRewardPeriodLength', req, (m) => SetRewardPeriodLengthRequest.encode(m).finish());
        await heights?.sync(runtime); // the wall-clock height first (@ewx/platform heightSync)
        const [e] = await runtime.execute(
          CALENDAR_STREAM,
          proven(auth, (s) => decide({ type: 'SetRewardPeriodLength', signer: auth.signer, admin, length: req.length }, s)),
          auth,
        );
        const ev = decodeRewardsLog(e!);
        if (ev?.type !== 'RewardPeriodScheduleChanged') throw new Error(`SetRewardPeriodLength decided ${e?.type}, not RewardPeriodScheduleChanged`);
        const d = ev.data;
        return { entry: { fromPeriod: d.fromPeriod, firstBlock: BigInt(d.firstBlock), length: d.length } };
      }),
      getOperatorRewards: unary(M + 'GetOperatorRewards', log, async (req: GetOperatorRewardsRequest) => {
        const operator = addressField('operator', req.operator);
        const group = nameField('group', req.group);
        const g = st().groups.get(group);
        if (!g) throw notFound(`group: solution group ${shown(group)}`);
        const period = renamedField('reward_period', req.rewardPeriod, 'period', req.period, 0);
        const c = g.closed.get(period);
        if (!c || c.payoutChunks === 0) return openPeriodView(st(), operator, group, period);
        return closedPeriodView(operator, group, c, await rowsOf(archive, group, c));
      }),
      listOperatorRewards: unary(M + 'ListOperatorRewards', log, async (req: ListOperatorRewardsRequest) => {
        const operator = addressField('operator', req.operator);
        const group = nameField('group', req.group);
        if (req.limit > 500) throw invalid('limit', `at most 500, got ${req.limit}`);
        const g = st().groups.get(group);
        if (!g) throw notFound(`group: solution group ${shown(group)}`);
        // The closed periods with a row for the operator, newest first (the group's index of them); each read back from the log.
        const periods = memberPeriods(g.members.get(operator), req.limit || 50, (p) => (g.closed.get(p)?.payoutChunks ?? 0) > 0);
        const closed = periods.map((p) => g.closed.get(p)!);
        const rewards: OperatorRewards[] = [];
        for (let i = 0; i < closed.length; i += READS_AT_ONCE) {
          const part = closed.slice(i, i + READS_AT_ONCE);
          const rows = await Promise.all(part.map((c) => rowsOf(archive, group, c)));
          for (let k = 0; k < part.length; k++) rewards.push(closedPeriodView(operator, group, part[k]!, rows[k]!));
        }
        return { rewards };
      }),
      getUnclaimedRewards: unary(M + 'GetUnclaimedRewards', log, async (req: GetUnclaimedRewardsRequest) => {
        const operator = addressField('operator', req.operator);
        const s = st();
        const earned = s.earned.get(operator) ?? new Map<string, bigint>();
        const claimed = s.claimed.get(operator) ?? new Map<string, bigint>();
        const groups = [...new Set([...earned.keys(), ...claimed.keys()])].sort().map((group) => {
          const e = earned.get(group) ?? 0n;
          const c = claimed.get(group) ?? 0n;
          return { group, earned: e.toString(), claimed: c.toString(), unclaimed: (e - c).toString() };
        });
        return { operator, groups, total: groups.reduce((a, g) => a + BigInt(g.unclaimed), 0n).toString() };
      }),
      getGroupPayouts: unary(M + 'GetGroupPayouts', log, async (req: GetGroupPayoutsRequest) => {
        const group = nameField('group', req.group);
        if (req.limit > 500) throw invalid('limit', `at most 500, got ${req.limit}`);
        const g = st().groups.get(group);
        if (!g) throw notFound(`group: solution group ${shown(group)}`);
        const periods = [...g.closed.values()]
          .filter((c) => c.payoutChunks > 0)
          .sort((a, b) => b.period - a.period)
          .slice(0, req.limit || 50)
          .map(
            (c): PeriodPayout => ({
              period: c.period,
              rewardPeriod: c.period,
              firstBlock: BigInt(c.firstBlock),
              lastBlock: BigInt(c.lastBlock),
              activeBlocks: c.activeBlocks,
              basePool: c.basePool.toString(),
              activePool: c.activePool.toString(),
              budgetBefore: c.budgetBefore.toString(),
              due: c.due.toString(),
              paid: c.paid.toString(),
              budgetExhausted: c.budgetExhausted,
              operators: c.operators,
              qualifying: c.qualifying,
              payoutChunks: c.payoutChunks,
              creditedChunks: c.credited,
              lateRounds: c.lateRounds,
              refusedChunks: c.refused,
            }),
          );
        return { group, budgetAvailable: budgetLeft(g).toString(), periods };
      }),
    },
  };
}
