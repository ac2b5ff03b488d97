import {
  currentRewardPeriod,
  EwxCallError,
  GroupStatus,
  groupStatusOf,
  rewardPeriodOf,
  SERVICE_NAMES,
  settlementStateOf,
  SolutionStatus,
  solutionStatusOf,
  statusName,
  TallyOutcome,
  tallyOutcomeOf,
  tallyReasonOf,
  UnresolvedReason,
  unresolvedReasonOf,
  type Ewx,
} from '@ewx/client';
import { DistanceStatus, EvaluationOutcome } from '@ewx/proto/distance';
import { status as grpcStatus } from '@grpc/grpc-js';
import { RoundState, type Round } from '@ewx/proto/voting';

/**
 * The dashboard's views, each one JSON document composed from the services' gRPC reads. Amounts
 * stay the decimal strings of base units the services answer (the page formats them); heights
 * and periods become numbers.
 *
 * What the reads do not give yet (each needs an RPC or a field, not a change here):
 * - group/operator: stake added by a top-up that turns active next period (Subscription has one
 *   `stake` and `active_from_period`), and a pending withdrawal's amount apart from the stake;
 * - network: rounds per state across solutions (one ListRounds per solution here) and votes per
 *   period over a range (one GetVoteMetadata per period);
 * - audit: the logs over gRPC, so that a gateway in another process beside a running system can
 *   replay them (it needs AUDIT_DATABASE_URL or a stopped embedded folder; `npm start`'s own
 *   gateway reads the running services' stores).
 */

const n = (v: bigint | number): number => Number(v);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Every page of a paged list (page size 500, the services' maximum). */
async function all<T>(fetch: (page: { pageSize: number; pageToken: string }) => Promise<{ items: T[]; next: string }>): Promise<T[]> {
  const out: T[] = [];
  let token = '';
  for (let i = 0; i < 1000; i++) {
    const { items, next } = await fetch({ pageSize: 500, pageToken: token });
    out.push(...items);
    if (!next) break;
    token = next;
  }
  return out;
}

export const ROUND_STATES: Record<number, string> = {
  [RoundState.ROUND_STATE_ACTIVE]: 'ACTIVE',
  [RoundState.ROUND_STATE_OFF_CHAIN_VOTE]: 'OFF_CHAIN_VOTE',
  [RoundState.ROUND_STATE_SETTLED]: 'SETTLED',
  [RoundState.ROUND_STATE_UNRESOLVED]: 'UNRESOLVED',
};

const listGroups = (ewx: Ewx) => all((page) => ewx.registry.listGroups({ page }).then((r) => ({ items: r.groups, next: r.page?.nextPageToken ?? '' })));
const listSolutions = (ewx: Ewx, group: string) =>
  all((page) => ewx.registry.listSolutions({ group, page }).then((r) => ({ items: r.solutions, next: r.page?.nextPageToken ?? '' })));
const listRounds = (ewx: Ewx, solution: string) =>
  all((page) => ewx.voting.listRounds({ solution, page }).then((r) => ({ items: r.rounds, next: r.page?.nextPageToken ?? '' })));
const listOperators = (ewx: Ewx, group: string) =>
  all((page) => ewx.registry.listOperators({ group, page }).then((r) => ({ items: r.operators, next: r.page?.nextPageToken ?? '' })));

function roundSummary(r: Round) {
  return {
    solution: r.solution,
    roundId: r.roundId,
    group: r.group,
    state: ROUND_STATES[r.state] ?? 'UNSPECIFIED',
    period: rewardPeriodOf(r),
    startBlock: n(r.startBlock),
    endBlock: n(r.endBlock),
    tally: { eligible: r.tally?.eligible ?? 0, submitted: r.tally?.submitted ?? 0, top: r.tally?.top ?? 0 },
    result: hex(r.result),
    unresolvedReason: statusName(UnresolvedReason, unresolvedReasonOf(r)),
    merkleRoot: r.merkleRoot,
    quorumPercent: r.quorumPercent,
    voteThresholdPercent: r.voteThresholdPercent,
  };
}

/** Heights and log positions of the five services: what the live stream watches. */
export async function statuses(ewx: Ewx) {
  const rows = await Promise.all(
    SERVICE_NAMES.map(async (s) => {
      const st = await ewx[s].getStatus({});
      return [s, { height: n(st.height), logPosition: n(st.logPosition) }] as const;
    }),
  );
  return Object.fromEntries(rows) as Record<(typeof SERVICE_NAMES)[number], { height: number; logPosition: number }>;
}

export async function network(ewx: Ewx) {
  const [services, current, groups, pool, wot] = await Promise.all([
    statuses(ewx),
    ewx.rewards.getCurrentPeriod({}),
    listGroups(ewx),
    ewx.distance.getPool({}),
    ewx.distance.getWotStats({}),
  ]);
  const period = currentRewardPeriod(current)!;
  const height = n(current.height);
  const into = Math.max(0, Math.min(period.length, height - n(period.firstBlock) + 1));
  const roundsByState: Record<string, number> = { ACTIVE: 0, OFF_CHAIN_VOTE: 0, SETTLED: 0, UNRESOLVED: 0 };
  const recentRounds: ReturnType<typeof roundSummary>[] = [];
  for (const g of groups) {
    for (const s of await listSolutions(ewx, g.config!.namespace)) {
      for (const r of await listRounds(ewx, s.config!.namespace)) {
        const state = ROUND_STATES[r.state] ?? 'UNSPECIFIED';
        roundsByState[state] = (roundsByState[state] ?? 0) + 1;
        recentRounds.push(roundSummary(r));
      }
    }
  }
  recentRounds.sort((a, b) => b.startBlock - a.startBlock || (a.roundId < b.roundId ? -1 : 1));
  return {
    height: n(services.consensus.height),
    services,
    rewardPeriod: {
      index: period.index,
      firstBlock: n(period.firstBlock),
      lastBlock: n(period.lastBlock),
      length: period.length,
      blocksInto: into,
      progressPercent: period.length ? Math.floor((into * 100) / period.length) : 0,
      settlementDelay: current.settlementDelay,
    },
    groups: groups.map((g) => ({
      namespace: g.config!.namespace,
      status: statusName(GroupStatus, groupStatusOf(g)),
      operators: g.operators,
      totalStake: g.totalStake,
      budget: g.budget,
      owner: g.owner,
    })),
    roundsByState,
    recentRounds: recentRounds.slice(0, 20),
    distance: {
      evaluationPeriod: pool.evaluationPeriod || pool.period,
      pool: pool.pool,
      poolSize: pool.entries.length,
      publishedBy: pool.publishedBy,
      settled: pool.settled,
      wot: { identities: wot.identities, members: wot.members, referees: wot.referees, refereeThreshold: wot.refereeThreshold, maxDistance: wot.maxDistance },
    },
  };
}

/** An operator's stake in a group, by where it stands in the period calendar. */
function stakeState(s: { activeFromPeriod: bigint; unsubscribing: boolean; finalPeriod: bigint }, period: number): 'active' | 'pending' | 'withdrawing' {
  if (s.unsubscribing) return 'withdrawing';
  return n(s.activeFromPeriod) > period ? 'pending' : 'active';
}

/** Closed periods the group page asks for first per operator (most operators voted in the newest). */
const NEWEST_FIRST = 4;

/**
 * An operator's newest closed period in a group with rounds counted, or undefined. Rewards answers
 * newest first and reads each closed period back from its log unless it keeps its rows, so this asks
 * for a few periods first and for the whole history (500) only when none of those had rounds.
 */
export async function newestWithRounds(ewx: Ewx, operator: string, group: string) {
  for (const limit of [NEWEST_FIRST, 500]) {
    const history = (await ewx.rewards.listOperatorRewards({ operator, group, limit })).rewards;
    const last = history.filter((r) => r.closed && r.eligibleRounds > 0).sort((a, b) => rewardPeriodOf(b) - rewardPeriodOf(a))[0];
    if (last || history.length < limit) return last;
  }
  return undefined;
}

export async function group(ewx: Ewx, namespace: string) {
  const [g, operators, payouts, current, solutions] = await Promise.all([
    ewx.registry.getGroup({ namespace }),
    listOperators(ewx, namespace),
    ewx.rewards.getGroupPayouts({ group: namespace, limit: 500 }),
    ewx.rewards.getCurrentPeriod({}),
    listSolutions(ewx, namespace),
  ]);
  const period = currentRewardPeriod(current)!.index;
  const c = g.config!;
  const periods = [...payouts.periods].sort((a, b) => rewardPeriodOf(a) - rewardPeriodOf(b));
  const rows = await Promise.all(
    operators.map(async (o) => {
      const sub = o.subscriptions.find((s) => s.group === namespace)!;
      // SLA of the newest closed period that had rounds for the operator (a period without rounds tells nothing).
      const last = await newestWithRounds(ewx, o.address, namespace);
      return {
        address: o.address,
        worker: o.worker,
        stake: sub.stake,
        stakeState: stakeState(sub, period),
        activeFromPeriod: n(sub.activeFromPeriod),
        finalPeriod: sub.unsubscribing ? n(sub.finalPeriod) : null,
        sla: last
          ? {
              period: rewardPeriodOf(last),
              eligible: last.eligibleRounds,
              correct: last.correctVotes,
              percent: last.eligibleRounds ? Math.floor((last.correctVotes * 100) / last.eligibleRounds) : null,
              met: last.slaMet,
            }
          : null,
      };
    }),
  );
  return {
    namespace,
    owner: g.owner,
    status: statusName(GroupStatus, groupStatusOf(g)),
    budget: g.budget,
    budgetAvailable: payouts.budgetAvailable,
    totalStake: g.totalStake,
    operatorsCount: g.operators,
    currentPeriod: period,
    config: {
      info: c.info,
      minStake: c.minStake,
      maxStake: c.maxStake,
      maxOperators: c.maxOperators,
      allowListEnabled: c.allowListEnabled,
      startBlock: n(c.startBlock),
      subscriptionRewardPerBlock: c.subscriptionRewardPerBlock,
      votingRewardPerBlock: c.votingRewardPerBlock,
      slaVotingThreshold: c.slaVotingThreshold,
      operationStartBlock: n(c.operationStartBlock),
      operationEndBlock: n(c.operationEndBlock),
      withdrawalDelay: c.withdrawalDelay,
    },
    solutions: solutions.map((s) => ({ namespace: s.config!.namespace, status: statusName(SolutionStatus, solutionStatusOf(s)) })),
    operators: rows,
    payouts: periods.map((p) => ({
      period: rewardPeriodOf(p),
      basePool: p.basePool,
      activePool: p.activePool,
      due: p.due,
      paid: p.paid,
      budgetBefore: p.budgetBefore,
      budgetExhausted: p.budgetExhausted,
      operators: p.operators,
      qualifying: p.qualifying,
    })),
  };
}

export async function operator(ewx: Ewx, address: string) {
  const [o, unclaimed, current] = await Promise.all([
    ewx.registry.getOperator({ address }),
    ewx.rewards.getUnclaimedRewards({ operator: address }),
    ewx.rewards.getCurrentPeriod({}),
  ]);
  const period = currentRewardPeriod(current)!.index;
  const groups = await Promise.all(
    o.subscriptions.map(async (s) => {
      const from = Math.max(1, n(s.activeFromPeriod));
      const to = s.unsubscribing ? Math.min(period, n(s.finalPeriod)) : period;
      const [history, votes] = await Promise.all([
        ewx.rewards.listOperatorRewards({ operator: address, group: s.group, limit: 500 }),
        // Votes counted so far, straight from consensus: the open period moves as rounds settle.
        Promise.all(
          Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i).map(async (p) => {
            const m = await ewx.consensus.getVoteMetadata({ group: s.group, rewardPeriod: p, operator: address });
            const row = m.operators[0];
            const eligible = row?.eligibleRounds ?? 0;
            const correct = row?.correctVotes ?? 0;
            return { period: p, eligible, correct, missed: eligible - correct };
          }),
        ),
      ]);
      const rewards = history.rewards
        .filter((r) => r.closed)
        .sort((a, b) => rewardPeriodOf(a) - rewardPeriodOf(b))
        .map((r) => ({
          period: rewardPeriodOf(r),
          stake: r.stake,
          eligible: r.eligibleRounds,
          correct: r.correctVotes,
          slaMet: r.slaMet,
          slaThreshold: r.slaVotingThreshold,
          base: r.base,
          active: r.active,
          total: r.total,
        }));
      return {
        group: s.group,
        stake: s.stake,
        stakeState: stakeState(s, period),
        activeFromPeriod: n(s.activeFromPeriod),
        withdrawal: s.unsubscribing
          ? { unsubscribedInPeriod: n(s.unsubscribedInPeriod), finalPeriod: n(s.finalPeriod), releasedAfterPeriod: n(s.finalPeriod) }
          : null,
        slaThreshold: rewards.at(-1)?.slaThreshold ?? null,
        votes,
        rewards,
      };
    }),
  );
  const a = o.account;
  return {
    address,
    worker: o.worker,
    currentPeriod: period,
    account: a ? { free: a.free, reserved: a.reserved, unclaimed: a.unclaimed } : null,
    unclaimed: {
      total: unclaimed.total,
      byGroup: unclaimed.groups.map((g) => ({ group: g.group, earned: g.earned, claimed: g.claimed, unclaimed: g.unclaimed })),
    },
    groups,
  };
}

export async function round(ewx: Ewx, solution: string, roundId: string) {
  const r = await ewx.voting.getRound({ solution, roundId });
  const [settlement, net, workers] = await Promise.all([
    ewx.consensus.getSettlement({ solution, roundId }).catch(() => undefined),
    ewx.consensus.getNetwork({}),
    // The round's snapshot: the workers whose votes count (and whose inclusion can be proven).
    all((page) =>
      ewx.voting.getRoundSnapshot({ solution, roundId, page }).then((x) => ({ items: x.workers.map((w) => w.worker), next: x.page?.nextPageToken ?? '' })),
    ),
  ]);
  return {
    ...roundSummary(r),
    starter: r.starter,
    unresolvedPolicy: r.unresolvedPolicy,
    retryOf: r.retryOf,
    workers,
    attestationsNeeded: net.attestationsNeeded,
    settlement: settlement
      ? {
          state: statusName(RoundState, settlementStateOf(settlement)),
          merkleRoot: settlement.merkleRoot,
          validators: settlement.validators,
          tally: settlement.tally
            ? {
                eligible: settlement.tally.eligible,
                submitted: settlement.tally.submitted,
                top: settlement.tally.top,
                outcome: statusName(TallyOutcome, tallyOutcomeOf(settlement.tally)),
                result: hex(settlement.tally.result),
                reason: statusName(UnresolvedReason, tallyReasonOf(settlement.tally)),
              }
            : null,
          attestations: settlement.attestations.map((a) => ({
            validator: a.validator,
            merkleRoot: a.merkleRoot,
            dissent: a.dissent,
            outcome: a.tally ? statusName(TallyOutcome, tallyOutcomeOf(a.tally)) : '',
            signature: a.signature,
          })),
        }
      : null,
  };
}

export async function voteProof(ewx: Ewx, solution: string, roundId: string, worker: string) {
  const p = await ewx.consensus.getVoteProof({ solution, roundId, worker });
  return {
    worker: p.worker,
    result: hex(p.result),
    leaf: p.leaf,
    merkleRoot: p.merkleRoot,
    steps: p.steps.map((s) => ({ position: s.position, group: s.group })),
  };
}

const DISTANCE: Record<number, string> = {
  [DistanceStatus.DISTANCE_STATUS_NON_EXISTENT]: 'NON_EXISTENT',
  [DistanceStatus.DISTANCE_STATUS_PENDING]: 'PENDING',
  [DistanceStatus.DISTANCE_STATUS_VALID]: 'VALID',
};

export async function distance(ewx: Ewx, identity: number) {
  const [s, wot] = await Promise.all([ewx.distance.getIdentityStatus({ identity }), ewx.distance.getWotStats({})]);
  // The pool it waits in, else the one its last evaluation settled in (kept a few periods; older: NOT_FOUND).
  const evaluated = s.lastOutcome !== EvaluationOutcome.EVALUATION_OUTCOME_UNSPECIFIED && s.lastOutcome !== EvaluationOutcome.EVALUATION_OUTCOME_NOT_EVALUATED;
  const period = s.pendingEvaluationPeriod || (evaluated ? s.lastOutcomePeriod : undefined);
  const pool =
    period === undefined
      ? undefined
      : await ewx.distance.getPool({ evaluationPeriod: period }).catch((e: unknown) => {
          if (EwxCallError.is(e) && e.code === grpcStatus.NOT_FOUND) return undefined;
          throw e;
        });
  // Each evaluator's published value for this identity (Perbill; its entry's index in the pool's results).
  const at = pool ? pool.entries.findIndex((e) => e.identity === identity) : -1;
  const values =
    pool && at >= 0
      ? pool.results.map((r) => ({ evaluator: r.evaluator, value: r.values[at] ?? null, percent: r.values[at] === undefined ? null : r.values[at]! / 1e7 }))
      : [];
  return {
    identity: s.identity,
    status: DISTANCE[s.status] ?? 'UNSPECIFIED',
    inWot: s.inWot,
    valid: s.valid,
    validUntilPeriod: s.validUntilPeriod,
    validUntilHeight: n(s.validUntilHeight),
    pendingEvaluationPeriod: s.pendingEvaluationPeriod,
    lastMedian: s.lastMedian,
    lastMedianPercent: s.lastMedian / 1e7,
    evaluators: pool ? { period: pool.evaluationPeriod || pool.period, publishedBy: pool.publishedBy, settled: pool.settled, values } : null,
    referees: {
      count: wot.referees,
      members: wot.members,
      threshold: wot.refereeThreshold,
      sharePercent: wot.members ? Math.floor((wot.referees * 10000) / wot.members) / 100 : 0,
    },
  };
}
