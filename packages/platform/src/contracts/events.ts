/**
 * The published events other services consume: name → data. Each service owns its section and may
 * add types and fields; a consumer copies nothing and imports these types only. Amounts are decimal
 * strings in base units; heights and period indices are numbers; addresses are `ed25519:<hex>`.
 * Every event a service publishes must stay below 512 KiB of JSON (Kafka's default limit is 1 MiB):
 * long lists are split into chunks.
 */

// ---- consensus ---------------------------------------------------------------------------------
export interface BlockProducedEvent { readonly height: number }

// ---- registry ----------------------------------------------------------------------------------
// What voting needs for eligibility snapshots and rewards needs for stakes, configuration, budgets.
// `height` is the block height the registry had recorded when the command was accepted; `period`
// the reward period of that height (undefined before the schedule is known).

/** Configuration of a solution group, as registered (and after each change). */
export interface GroupConfig {
  readonly namespace: string;
  readonly info: string;
  readonly minStake: string;
  readonly maxStake: string;
  readonly maxOperators: number;
  readonly allowListEnabled: boolean;
  readonly startBlock: number;
  /** Base reward per block, base units. */
  readonly subscriptionRewardPerBlock: string;
  /** Active reward per block, base units. */
  readonly votingRewardPerBlock: string;
  readonly slaVotingThreshold: number;
  readonly operationStartBlock: number;
  readonly operationEndBlock: number;
  /** In reward periods. */
  readonly withdrawalDelay: number;
}

export interface GroupRegisteredEvent { readonly group: string; readonly owner: string; readonly config: GroupConfig; readonly budget: string; readonly height: number }
/** Per-block rewards changed by the registrar; effective from `fromPeriod`. */
export interface GroupRewardsChangedEvent { readonly group: string; readonly subscriptionRewardPerBlock: string; readonly votingRewardPerBlock: string; readonly fromPeriod: number }
/** The budget now reserved for rewards (after a raise, a payout or a return to the registrar). */
export interface GroupBudgetChangedEvent { readonly group: string; readonly budget: string; readonly reason: 'RAISED' | 'PAID' | 'RETURNED' }
export interface GroupStatusChangedEvent { readonly group: string; readonly status: 'ACTIVE' | 'RETIRING' | 'REMOVED' }

export interface SolutionConfig {
  readonly namespace: string;
  readonly group: string;
  readonly name: string;
  readonly description: string;
  readonly logicRef: string;
  readonly expirationBlock: number;
  readonly maxWaitingThreshold: number;
  readonly voteThresholdPercent: number;
  readonly quorumPercent: number;
  readonly votingStartMethod: 'REGISTRAR' | 'WORKER';
  readonly nominationsEnabled: boolean;
  readonly unresolvedPolicy: 'NONE' | 'RETRY_ONCE';
}
export interface SolutionRegisteredEvent { readonly solution: string; readonly owner: string; readonly config: SolutionConfig; readonly height: number }
export interface SolutionStatusChangedEvent { readonly solution: string; readonly status: 'ACTIVE' | 'PAUSED' | 'ENDED' }
export interface WorkerNominatedEvent { readonly solution: string; readonly worker: string }
export interface WorkerUnnominatedEvent { readonly solution: string; readonly worker: string }

/** Stake locked (or topped up): `stake` is the operator's total stake in the group from `activeFromPeriod`. */
export interface OperatorSubscribedEvent { readonly group: string; readonly operator: string; readonly stake: string; readonly activeFromPeriod: number; readonly height: number }
export interface StakeToppedUpEvent { readonly group: string; readonly operator: string; readonly amount: string; readonly stake: string; readonly activeFromPeriod: number; readonly height: number }
/** Unsubscribed in `period` with delay d: votes and earns through `period + d - 1`; `finalPeriod` = period + d. */
export interface OperatorUnsubscribedEvent { readonly group: string; readonly operator: string; readonly period: number; readonly finalPeriod: number; readonly height: number }
/** The stake left the group: released to the operator's free balance after `finalPeriod` closed. */
export interface StakeReleasedEvent { readonly group: string; readonly operator: string; readonly amount: string; readonly period: number }
export interface WorkerConnectedEvent { readonly operator: string; readonly worker: string; readonly height: number }
export interface WorkerDisconnectedEvent { readonly operator: string; readonly worker: string; readonly height: number }
/** Ledger movements of rewards, confirmed by the registry after it applied a RewardsComputed chunk. */
export interface RewardsCreditedEvent { readonly group: string; readonly period: number; readonly chunk: number; readonly total: string }
export interface RewardsClaimedEvent { readonly operator: string; readonly groups: readonly { readonly group: string; readonly amount: string }[] }

// ---- voting and consensus ----------------------------------------------------------------------
/**
 * Vote metadata of one settled round, for rewards: per operator, eligible +1 for each worker in the
 * snapshot and correct +1 for each whose vote equals the result. Unresolved rounds count for nobody.
 * Long lists come in chunks.
 */
export interface VoteMetadataEvent {
  readonly group: string;
  readonly period: number;
  readonly solution: string;
  readonly roundId: string;
  readonly chunk: number;
  readonly chunks: number;
  readonly eligibleOperators: readonly string[];
  readonly correctOperators: readonly string[];
}

// ---- rewards -----------------------------------------------------------------------------------
/** Emitted at genesis (height 0, first start) and when the admin changes the length for future periods. */
export interface RewardPeriodScheduleChangedEvent { readonly fromPeriod: number; readonly firstBlock: number; readonly length: number }

/**
 * One group's rewards for one closed period. The registry's ledger consumes it: `total` leaves the
 * group's reward budget and each payout is credited to the operator's unclaimed rewards for the
 * group. Long payout lists come in chunks (chunk 0..chunks-1), each with its own subtotal.
 */
export interface RewardsComputedEvent {
  readonly group: string;
  readonly period: number;
  readonly chunk: number;
  readonly chunks: number;
  readonly payouts: readonly { readonly operator: string; readonly amount: string }[];
  readonly subtotal: string;
}

// ---- distance ----------------------------------------------------------------------------------
/**
 * A distance evaluation request reached its outcome. The registry's ledger consumes it: the hold
 * placed for the price (Registry.PlaceHold with this hold id) is released (VALID, NOT_EVALUATED)
 * or slashed to the treasury (INVALID).
 */
export interface EvaluationSettledEvent {
  readonly holdId: string;
  readonly identity: number;
  readonly requester: string;
  readonly outcome: 'VALID' | 'INVALID' | 'NOT_EVALUATED';
  readonly period: number;
}

export const PUBLISHED = {
  consensus: { BlockProduced: 'BlockProduced', VoteMetadata: 'VoteMetadata' },
  registry: {
    GroupRegistered: 'GroupRegistered', GroupRewardsChanged: 'GroupRewardsChanged', GroupBudgetChanged: 'GroupBudgetChanged',
    GroupStatusChanged: 'GroupStatusChanged', SolutionRegistered: 'SolutionRegistered', SolutionStatusChanged: 'SolutionStatusChanged',
    WorkerNominated: 'WorkerNominated', WorkerUnnominated: 'WorkerUnnominated', OperatorSubscribed: 'OperatorSubscribed',
    StakeToppedUp: 'StakeToppedUp', OperatorUnsubscribed: 'OperatorUnsubscribed', StakeReleased: 'StakeReleased',
    WorkerConnected: 'WorkerConnected', WorkerDisconnected: 'WorkerDisconnected', RewardsCredited: 'RewardsCredited',
    RewardsClaimed: 'RewardsClaimed', Deposited: 'Deposited',
  },
  rewards: { RewardPeriodScheduleChanged: 'RewardPeriodScheduleChanged', RewardsComputed: 'RewardsComputed' },
  distance: { EvaluationSettled: 'EvaluationSettled' },
} as const;
