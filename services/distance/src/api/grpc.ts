import {
  addressField,
  authenticate,
  DomainError,
  notFound,
  precondition,
  proven,
  renamedField,
  serviceStatus,
  watchHandler,
  unary,
  type GrpcService,
  type Logger,
  type Runtime,
  type HeightSync,
} from '@ewx/platform';
import {
  AddIdentityRequest,
  CertificationRequest,
  DistanceService,
  DistanceStatus,
  ImportWotRequest,
  PublishResultRequest,
  RequestEvaluationRequest,
  SetMembershipRequest,
  EvaluationOutcome,
  type EvaluationWork,
  type GetEvaluationWorkRequest,
  type GetIdentityStatusRequest,
  type GetPoolRequest,
  type GetWotSnapshotRequest,
  type IdentityStatus,
  type Pool,
  type WotChangeResponse,
  type WotSnapshot,
  type WotStats,
} from '@ewx/proto/distance';
import { wotStatsCache } from '../app/graphs.js';
import { poolStream } from '../app/reactions.js';
import type { Requests } from '../app/requests.js';
import { decide, WOT_STREAM, type DistanceCommand } from '../domain/decider.js';
import type { DistanceParams } from '../domain/params.js';
import { poolOf } from '../domain/periods.js';
import { currentPeriod, KEPT_SETTLED_POOLS, type DistanceState } from '../domain/state.js';
import { identityStatus } from '../domain/status.js';

const M = '/ewx.v1.Distance/';
export { WOT_STREAM } from '../domain/decider.js';

const STATUS = {
  NON_EXISTENT: DistanceStatus.DISTANCE_STATUS_NON_EXISTENT,
  PENDING: DistanceStatus.DISTANCE_STATUS_PENDING,
  VALID: DistanceStatus.DISTANCE_STATUS_VALID,
} as const;
/** The last evaluation's outcome on the wire (proto enum). */
const OUTCOME = {
  VALID: EvaluationOutcome.EVALUATION_OUTCOME_VALID,
  INVALID: EvaluationOutcome.EVALUATION_OUTCOME_INVALID,
  NOT_EVALUATED: EvaluationOutcome.EVALUATION_OUTCOME_NOT_EVALUATED,
} as const;

/** The name of the period field a request used (refusals name the field that was sent). */
const sentAs = (req: { evaluationPeriod?: number | undefined }): string => (req.evaluationPeriod === undefined ? 'period' : 'evaluation_period');

export function distanceGrpc(runtime: Runtime<DistanceState>, params: DistanceParams, reqs: Requests, log: Logger, heights?: HeightSync): GrpcService {
  const stats = wotStatsCache(params.maxDistance);
  const wotChange = <T extends { auth?: unknown }>(method: string, encode: (m: T) => Uint8Array, toCommand: (signer: string, req: T) => DistanceCommand) =>
    unary(M + method, log, async (req: T): Promise<WotChangeResponse> => {
      const auth = authenticate(M + method, req as never, encode as never);
      const events = await runtime.execute(
        WOT_STREAM,
        proven(auth, (s) => decide(toCommand(auth.signer, req), s, params)),
        auth,
      );
      const s = runtime.state();
      return { wotVersion: BigInt(s.wotVersion), identities: s.wot.size, events: events.length };
    });

  return {
    name: 'ewx.v1.Distance',
    definition: DistanceService,
    implementation: {
      getStatus: unary(M + 'GetStatus', log, serviceStatus(runtime)),
      watch: watchHandler(M + 'Watch', runtime, log),

      requestEvaluation: unary(M + 'RequestEvaluation', log, async (req: RequestEvaluationRequest) => {
        const auth = authenticate(M + 'RequestEvaluation', req, (m) => RequestEvaluationRequest.encode(m).finish());
        await heights?.sync(runtime); // the request period is the wall-clock one (@ewx/platform heightSync)
        const { held, outcome } = await reqs.request(auth, req.identity);
        if ('returned' in outcome) {
          throw new DomainError(
            'RESOURCE_EXHAUSTED',
            `pool of period ${outcome.returned.evaluationPeriod} filled while the hold ${held.holdId} was placed; the hold is released`,
          );
        }
        return {
          holdId: held.holdId,
          period: outcome.joined.requestPeriod,
          requestPeriod: outcome.joined.requestPeriod,
          evaluationPeriod: outcome.joined.evaluationPeriod,
          pool: poolOf(outcome.joined.evaluationPeriod),
          price: held.amount,
        };
      }),

      publishResult: unary(M + 'PublishResult', log, async (req: PublishResultRequest) => {
        const auth = authenticate(M + 'PublishResult', req, (m) => PublishResultRequest.encode(m).finish());
        const period = renamedField('evaluation_period', req.evaluationPeriod, 'period', req.period, 0);
        await heights?.sync(runtime); // the current evaluation period and block are the wall-clock ones
        await runtime.execute(
          poolStream(period),
          proven(auth, (s) => decide({ type: 'PublishResult', evaluator: auth.signer, period, values: req.values }, s, params)),
          auth,
        );
        const s = runtime.state();
        return { period, evaluationPeriod: period, height: BigInt(s.height), results: s.pools.get(period)?.results.size ?? 0 };
      }),

      getIdentityStatus: unary(M + 'GetIdentityStatus', log, async (req: GetIdentityStatusRequest): Promise<IdentityStatus> => {
        const v = identityStatus(runtime.state(), req.identity);
        return {
          identity: v.identity,
          status: STATUS[v.status],
          inWot: v.inWot,
          valid: v.valid,
          validUntilPeriod: v.validUntilPeriod ?? 0,
          validUntilHeight: BigInt(v.validUntilHeight ?? 0),
          pendingEvaluationPeriod: v.pendingEvaluationPeriod ?? 0,
          pendingHoldId: v.pendingHoldId ?? '',
          lastMedian: v.lastMedian ?? 0,
          lastOutcome: v.lastOutcome ? OUTCOME[v.lastOutcome.outcome] : EvaluationOutcome.EVALUATION_OUTCOME_UNSPECIFIED,
          lastOutcomePeriod: v.lastOutcome?.evaluationPeriod ?? 0,
          lastOutcomeReason: v.lastOutcome?.reason ?? '',
        };
      }),

      getPool: unary(M + 'GetPool', log, async (req: GetPoolRequest): Promise<Pool> => {
        const s = runtime.state();
        const period = renamedField('evaluation_period', req.evaluationPeriod, 'period', req.period, undefined) ?? currentPeriod(s);
        const pool = s.pools.get(period);
        if (!pool && period <= s.settledThrough - KEPT_SETTLED_POOLS)
          throw notFound(`${sentAs(req)}: the pool of period ${period} (settled; its EvaluationSettled events are in the log)`);
        return {
          period,
          evaluationPeriod: period,
          pool: poolOf(period),
          entries: (pool?.entries ?? []).map((e) => ({ identity: e.identity, requester: e.requester, holdId: e.holdId })),
          publishedBy: [...(pool?.results.keys() ?? [])],
          settled: period <= s.settledThrough,
          results: [...(pool?.results ?? [])].map(([evaluator, values]) => ({ evaluator, values: [...values] })),
        };
      }),

      getWotStats: unary(M + 'GetWotStats', log, async (): Promise<WotStats> => {
        const v = stats(runtime.state());
        return { ...v, wotVersion: BigInt(v.wotVersion) };
      }),

      addIdentity: wotChange(
        'AddIdentity',
        (m: AddIdentityRequest) => AddIdentityRequest.encode(m).finish(),
        (signer, r) => ({ type: 'AddIdentity', signer, identity: r.identity, member: r.member }),
      ),
      setMembership: wotChange(
        'SetMembership',
        (m: SetMembershipRequest) => SetMembershipRequest.encode(m).finish(),
        (signer, r) => ({ type: 'SetMembership', signer, identity: r.identity, member: r.member }),
      ),
      addCertification: wotChange(
        'AddCertification',
        (m: CertificationRequest) => CertificationRequest.encode(m).finish(),
        (signer, r) => ({ type: 'AddCertification', signer, issuer: r.issuer, receiver: r.receiver }),
      ),
      removeCertification: wotChange(
        'RemoveCertification',
        (m: CertificationRequest) => CertificationRequest.encode(m).finish(),
        (signer, r) => ({ type: 'RemoveCertification', signer, issuer: r.issuer, receiver: r.receiver }),
      ),
      importWot: wotChange(
        'ImportWot',
        (m: ImportWotRequest) => ImportWotRequest.encode(m).finish(),
        (signer, r) => ({ type: 'ImportWot', signer, json: r.json }),
      ),

      getEvaluationWork: unary(M + 'GetEvaluationWork', log, async (req: GetEvaluationWorkRequest): Promise<EvaluationWork> => {
        addressField('evaluator', req.evaluator);
        const s = runtime.state();
        const period = currentPeriod(s);
        const pool = s.pools.get(period);
        return {
          period,
          evaluationPeriod: period,
          pool: poolOf(period),
          height: BigInt(s.height),
          identities: (pool?.entries ?? []).map((e) => e.identity),
          published: pool?.results.has(req.evaluator) ?? false,
          wotVersion: BigInt(s.snapshot.wotVersion),
          maxDistance: params.maxDistance,
          lastResultHeight: BigInt(s.lastResultHeight),
        };
      }),

      getWotSnapshot: unary(M + 'GetWotSnapshot', log, async (req: GetWotSnapshotRequest): Promise<WotSnapshot> => {
        const s = runtime.state();
        const period = renamedField('evaluation_period', req.evaluationPeriod, 'period', req.period, 0);
        if (period !== s.snapshot.period)
          throw precondition(`${sentAs(req)}: only the snapshot of the current period ${s.snapshot.period} is kept, got ${period}`);
        return {
          period: s.snapshot.period,
          evaluationPeriod: s.snapshot.period,
          wotVersion: BigInt(s.snapshot.wotVersion),
          identities: [...s.snapshot.wot.values()].map((i) => ({ id: i.id, member: i.member, certifiedBy: [...i.certifiedBy] })),
        };
      }),
    },
  };
}
