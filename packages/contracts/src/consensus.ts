import { decoder, encode, pick, type EncodedEvent } from './codec.js';
import type {
  AttestationRecordedEvent,
  BlockProducedEvent,
  BlocksProducedEvent,
  ResultChainedEvent,
  RoundSettledEvent,
  RoundUnresolvedEvent,
  ValidatorSetConfiguredEvent,
  VoteMetadataEvent,
} from './published.js';
import { CONSENSUS_EVENTS, VOTING_EVENTS } from './versions.js';
import type { VotingEvent } from './voting.js';

/** The consensus log's own events, all published. */
export type ConsensusEvent =
  | { readonly type: 'BlockProduced'; readonly data: BlockProducedEvent }
  /** A run of blocks in one event (written since the clock costs O(work)); BlockProduced is one block. */
  | { readonly type: 'BlocksProduced'; readonly data: BlocksProducedEvent }
  | { readonly type: 'ValidatorSetConfigured'; readonly data: ValidatorSetConfiguredEvent }
  | { readonly type: 'AttestationRecorded'; readonly data: AttestationRecordedEvent }
  /** v2 added `validators`; v1 events (without it) are read with a fallback to attestors + dissenters. */
  | { readonly type: 'RoundSettled'; readonly data: RoundSettledEvent }
  /** As RoundSettled. */
  | { readonly type: 'RoundUnresolved'; readonly data: RoundUnresolvedEvent }
  | { readonly type: 'ResultChained'; readonly data: ResultChainedEvent }
  | { readonly type: 'VoteMetadata'; readonly data: VoteMetadataEvent };

/** What the consensus log folds: its own events and voting's round events and votes from its inbox. */
export type ConsensusLogEvent = ConsensusEvent | Extract<VotingEvent, { type: 'RoundStarted' | 'RoundSnapshot' | 'VoteCast' | 'VotesCast' | 'RoundClosed' }>;

export const decodeConsensusLog = decoder<ConsensusLogEvent>({
  ...CONSENSUS_EVENTS,
  ...pick(VOTING_EVENTS, 'RoundStarted', 'RoundSnapshot', 'VoteCast', 'VotesCast', 'RoundClosed'),
});
/** The store form of one of the consensus log's own events (the one way its decider builds events). */
export const consensusEvent = (e: ConsensusEvent): EncodedEvent => encode(e);

/** The block events, which every service records: one block (older logs, the block timer) or a run. */
export type BlockEvent = Extract<ConsensusEvent, { type: 'BlockProduced' | 'BlocksProduced' }>;
