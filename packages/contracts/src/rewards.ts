import { decoder, encode, pick, type EncodedEvent } from './codec.js';
import type { BlockEvent, ConsensusEvent } from './consensus.js';
import type { BudgetExhaustedEvent, RewardPeriodScheduleChangedEvent, RewardPeriodStartedEvent, RewardsComputedEvent } from './published.js';
import type { RegistryEvent } from './registry.js';
import { CONSENSUS_EVENTS, REGISTRY_EVENTS, REWARDS_EVENTS } from './versions.js';

/** The group configuration in force for the period (per-block rates already resolved for it). */
export interface RewardConfig {
  /** Base reward per block, base units. */
  readonly subscriptionRewardPerBlock: string;
  /** Active (voting) reward per block, base units. */
  readonly votingRewardPerBlock: string;
  /** Percent 0..100. */
  readonly slaVotingThreshold: number;
  readonly operationStartBlock: number;
  /** 0 = no end. */
  readonly operationEndBlock: number;
}

/** One operator as it stood in the period. */
export interface OperatorInput {
  readonly operator: string;
  /** Stake active in the group for this period, base units ("0" when none). */
  readonly stake: string;
  /** Settled rounds of the period whose snapshot held the operator's worker (v1: `eligible`). */
  readonly eligibleRounds: number;
  /** Of those, rounds where the worker's vote equalled the result (v1: `correct`). */
  readonly correctVotes: number;
  /** The period is the operator's final withdrawal period: it earns nothing. */
  readonly inFinalPeriod: boolean;
}

/** The inputs of one period's decision that are not per operator. */
export interface DecisionInputsHeader {
  readonly firstBlock: number;
  readonly lastBlock: number;
  readonly config: RewardConfig;
  readonly budget: string;
  readonly operators: number;
  readonly inputChunks: number;
}

/** Per-operator inputs of a decision, in chunks (chunk 0..chunks-1), recorded before the decision. v2 (v1: `period`). */
export interface RewardInputsRecordedEvent {
  readonly group: string;
  readonly rewardPeriod: number;
  readonly chunk: number;
  readonly chunks: number;
  readonly operators: readonly OperatorInput[];
}

/** One group's reward period decision: its non-operator inputs and the pools and totals it came to. v2 (v1: `period`). */
export interface RewardsDecidedEvent {
  readonly group: string;
  readonly rewardPeriod: number;
  readonly inputs: DecisionInputsHeader;
  readonly outcome: {
    readonly activeBlocks: number;
    readonly basePool: string;
    readonly activePool: string;
    readonly totalStake: string;
    readonly weightSum: string;
    readonly qualifying: number;
    readonly due: string;
    readonly paid: string;
    readonly budgetExhausted: boolean;
    readonly payoutChunks: number;
  };
}

/** The rewards log's own events: the calendar and payouts are published; inputs and decisions internal. */
export type RewardsEvent =
  | { readonly type: 'RewardPeriodScheduleChanged'; readonly data: RewardPeriodScheduleChangedEvent }
  | { readonly type: 'RewardPeriodStarted'; readonly data: RewardPeriodStartedEvent }
  | { readonly type: 'RewardInputsRecorded'; readonly data: RewardInputsRecordedEvent }
  | { readonly type: 'RewardsDecided'; readonly data: RewardsDecidedEvent }
  | { readonly type: 'BudgetExhausted'; readonly data: BudgetExhaustedEvent }
  | { readonly type: 'RewardsComputed'; readonly data: RewardsComputedEvent };

type RegistryInput =
  | 'Deposited'
  | 'GroupRegistered'
  | 'GroupRewardsChanged'
  | 'GroupBudgetChanged'
  | 'GroupStatusChanged'
  | 'OperatorSubscribed'
  | 'StakeToppedUp'
  | 'OperatorUnsubscribed'
  | 'StakeReleased'
  | 'RewardsCredited'
  | 'RewardsCreditRefused'
  | 'RewardsClaimed';

/** What the rewards log folds: its own events, the registry's stakes, budgets and ledger confirmations, vote metadata, blocks. */
export type RewardsLogEvent = RewardsEvent | Extract<RegistryEvent, { type: RegistryInput }> | Extract<ConsensusEvent, { type: 'VoteMetadata' }> | BlockEvent;

export const decodeRewardsLog = decoder<RewardsLogEvent>({
  ...REWARDS_EVENTS,
  ...pick(
    REGISTRY_EVENTS,
    'Deposited',
    'GroupRegistered',
    'GroupRewardsChanged',
    'GroupBudgetChanged',
    'GroupStatusChanged',
    'OperatorSubscribed',
    'StakeToppedUp',
    'OperatorUnsubscribed',
    'StakeReleased',
    'RewardsCredited',
    'RewardsCreditRefused',
    'RewardsClaimed',
  ),
  ...pick(CONSENSUS_EVENTS, 'VoteMetadata', 'BlockProduced', 'BlocksProduced'),
});
/** The store form of one of the rewards log's own events (the one way its decider builds events). */
export const rewardsEvent = (e: RewardsEvent): EncodedEvent => encode(e);
