import type {
  AllowListChangedEvent, DepositedEvent, EventData, GroupBudgetChangedEvent, GroupRegisteredEvent, GroupRewardsChangedEvent,
  GroupStatusChangedEvent, HoldPlacedEvent, HoldReleasedEvent, HoldSlashedEvent, OperatorSubscribedEvent, OperatorUnsubscribedEvent,
  RegistrarDeletedEvent, RegistrarSignedUpEvent, RewardsClaimedEvent, RewardsCreditedEvent, RewardsCreditRefusedEvent,
  SolutionRegisteredEvent, SolutionStatusChangedEvent, StakeReleasedEvent, StakeToppedUpEvent, TransferredEvent,
  WithdrawnEvent, WorkerConnectedEvent, WorkerDisconnectedEvent, WorkerNominatedEvent, WorkerUnnominatedEvent,
} from '@ewx/platform';

/**
 * Events of the registry's log: exactly the published contracts (packages/platform contracts/events.ts).
 * Amounts are decimal strings in base units.
 */
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

export type RegistryEventType = RegistryEvent['type'];

/** Typed construction of an event for the store. */
export const ev = <T extends RegistryEventType>(type: T, data: Extract<RegistryEvent, { type: T }>['data']): EventData =>
  ({ type, data }) as unknown as EventData;
