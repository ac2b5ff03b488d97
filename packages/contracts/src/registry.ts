import { decoder, encode, pick, type EncodedEvent } from './codec.js';
import type { BlockEvent } from './consensus.js';
import type { DistanceEvent } from './distance.js';
import type {
  AllowListChangedEvent,
  DepositedEvent,
  GroupBudgetChangedEvent,
  GroupRegisteredEvent,
  GroupRewardsChangedEvent,
  GroupStatusChangedEvent,
  HoldPlacedEvent,
  HoldReleasedEvent,
  HoldSlashedEvent,
  OperatorSubscribedEvent,
  OperatorUnsubscribedEvent,
  RegistrarDeletedEvent,
  RegistrarSignedUpEvent,
  RewardsClaimedEvent,
  RewardsCreditedEvent,
  RewardsCreditRefusedEvent,
  SolutionRegisteredEvent,
  SolutionStatusChangedEvent,
  StakeReleasedEvent,
  StakeToppedUpEvent,
  TransferredEvent,
  WithdrawnEvent,
  WorkerConnectedEvent,
  WorkerDisconnectedEvent,
  WorkerNominatedEvent,
  WorkerUnnominatedEvent,
} from './published.js';
import type { RewardsEvent } from './rewards.js';
import { CONSENSUS_EVENTS, DISTANCE_EVENTS, REGISTRY_EVENTS, REWARDS_EVENTS } from './versions.js';

/** The registry log's own events, all published. Amounts are decimal strings in base units. */
export type RegistryEvent =
  | { readonly type: 'Deposited'; readonly data: DepositedEvent }
  | { readonly type: 'Withdrawn'; readonly data: WithdrawnEvent }
  | { readonly type: 'Transferred'; readonly data: TransferredEvent }
  | { readonly type: 'HoldPlaced'; readonly data: HoldPlacedEvent }
  | { readonly type: 'HoldReleased'; readonly data: HoldReleasedEvent }
  | { readonly type: 'HoldSlashed'; readonly data: HoldSlashedEvent }
  | { readonly type: 'RegistrarSignedUp'; readonly data: RegistrarSignedUpEvent }
  | { readonly type: 'RegistrarDeleted'; readonly data: RegistrarDeletedEvent }
  | { readonly type: 'GroupRegistered'; readonly data: GroupRegisteredEvent }
  | { readonly type: 'GroupBudgetChanged'; readonly data: GroupBudgetChangedEvent }
  | { readonly type: 'GroupRewardsChanged'; readonly data: GroupRewardsChangedEvent }
  | { readonly type: 'GroupStatusChanged'; readonly data: GroupStatusChangedEvent }
  | { readonly type: 'AllowListChanged'; readonly data: AllowListChangedEvent }
  | { readonly type: 'SolutionRegistered'; readonly data: SolutionRegisteredEvent }
  | { readonly type: 'SolutionStatusChanged'; readonly data: SolutionStatusChangedEvent }
  | { readonly type: 'WorkerNominated'; readonly data: WorkerNominatedEvent }
  | { readonly type: 'WorkerUnnominated'; readonly data: WorkerUnnominatedEvent }
  | { readonly type: 'OperatorSubscribed'; readonly data: OperatorSubscribedEvent }
  | { readonly type: 'StakeToppedUp'; readonly data: StakeToppedUpEvent }
  | { readonly type: 'OperatorUnsubscribed'; readonly data: OperatorUnsubscribedEvent }
  | { readonly type: 'StakeReleased'; readonly data: StakeReleasedEvent }
  | { readonly type: 'WorkerConnected'; readonly data: WorkerConnectedEvent }
  | { readonly type: 'WorkerDisconnected'; readonly data: WorkerDisconnectedEvent }
  | { readonly type: 'RewardsCredited'; readonly data: RewardsCreditedEvent }
  | { readonly type: 'RewardsCreditRefused'; readonly data: RewardsCreditRefusedEvent }
  | { readonly type: 'RewardsClaimed'; readonly data: RewardsClaimedEvent };

/** What the registry log folds: its own events, the calendar, payouts and distance outcomes from its inbox, blocks. */
export type RegistryLogEvent =
  | RegistryEvent
  | Extract<RewardsEvent, { type: 'RewardPeriodScheduleChanged' | 'RewardsComputed' }>
  | Extract<DistanceEvent, { type: 'EvaluationSettled' }>
  | BlockEvent;

export const decodeRegistryLog = decoder<RegistryLogEvent>({
  ...REGISTRY_EVENTS,
  ...pick(REWARDS_EVENTS, 'RewardPeriodScheduleChanged', 'RewardsComputed'),
  ...pick(DISTANCE_EVENTS, 'EvaluationSettled'),
  ...pick(CONSENSUS_EVENTS, 'BlockProduced', 'BlocksProduced'),
});
/** The store form of one of the registry log's own events (the one way its decider builds events). */
export const registryEvent = (e: RegistryEvent): EncodedEvent => encode(e);
