import { decoder, encode, pick, type EncodedEvent } from './codec.js';
import type { BlockEvent } from './consensus.js';
import type { EvaluationSettledEvent } from './published.js';
import { CONSENSUS_EVENTS, DISTANCE_EVENTS } from './versions.js';

/**
 * Events of the distance log. Identity ids are numbers (< 2^32), amounts decimal strings in base
 * units, periods evaluation-period indices. No field is the bare word `period` (v2):
 * `requestPeriod` is the period a request was made in (it joins the pool evaluated in the next
 * one), `evaluationPeriod` the period a pool is evaluated in; v1 events (`period`) are upcast.
 */
export interface DistanceConfigured {
  readonly periodBlocks: number;
}

/** One identity of the web of trust, as stored: the issuers of the certifications it received. */
export interface WotIdentityData {
  readonly id: number;
  readonly member: boolean;
  readonly certifiedBy: readonly number[];
}

export interface IdentityAdded {
  readonly id: number;
  readonly member: boolean;
}
export interface MembershipChanged {
  readonly id: number;
  readonly member: boolean;
}
export interface CertificationAdded {
  readonly issuer: number;
  readonly receiver: number;
}
export interface CertificationRemoved {
  readonly issuer: number;
  readonly receiver: number;
}
/** One chunk of an imported ewx-wot/1 file: each identity is created or replaced as given. */
export interface WotImported {
  readonly importId: string;
  readonly chunk: number;
  readonly chunks: number;
  readonly identities: readonly WotIdentityData[];
}

/** A request passed the checks in period `requestPeriod`; the price is about to be held (Registry.PlaceHold with holdId). v2 (v1: `period`). */
export interface HoldRequested {
  readonly holdId: string;
  readonly identity: number;
  readonly requester: string;
  readonly amount: string;
  readonly requestPeriod: number;
  readonly height: number;
}
/** The registry refused the hold (e.g. short of free balance): the request is dropped. */
export interface HoldFailed {
  readonly holdId: string;
  readonly identity: number;
  readonly reason: string;
}
/**
 * The hold is in place: the request, made in `requestPeriod` (the period the hold was confirmed
 * in), joins pool `evaluationPeriod` mod 3 at `index`, evaluationPeriod = requestPeriod + 1.
 * v2 (v1: `period` for `requestPeriod`).
 */
export interface EvaluationRequested {
  readonly holdId: string;
  readonly identity: number;
  readonly requester: string;
  readonly amount: string;
  readonly requestPeriod: number;
  readonly evaluationPeriod: number;
  readonly pool: number;
  readonly index: number;
}
/** An evaluator's values for the pool evaluated in `evaluationPeriod` (the current one). v2 (v1: `period`). */
export interface ResultPublished {
  readonly evaluator: string;
  readonly evaluationPeriod: number;
  readonly pool: number;
  readonly height: number;
  readonly values: readonly number[];
}
/**
 * A validity ended: recorded when evaluation period `evaluationPeriod` began, the first one after
 * `validUntilPeriod`. v2 (v1: `period`).
 */
export interface ValidityExpired {
  readonly identity: number;
  readonly validUntilPeriod: number;
  readonly evaluationPeriod: number;
}
/**
 * The published contract (its optional fields always set here where they apply) plus the
 * decision's inputs: every accepted value for the identity, in acceptance order, and the minimum
 * the median was compared with.
 */
export interface EvaluationSettled extends EvaluationSettledEvent {
  readonly amount: string;
  readonly values: readonly number[];
  readonly minimum: number;
}
/** Closes evaluation period `evaluationPeriod`: its pool was settled when evaluationPeriod + 1 began. v2 (v1: `period`). */
export interface PoolSettled {
  readonly evaluationPeriod: number;
  readonly pool: number;
  readonly height: number;
  readonly entries: number;
  readonly evaluators: readonly string[];
  readonly wotVersion: number;
  readonly snapshotPosition: string;
  readonly valid: number;
  readonly invalid: number;
  readonly notEvaluated: number;
  readonly expired: number;
}

/** The distance log's own events: EvaluationSettled is published, the others internal. */
export type DistanceEvent =
  | { readonly type: 'DistanceConfigured'; readonly data: DistanceConfigured }
  | { readonly type: 'IdentityAdded'; readonly data: IdentityAdded }
  | { readonly type: 'MembershipChanged'; readonly data: MembershipChanged }
  | { readonly type: 'CertificationAdded'; readonly data: CertificationAdded }
  | { readonly type: 'CertificationRemoved'; readonly data: CertificationRemoved }
  | { readonly type: 'WotImported'; readonly data: WotImported }
  | { readonly type: 'HoldRequested'; readonly data: HoldRequested }
  | { readonly type: 'HoldFailed'; readonly data: HoldFailed }
  | { readonly type: 'EvaluationRequested'; readonly data: EvaluationRequested }
  | { readonly type: 'ResultPublished'; readonly data: ResultPublished }
  | { readonly type: 'ValidityExpired'; readonly data: ValidityExpired }
  | { readonly type: 'EvaluationSettled'; readonly data: EvaluationSettled }
  | { readonly type: 'PoolSettled'; readonly data: PoolSettled };

/** What the distance log folds: its own events and blocks. */
export type DistanceLogEvent = DistanceEvent | BlockEvent;

export const decodeDistanceLog = decoder<DistanceLogEvent>({ ...DISTANCE_EVENTS, ...pick(CONSENSUS_EVENTS, 'BlockProduced', 'BlocksProduced') });
/** The store form of one of the distance log's own events (the one way its decider builds events). */
export const distanceEvent = (e: DistanceEvent): EncodedEvent => encode(e);
