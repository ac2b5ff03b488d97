/** Test fixtures: events as the inbox records them. */
import { TOKEN, type EventData, type GroupConfig } from '@ewx/platform';

export const tokens = (n: number | bigint): string => (BigInt(n) * TOKEN).toString();
export const addr = (i: number): string => `ed25519:${i.toString(16).padStart(64, '0')}`;

export const groupConfig = (over: Partial<GroupConfig> = {}): GroupConfig => ({
  namespace: 'g',
  info: '',
  minStake: '1',
  maxStake: tokens(1_000_000),
  maxOperators: 1_000_000,
  allowListEnabled: false,
  startBlock: 0,
  subscriptionRewardPerBlock: '0',
  votingRewardPerBlock: '0',
  slaVotingThreshold: 0,
  operationStartBlock: 1,
  operationEndBlock: 0,
  withdrawalDelay: 1,
  ...over,
});

export const ev = {
  schedule: (length: number, fromPeriod = 0, firstBlock = 1): EventData => ({ type: 'RewardPeriodScheduleChanged', data: { fromPeriod, firstBlock, length } }),
  block: (height: number): EventData => ({ type: 'BlockProduced', data: { height } }),
  group: (group: string, config: Partial<GroupConfig>, budget: string, height = 1): EventData => ({
    type: 'GroupRegistered',
    data: { group, owner: addr(999_999), config: { ...groupConfig(config), namespace: group } as never, budget, height },
  }),
  rates: (group: string, subscription: string, voting: string, fromPeriod: number): EventData => ({
    type: 'GroupRewardsChanged',
    data: { group, subscriptionRewardPerBlock: subscription, votingRewardPerBlock: voting, fromPeriod },
  }),
  /** As the registry publishes it: the budget after the change and the amount that moved. */
  budget: (group: string, budget: string, reason: 'RAISED' | 'PAID' | 'RETURNED', amount: string): EventData => ({
    type: 'GroupBudgetChanged',
    data: { group, budget, reason, amount },
  }),
  subscribed: (group: string, operator: string, stake: string, activeFromPeriod: number): EventData => ({
    type: 'OperatorSubscribed',
    data: { group, operator, stake, activeFromPeriod, height: 1 },
  }),
  toppedUp: (group: string, operator: string, amount: string, stake: string, activeFromPeriod: number): EventData => ({
    type: 'StakeToppedUp',
    data: { group, operator, amount, stake, activeFromPeriod, height: 1 },
  }),
  unsubscribed: (group: string, operator: string, unsubscribedInPeriod: number, finalPeriod: number): EventData => ({
    type: 'OperatorUnsubscribed',
    data: { group, operator, unsubscribedInPeriod, finalPeriod, height: 1 },
  }),
  released: (group: string, operator: string, amount: string, finalPeriod: number): EventData => ({
    type: 'StakeReleased',
    data: { group, operator, amount, finalPeriod },
  }),
  round: (group: string, period: number, roundId: string, eligible: readonly string[], correct: readonly string[], chunk = 0, chunks = 1): EventData => ({
    type: 'VoteMetadata',
    data: { group, rewardPeriod: period, solution: `${group}-sol`, roundId, chunk, chunks, eligibleOperators: [...eligible], correctOperators: [...correct] },
  }),
  claimed: (operator: string, group: string, amount: string): EventData => ({ type: 'RewardsClaimed', data: { operator, groups: [{ group, amount }] } }),
};

/** `rounds` settled rounds of one period in which `correct` of them were voted right by `operator`. */
export const rounds = (group: string, period: number, operators: readonly { op: string; eligible: number; correct: number }[]): EventData[] => {
  const n = Math.max(0, ...operators.map((o) => o.eligible));
  return Array.from({ length: n }, (_, r) =>
    ev.round(
      group,
      period,
      `r${period}-${r}`,
      operators.filter((o) => r < o.eligible).map((o) => o.op),
      operators.filter((o) => r < o.correct).map((o) => o.op),
    ),
  );
};
