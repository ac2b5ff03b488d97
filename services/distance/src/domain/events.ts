/**
 * Events of the distance log: the union `DistanceEvent` of @ewx/contracts (EvaluationSettled is
 * published, the others internal). Deciders build them with `distanceEvent({ type, data })`;
 * `evolve` reads them through `decodeDistanceLog`.
 */
export type {
  CertificationAdded,
  CertificationRemoved,
  DistanceConfigured,
  DistanceEvent,
  EvaluationRequested,
  EvaluationSettled,
  HoldFailed,
  HoldRequested,
  IdentityAdded,
  MembershipChanged,
  PoolSettled,
  ResultPublished,
  ValidityExpired,
  WotIdentityData,
  WotImported,
} from '@ewx/contracts';
