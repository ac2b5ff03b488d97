import type { OperatorUnsubscribedEvent, OperatorUnsubscribedEventV1, StakeReleasedEvent, StakeReleasedEventV1 } from './published.js';

/**
 * Upcasters: old shapes of an event type to its current one, applied by every decoder (a type's
 * name is unique across services, so one table serves every log that records it). Stored events
 * carry no schema version, so each upcaster recognises the old shape by its fields and returns the
 * current shape unchanged. Fixtures of each version are in fixtures/<service>/<Type>.v<N>.json.
 */
/** The payout and round events' bare `period` is `rewardPeriod`, in the same place (key order kept). */
function rewardPeriod(data: unknown): unknown {
  const d = data as Record<string, unknown>;
  if (!('period' in d)) return d;
  return Object.fromEntries(Object.entries(d).map(([k, v]) => [k === 'period' ? 'rewardPeriod' : k, v]));
}

/** v1 → v2 of an operator's decision inputs: `eligible` and `correct` are `eligibleRounds` and `correctVotes`, as in the API. */
function operatorInput(o: Record<string, unknown>): Record<string, unknown> {
  if (!('eligible' in o)) return o;
  return { operator: o.operator, stake: o.stake, eligibleRounds: o.eligible, correctVotes: o.correct, inFinalPeriod: o.inFinalPeriod };
}

/**
 * v1 → v2 of the distance events: the bare `period` is `name` (`requestPeriod` or
 * `evaluationPeriod`), in the same place (key order kept).
 */
const periodAs =
  (name: 'requestPeriod' | 'evaluationPeriod') =>
  (data: unknown): unknown => {
    const d = data as Record<string, unknown>;
    if (!('period' in d)) return d;
    return Object.fromEntries(Object.entries(d).map(([k, v]) => [k === 'period' ? name : k, v]));
  };

export const UPCASTERS: { readonly [type: string]: (data: unknown) => unknown } = {
  VoteMetadata: rewardPeriod,
  // Rounds: RoundStarted v1 → v2, RoundSettled and RoundUnresolved v1/v2 → v3.
  RoundStarted: rewardPeriod,
  RoundSettled: rewardPeriod,
  RoundUnresolved: rewardPeriod,
  RewardsComputed: rewardPeriod,
  BudgetExhausted: rewardPeriod,
  RewardsDecided: rewardPeriod,
  RewardsCredited: rewardPeriod,
  RewardsCreditRefused: rewardPeriod,
  RewardInputsRecorded: (data) => {
    const d = rewardPeriod(data) as { operators: Record<string, unknown>[] };
    return d.operators.length > 0 && 'eligible' in d.operators[0]! ? { ...d, operators: d.operators.map(operatorInput) } : d;
  },
  // v1 → v2: `period` is `unsubscribedInPeriod`.
  OperatorUnsubscribed: (data) => {
    const d = data as OperatorUnsubscribedEventV1 | OperatorUnsubscribedEvent;
    if (!('period' in d)) return d;
    return {
      group: d.group,
      operator: d.operator,
      unsubscribedInPeriod: d.period,
      finalPeriod: d.finalPeriod,
      height: d.height,
    } satisfies OperatorUnsubscribedEvent;
  },
  // v1 → v2: `period` is `finalPeriod`.
  StakeReleased: (data) => {
    const d = data as StakeReleasedEventV1 | StakeReleasedEvent;
    if (!('period' in d)) return d;
    return { group: d.group, operator: d.operator, amount: d.amount, finalPeriod: d.period } satisfies StakeReleasedEvent;
  },
  // Distance v1 → v2: `period` is the period a request was made in, or the period a pool is evaluated in.
  HoldRequested: periodAs('requestPeriod'),
  EvaluationRequested: periodAs('requestPeriod'),
  ResultPublished: periodAs('evaluationPeriod'),
  ValidityExpired: periodAs('evaluationPeriod'),
  EvaluationSettled: periodAs('evaluationPeriod'),
  PoolSettled: periodAs('evaluationPeriod'),
};
