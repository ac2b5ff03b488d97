import type { Versions } from './codec.js';
import type { ConsensusEvent } from './consensus.js';
import type { DistanceEvent } from './distance.js';
import type { RegistryEvent } from './registry.js';
import type { RewardsEvent } from './rewards.js';
import type { VotingEvent } from './voting.js';

/**
 * The schema version of every event type, per owning service (one module, so that the decoders of
 * the logs that record other services' events read these tables without import cycles). A version
 * goes up when a shape changes; fixtures/<service>/<Type>.v<N>.json holds an example of each.
 */
export const CONSENSUS_EVENTS: Versions<ConsensusEvent> = {
  BlockProduced: 1,
  BlocksProduced: 1,
  // v2: `attestationWindow` added (optional: v1 events lack it, and decided rounds then wait for every attestation).
  ValidatorSetConfigured: 2,
  AttestationRecorded: 1,
  // v2: `validators` added (the set that decided); v1 events lack it and are read with a fallback.
  // v3: `period` → `rewardPeriod` (upcast from v1 and v2).
  RoundSettled: 3,
  RoundUnresolved: 3,
  ResultChained: 1,
  // v2: `period` → `rewardPeriod` (upcast).
  VoteMetadata: 2,
};

export const VOTING_EVENTS: Versions<VotingEvent> = {
  // v2: `period` → `rewardPeriod` (upcast).
  RoundStarted: 2,
  RoundSnapshot: 1,
  VoteCast: 1,
  // Several votes of one round in one event (group commit); logs written before have VoteCast only.
  VotesCast: 1,
  RoundAlert: 1,
  // v2: the votes are carried once, by VoteCast (which consensus now records); v1 also carried them here.
  RoundClosed: 2,
};

export const REGISTRY_EVENTS: Versions<RegistryEvent> = {
  Deposited: 1,
  Withdrawn: 1,
  Transferred: 1,
  HoldPlaced: 1,
  HoldReleased: 1,
  HoldSlashed: 1,
  RegistrarSignedUp: 1,
  RegistrarDeleted: 1,
  GroupRegistered: 1,
  GroupBudgetChanged: 1,
  GroupRewardsChanged: 1,
  GroupStatusChanged: 1,
  AllowListChanged: 1,
  SolutionRegistered: 1,
  SolutionStatusChanged: 1,
  WorkerNominated: 1,
  WorkerUnnominated: 1,
  OperatorSubscribed: 1,
  StakeToppedUp: 1,
  // v2: no bare `period` (OperatorUnsubscribed `unsubscribedInPeriod`, StakeReleased `finalPeriod`); v1 is upcast (upcasters.ts).
  OperatorUnsubscribed: 2,
  StakeReleased: 2,
  WorkerConnected: 1,
  WorkerDisconnected: 1,
  RewardsClaimed: 1,
  // v2: `period` → `rewardPeriod` (upcast).
  RewardsCredited: 2,
  RewardsCreditRefused: 2,
};

export const REWARDS_EVENTS: Versions<RewardsEvent> = {
  RewardPeriodScheduleChanged: 1,
  RewardPeriodStarted: 1,
  // v2: `period` → `rewardPeriod`; RewardInputsRecorded's operators `eligible`/`correct` → `eligibleRounds`/`correctVotes` (upcast).
  RewardInputsRecorded: 2,
  RewardsDecided: 2,
  BudgetExhausted: 2,
  // Payouts carry `base` and `active` beside `amount`; both optional in the contract, read with a fallback.
  RewardsComputed: 2,
};

export const DISTANCE_EVENTS: Versions<DistanceEvent> = {
  DistanceConfigured: 1,
  IdentityAdded: 1,
  MembershipChanged: 1,
  CertificationAdded: 1,
  CertificationRemoved: 1,
  WotImported: 1,
  HoldFailed: 1,
  // v2: no bare `period` (upcast): HoldRequested and EvaluationRequested `requestPeriod` (the period the request was made in);
  // ResultPublished, ValidityExpired, EvaluationSettled and PoolSettled `evaluationPeriod` (the period a pool is evaluated in).
  HoldRequested: 2,
  EvaluationRequested: 2,
  ResultPublished: 2,
  ValidityExpired: 2,
  EvaluationSettled: 2,
  PoolSettled: 2,
};
