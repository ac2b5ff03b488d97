import { decoder, encode, pick, type EncodedEvent, type Json } from './codec.js';
import type { BlockEvent, ConsensusEvent } from './consensus.js';
import type {
  RoundAlertEvent,
  RoundClosedEvent,
  RoundClosedV1Event,
  RoundSnapshotEvent,
  RoundStartedEvent,
  VoteCastEvent,
  VotesCastEvent,
} from './published.js';
import type { RegistryEvent } from './registry.js';
import type { RewardsEvent } from './rewards.js';
import { CONSENSUS_EVENTS, REGISTRY_EVENTS, REWARDS_EVENTS, VOTING_EVENTS } from './versions.js';

/** The voting log's own events (stream `round:<solution>:<roundId>`), all published. */
export type VotingEvent =
  | { readonly type: 'RoundStarted'; readonly data: RoundStartedEvent }
  | { readonly type: 'RoundSnapshot'; readonly data: RoundSnapshotEvent }
  /** Metadata: `{ signer, nonce, signature? }` of the worker's SubmitVote. */
  | { readonly type: 'VoteCast'; readonly data: VoteCastEvent }
  /** Two or more votes of one round appended together. Metadata: `{ signers: [[worker, nonce, signature?], …] }`, one per vote, in order. */
  | { readonly type: 'VotesCast'; readonly data: VotesCastEvent }
  /** v2 carries the count only (the votes are the VoteCast events); v1 (older logs) also the votes, see `roundClosedV1`. */
  | { readonly type: 'RoundClosed'; readonly data: RoundClosedEvent | RoundClosedV1Event }
  | { readonly type: 'RoundAlert'; readonly data: RoundAlertEvent };

type RegistryInput =
  | 'GroupRegistered'
  | 'GroupStatusChanged'
  | 'SolutionRegistered'
  | 'SolutionStatusChanged'
  | 'WorkerNominated'
  | 'WorkerUnnominated'
  | 'OperatorSubscribed'
  | 'StakeToppedUp'
  | 'OperatorUnsubscribed'
  | 'StakeReleased'
  | 'WorkerConnected'
  | 'WorkerDisconnected';

/** What the voting log folds: its own events, the registry's, the calendar, blocks and round outcomes. */
export type VotingLogEvent =
  | VotingEvent
  | Extract<RegistryEvent, { type: RegistryInput }>
  | Extract<RewardsEvent, { type: 'RewardPeriodScheduleChanged' }>
  | Extract<ConsensusEvent, { type: 'RoundSettled' | 'RoundUnresolved' }>
  | BlockEvent;

export const decodeVotingLog = decoder<VotingLogEvent>({
  ...VOTING_EVENTS,
  ...pick(
    REGISTRY_EVENTS,
    'GroupRegistered',
    'GroupStatusChanged',
    'SolutionRegistered',
    'SolutionStatusChanged',
    'WorkerNominated',
    'WorkerUnnominated',
    'OperatorSubscribed',
    'StakeToppedUp',
    'OperatorUnsubscribed',
    'StakeReleased',
    'WorkerConnected',
    'WorkerDisconnected',
  ),
  ...pick(REWARDS_EVENTS, 'RewardPeriodScheduleChanged'),
  ...pick(CONSENSUS_EVENTS, 'RoundSettled', 'RoundUnresolved', 'BlockProduced', 'BlocksProduced'),
});
/** The store form of one of the voting log's own events (the one way its decider builds events). */
export const votingEvent = (e: VotingEvent, metadata?: Json): EncodedEvent => encode(e, metadata);
