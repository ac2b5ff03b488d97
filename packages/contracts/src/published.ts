/**
 * The published events other services consume: name → data. Each service owns its section and may
 * add types and fields; a consumer copies nothing and imports these types only. Amounts are decimal
 * strings in base units; heights and period indices are numbers; addresses are `ed25519:<hex>`.
 * Every event a service publishes must stay below 512 KiB of JSON (Kafka's default limit is 1 MiB):
 * long lists are split into chunks.
 */

// ---- consensus ---------------------------------------------------------------------------------
export interface BlockProducedEvent {
  readonly height: number;
}
/**
 * Blocks `from` to `to` (inclusive, from = the previous height + 1): one event for a run of blocks.
 * A consumer advances its height to `to`, passing each of its own deadlines inside the run in order,
 * as if the blocks had come one by one. Consensus cuts a run at the end of every round it knows of.
 */
export interface BlocksProducedEvent {
  readonly from: number;
  readonly to: number;
}

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

export interface GroupRegisteredEvent {
  readonly group: string;
  readonly owner: string;
  readonly config: GroupConfig;
  readonly budget: string;
  readonly height: number;
}
/** Per-block rewards changed by the registrar; effective from `fromPeriod`. */
export interface GroupRewardsChangedEvent {
  readonly group: string;
  readonly subscriptionRewardPerBlock: string;
  readonly votingRewardPerBlock: string;
  readonly fromPeriod: number;
}
/**
 * The budget now reserved for rewards (after a raise, a payout or a return to the registrar);
 * `amount` is what moved (added on RAISED, paid out on PAID, given back on RETURNED).
 */
export interface GroupBudgetChangedEvent {
  readonly group: string;
  readonly budget: string;
  readonly reason: 'RAISED' | 'PAID' | 'RETURNED';
  readonly amount: string;
}
export interface GroupStatusChangedEvent {
  readonly group: string;
  readonly status: 'ACTIVE' | 'RETIRING' | 'REMOVED';
}

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
export interface SolutionRegisteredEvent {
  readonly solution: string;
  readonly owner: string;
  readonly config: SolutionConfig;
  readonly height: number;
}
export interface SolutionStatusChangedEvent {
  readonly solution: string;
  readonly status: 'ACTIVE' | 'PAUSED' | 'ENDED';
}
export interface WorkerNominatedEvent {
  readonly solution: string;
  readonly worker: string;
}
export interface WorkerUnnominatedEvent {
  readonly solution: string;
  readonly worker: string;
}

/** Stake locked (or topped up): `stake` is the operator's total stake in the group from `activeFromPeriod`. */
export interface OperatorSubscribedEvent {
  readonly group: string;
  readonly operator: string;
  readonly stake: string;
  readonly activeFromPeriod: number;
  readonly height: number;
}
export interface StakeToppedUpEvent {
  readonly group: string;
  readonly operator: string;
  readonly amount: string;
  readonly stake: string;
  readonly activeFromPeriod: number;
  readonly height: number;
}
/**
 * Unsubscribed in reward period `unsubscribedInPeriod` with withdrawal delay d: the registry
 * computed `finalPeriod` = unsubscribedInPeriod + d (the only place it is computed); what it means
 * for a reward period is `withdrawalStage` below. v2; v1 named `unsubscribedInPeriod` `period` and
 * is upcast on decoding.
 */
export interface OperatorUnsubscribedEvent {
  readonly group: string;
  readonly operator: string;
  readonly unsubscribedInPeriod: number;
  readonly finalPeriod: number;
  readonly height: number;
}
/** v1 of OperatorUnsubscribed, as old logs hold it. */
export interface OperatorUnsubscribedEventV1 {
  readonly group: string;
  readonly operator: string;
  readonly period: number;
  readonly finalPeriod: number;
  readonly height: number;
}
/**
 * The stake left the group: released to the operator's free balance once the reward period
 * `finalPeriod` (the OperatorUnsubscribed's) closed. v2; v1 named `finalPeriod` `period`.
 */
export interface StakeReleasedEvent {
  readonly group: string;
  readonly operator: string;
  readonly amount: string;
  readonly finalPeriod: number;
}
/** v1 of StakeReleased, as old logs hold it. */
export interface StakeReleasedEventV1 {
  readonly group: string;
  readonly operator: string;
  readonly amount: string;
  readonly period: number;
}

/**
 * SPEC §3, read from a published `finalPeriod` (undefined: no withdrawal), for reward period
 * `period`: `IN` — the operator still votes and earns; `FINAL` — its final period: it no longer
 * votes or earns, the stake stays locked; `RELEASABLE` — the final period has closed: the stake is
 * released (the registry's StakeReleased) and counts for nothing. Every service reads the
 * withdrawal through this function.
 */
export function withdrawalStage(finalPeriod: number | undefined, period: number): 'IN' | 'FINAL' | 'RELEASABLE' {
  if (finalPeriod === undefined || period < finalPeriod) return 'IN';
  return period === finalPeriod ? 'FINAL' : 'RELEASABLE';
}
export interface WorkerConnectedEvent {
  readonly operator: string;
  readonly worker: string;
  readonly height: number;
}
export interface WorkerDisconnectedEvent {
  readonly operator: string;
  readonly worker: string;
  readonly height: number;
}
/** Ledger movements of rewards, confirmed by the registry after it applied a RewardsComputed chunk. v2 (v1: `period`). */
export interface RewardsCreditedEvent {
  readonly group: string;
  readonly rewardPeriod: number;
  readonly chunk: number;
  readonly total: string;
  /** What each operator received in its unclaimed rewards for the group (copied from RewardsComputed). */
  readonly payouts: readonly { readonly operator: string; readonly amount: string }[];
}
/**
 * Alert: a RewardsComputed chunk was not credited (the budget could not cover it, the group is
 * unknown or removed, or the chunk is malformed). Nothing moved; the registrar's workflow decides.
 * v2 (v1: `period`).
 */
export interface RewardsCreditRefusedEvent {
  readonly group: string;
  readonly rewardPeriod: number;
  readonly chunk: number;
  readonly subtotal: string;
  readonly budget: string;
  readonly reason: string;
}
/** The allow list flag and entries after a change (`added`/`removed` are this change's entries). */
export interface AllowListChangedEvent {
  readonly group: string;
  readonly enabled: boolean;
  readonly added: readonly string[];
  readonly removed: readonly string[];
}
export interface RegistrarSignedUpEvent {
  readonly registrar: string;
  readonly friendlyName: string;
  readonly legalLocation: string;
}
export interface RegistrarDeletedEvent {
  readonly registrar: string;
}
// Ledger movements. Each event balances on its own, so the conservation invariant holds at every
// log position. The treasury is REGISTRY_TREASURY below.
export interface DepositedEvent {
  readonly account: string;
  readonly amount: string;
}
export interface WithdrawnEvent {
  readonly account: string;
  readonly amount: string;
}
export interface TransferredEvent {
  readonly from: string;
  readonly to: string;
  readonly amount: string;
}
/** `amount` of `account`'s free balance reserved under `holdId` by a service account (e.g. distance). */
export interface HoldPlacedEvent {
  readonly holdId: string;
  readonly account: string;
  readonly amount: string;
  readonly purpose: string;
  readonly placedBy: string;
}
export interface HoldReleasedEvent {
  readonly holdId: string;
  readonly account: string;
  readonly amount: string;
  readonly reason: string;
}
/** The hold's amount left the account's reserved balance for the treasury's free balance. */
export interface HoldSlashedEvent {
  readonly holdId: string;
  readonly account: string;
  readonly amount: string;
  readonly treasury: string;
  readonly reason: string;
}
/** The treasury account that slashes go to: a fixed address nobody holds a key for. */
export const REGISTRY_TREASURY = 'ed25519:' + '0'.repeat(64);
export interface RewardsClaimedEvent {
  readonly operator: string;
  readonly groups: readonly { readonly group: string; readonly amount: string }[];
}

// ---- voting and consensus ----------------------------------------------------------------------
/**
 * Vote metadata of one settled round, for rewards: per operator, eligible +1 for each worker in the
 * snapshot and correct +1 for each whose vote equals the result. Unresolved rounds count for nobody.
 * Long lists come in chunks. v2 (v1: `period`).
 */
export interface VoteMetadataEvent {
  readonly group: string;
  /** The reward period the round's metadata counts in. */
  readonly rewardPeriod: number;
  readonly solution: string;
  readonly roundId: string;
  readonly chunk: number;
  readonly chunks: number;
  readonly eligibleOperators: readonly string[];
  readonly correctOperators: readonly string[];
}

/**
 * Voting's round events (stream `round:<solution>:<roundId>`), consumed by the validators.
 * A round's start, snapshot chunks and first vote (when a worker's vote starts it) are one append.
 */
export interface RoundStartedEvent {
  readonly solution: string;
  readonly roundId: string;
  readonly group: string;
  /** The registrar that owns the solution, or the worker whose vote started it, or `system` for a retry. */
  readonly starter: string;
  readonly startBlock: number;
  /** start + maxWaitingThreshold: the round expires (OffChainVote) when this block is recorded. */
  readonly endBlock: number;
  /** The reward period the round belongs to (v2; v1: `period`, upcast). */
  readonly rewardPeriod: number;
  readonly quorumPercent: number;
  readonly voteThresholdPercent: number;
  readonly unresolvedPolicy: 'NONE' | 'RETRY_ONCE';
  /** Size of the eligibility snapshot (E); the snapshot itself follows in `snapshotChunks` RoundSnapshot events. */
  readonly eligible: number;
  readonly snapshotChunks: number;
  /** Set on an automatic retry: the round id that ended unresolved. */
  readonly retryOf?: string;
}
/** One chunk of a round's eligibility snapshot: [worker, operator] pairs sorted by worker. */
export interface RoundSnapshotEvent {
  readonly solution: string;
  readonly roundId: string;
  readonly chunk: number;
  readonly chunks: number;
  readonly workers: readonly (readonly [string, string])[];
}
/** One accepted vote; `result` is lowercase hex of 1..64 bytes. Signed by the worker (metadata signer/nonce). */
export interface VoteCastEvent {
  readonly solution: string;
  readonly roundId: string;
  readonly worker: string;
  readonly result: string;
  readonly height: number;
}
/**
 * Several accepted votes of one round appended together (group commit; voting writes it for two or
 * more votes decided in one append, at most MAX_VOTES_PER_EVENT). Each vote is exactly a VoteCast
 * with these `solution`, `roundId` and `height`: `votes` holds [worker, result hex] in the order the
 * votes were decided, and the metadata's `signers` holds each one's [worker, nonce, signature] in the
 * same order (see `castVotes` and `voteSigners`). Consumers fold the votes one by one, in order.
 */
export interface VotesCastEvent {
  readonly solution: string;
  readonly roundId: string;
  readonly height: number;
  readonly votes: readonly (readonly [string, string])[];
}
/** Votes in one VotesCast at most: about 320 bytes each in the log, so an event stays far below Kafka's 1 MiB record limit. */
export const MAX_VOTES_PER_EVENT = 500;
/** One signer of a VotesCast: [worker, nonce (decimal), signature hex (absent when the command was not signed, e.g. in tests)]. */
export type VoteSigner = readonly [string, string, string?];
/** The votes of a VoteCast or a VotesCast as [worker, result hex], in order (anything else: none). */
export const castVotes = (e: { readonly type: string; readonly data: unknown }): readonly (readonly [string, string])[] => {
  if (e.type === 'VoteCast') {
    const d = e.data as VoteCastEvent;
    return [[d.worker, d.result]];
  }
  return e.type === 'VotesCast' ? (e.data as VotesCastEvent).votes : [];
};
/** The signers of a VotesCast from its metadata, in the order of its votes ([] when absent). */
export const voteSigners = (metadata: unknown): readonly VoteSigner[] => {
  const s = (metadata as { signers?: unknown } | null | undefined)?.signers;
  return Array.isArray(s) ? (s as VoteSigner[]) : [];
};
/**
 * v2: the round expired at `height` and is now OffChainVote, with the `submitted` votes recorded
 * before it. The votes themselves are carried once, by the round's VoteCast events (same stream,
 * before this one): a validator folds those and checks it received `submitted` of them.
 */
export interface RoundClosedEvent {
  readonly solution: string;
  readonly roundId: string;
  readonly height: number;
  readonly submitted: number;
}
/**
 * v1 (logs written before votes were carried once): the close also carried the recorded votes
 * ([worker, result hex], sorted by worker) in `chunks` events. Read only: voting writes v2.
 */
export interface RoundClosedV1Event extends RoundClosedEvent {
  readonly chunk: number;
  readonly chunks: number;
  readonly votes: readonly (readonly [string, string])[];
}
/** The v1 form of a decoded RoundClosed (its votes and chunk), or undefined for v2. */
export const roundClosedV1 = (d: RoundClosedEvent | RoundClosedV1Event): RoundClosedV1Event | undefined => ('votes' in d ? d : undefined);
/** An alert for the registrar's own workflow: a RETRY_ONCE round failed twice, or its retry could not start. */
export interface RoundAlertEvent {
  readonly solution: string;
  readonly roundId: string;
  readonly reason: string;
}

/** What a validator computed for a round (SPEC §5), in integers. */
export interface Tally {
  readonly eligible: number;
  readonly submitted: number;
  /** Votes for the most frequent result. */
  readonly top: number;
  readonly outcome: 'SETTLED' | 'UNRESOLVED';
  /** Hex result when settled. */
  readonly result?: string;
  readonly reason?: 'NO_QUORUM' | 'NO_MAJORITY' | 'TIE';
}
/** A validator's signed statement of a round's outcome (stream `solution:<solution>` of consensus). */
export interface AttestationRecordedEvent {
  readonly solution: string;
  readonly roundId: string;
  readonly validator: string;
  readonly tally: Tally;
  readonly merkleRoot: string;
  /** ed25519 over `attestationBytes` (services/consensus), hex. */
  readonly signature: string;
  /** True when it disagrees with the outcome already settled (or with the settled outcome, recorded after). */
  readonly dissent: boolean;
}
export interface RoundSettledEvent {
  readonly solution: string;
  readonly roundId: string;
  readonly group: string;
  /** The reward period the round belongs to (v3; v1 and v2: `period`, upcast). */
  readonly rewardPeriod: number;
  readonly result: string;
  readonly tally: Tally;
  readonly merkleRoot: string;
  readonly attestors: readonly string[];
  readonly dissenters: readonly string[];
  /**
   * The validator set in force when the round was decided (the two thirds were counted against
   * it). Absent on events written before it was recorded.
   */
  readonly validators?: readonly string[];
}
export interface RoundUnresolvedEvent {
  readonly solution: string;
  readonly roundId: string;
  readonly group: string;
  /** As in RoundSettledEvent. */
  readonly rewardPeriod: number;
  readonly reason: 'NO_QUORUM' | 'NO_MAJORITY' | 'TIE';
  readonly tally: Tally;
  readonly merkleRoot: string;
  readonly attestors: readonly string[];
  readonly dissenters: readonly string[];
  /** As in RoundSettledEvent. */
  readonly validators?: readonly string[];
}
/** One entry of a solution's result chain: hash = sha256(prevHash, roundId, result, tally). */
export interface ResultChainedEvent {
  readonly solution: string;
  readonly index: number;
  readonly roundId: string;
  readonly result: string;
  readonly tally: Tally;
  readonly prevHash: string;
  readonly hash: string;
}
/** The validator set recorded in the consensus log (from configuration). */
export interface ValidatorSetConfiguredEvent {
  readonly validators: readonly string[];
  /**
   * v2: the attestation window, in blocks. A round decided while it is recorded takes its missing
   * attestations until block max(its end block, the height at its decision) + this many; then it
   * leaves consensus's state and a late attestation is refused. Absent (v1, and sets recorded
   * without it): a decided round waits for every validator of the set that decided it.
   */
  readonly attestationWindow?: number;
}

// ---- rewards -----------------------------------------------------------------------------------
/** Emitted at genesis (height 0, first start) and when the admin changes the length for future periods. */
export interface RewardPeriodScheduleChangedEvent {
  readonly fromPeriod: number;
  readonly firstBlock: number;
  readonly length: number;
}

/**
 * One group's rewards for one closed reward period. The registry's ledger consumes it: `total` leaves the
 * group's reward budget and each payout is credited to the operator's unclaimed rewards for the
 * group. Long payout lists come in chunks (chunk 0..chunks-1), each with its own subtotal. v2 (v1: `period`).
 */
export interface RewardsComputedEvent {
  readonly group: string;
  readonly rewardPeriod: number;
  readonly chunk: number;
  readonly chunks: number;
  /** `amount` = `base` + `active` (the split is informational; the ledger moves `amount`). Zero payouts are left out. */
  readonly payouts: readonly { readonly operator: string; readonly amount: string; readonly base?: string; readonly active?: string }[];
  readonly subtotal: string;
}

/** A new reward period began (the first block of period `index` was recorded by rewards). */
export interface RewardPeriodStartedEvent {
  readonly index: number;
  readonly firstBlock: number;
  readonly lastBlock: number;
}

/**
 * The due rewards of a group for a period exceeded what is left of its budget: every share was
 * scaled down by `budget / due` (rounded down), so `paid` ≤ `budget`. v2 (v1: `period`).
 */
export interface BudgetExhaustedEvent {
  readonly group: string;
  readonly rewardPeriod: number;
  readonly budget: string;
  readonly due: string;
  readonly paid: string;
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
  /** The evaluation period whose pool was settled (when evaluationPeriod + 1 began). v2 (v1: `period`, upcast). */
  readonly evaluationPeriod: number;
  /** The price held, base units (what the registry releases or slashes). */
  readonly amount?: string;
  /** The median of the accepted values (Perbill); absent when no result arrived. */
  readonly median?: number;
  /** When VALID: the last evaluation period of validity. */
  readonly validUntilPeriod?: number;
  /** Set when the request never reached a pool (it filled while the hold was placed). */
  readonly reason?: 'POOL_FULL';
}

export const PUBLISHED = {
  consensus: {
    BlockProduced: 'BlockProduced',
    BlocksProduced: 'BlocksProduced',
    VoteMetadata: 'VoteMetadata',
    AttestationRecorded: 'AttestationRecorded',
    RoundSettled: 'RoundSettled',
    RoundUnresolved: 'RoundUnresolved',
    ResultChained: 'ResultChained',
    ValidatorSetConfigured: 'ValidatorSetConfigured',
  },
  voting: {
    RoundStarted: 'RoundStarted',
    RoundSnapshot: 'RoundSnapshot',
    VoteCast: 'VoteCast',
    VotesCast: 'VotesCast',
    RoundClosed: 'RoundClosed',
    RoundAlert: 'RoundAlert',
  },
  registry: {
    GroupRegistered: 'GroupRegistered',
    GroupRewardsChanged: 'GroupRewardsChanged',
    GroupBudgetChanged: 'GroupBudgetChanged',
    GroupStatusChanged: 'GroupStatusChanged',
    SolutionRegistered: 'SolutionRegistered',
    SolutionStatusChanged: 'SolutionStatusChanged',
    WorkerNominated: 'WorkerNominated',
    WorkerUnnominated: 'WorkerUnnominated',
    OperatorSubscribed: 'OperatorSubscribed',
    StakeToppedUp: 'StakeToppedUp',
    OperatorUnsubscribed: 'OperatorUnsubscribed',
    StakeReleased: 'StakeReleased',
    WorkerConnected: 'WorkerConnected',
    WorkerDisconnected: 'WorkerDisconnected',
    RewardsCredited: 'RewardsCredited',
    RewardsClaimed: 'RewardsClaimed',
    Deposited: 'Deposited',
    RewardsCreditRefused: 'RewardsCreditRefused',
    AllowListChanged: 'AllowListChanged',
    RegistrarSignedUp: 'RegistrarSignedUp',
    RegistrarDeleted: 'RegistrarDeleted',
    Withdrawn: 'Withdrawn',
    Transferred: 'Transferred',
    HoldPlaced: 'HoldPlaced',
    HoldReleased: 'HoldReleased',
    HoldSlashed: 'HoldSlashed',
  },
  rewards: {
    RewardPeriodScheduleChanged: 'RewardPeriodScheduleChanged',
    RewardPeriodStarted: 'RewardPeriodStarted',
    RewardsComputed: 'RewardsComputed',
    BudgetExhausted: 'BudgetExhausted',
  },
  distance: { EvaluationSettled: 'EvaluationSettled' },
} as const;
