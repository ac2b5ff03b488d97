import { decodeDistanceLog } from '@ewx/contracts';
import { isDomainError, precondition, proven, type Auth, type CommandProof, type Logger, type Runtime } from '@ewx/platform';
import { decide, requestStream } from '../domain/decider.js';
import type { EvaluationRequested, EvaluationSettled, HoldRequested } from '../domain/events.js';
import type { DistanceParams } from '../domain/params.js';
import type { DistanceState } from '../domain/state.js';
import type { Ledger } from './ledger.js';

export { requestStream } from '../domain/decider.js';

export type RequestOutcome = { readonly joined: Pick<EvaluationRequested, 'requestPeriod' | 'evaluationPeriod'> } | { readonly returned: EvaluationSettled };

/**
 * A request in three steps, each recorded before the next starts:
 *   1. HoldRequested (checks passed; the signed nonce is used up here, so a replay is refused),
 *   2. Registry.PlaceHold with the deterministic hold id (idempotent at the registry),
 *   3. EvaluationRequested (joins the pool) or HoldFailed (the registry refused).
 * A crash or an unreachable registry between 1 and 3 leaves the request HOLDING; the re-drive
 * (at start-up and every few seconds) repeats 2 and 3 until one of them is recorded.
 */
export interface Requests {
  request(auth: Auth & { readonly proof?: CommandProof }, identity: number): Promise<{ held: HoldRequested; outcome: RequestOutcome }>;
  /** Drives every HOLDING request to its outcome; returns how many were settled one way or the other. */
  redrive(): Promise<number>;
}

export function requests(runtime: Runtime<DistanceState>, params: DistanceParams, ledger: Ledger | string, log: Logger): Requests {
  const inFlight = new Set<string>();

  /** Steps 2 and 3 for one hold; a final refusal is recorded and rethrown, an unknown outcome rethrown. */
  const drive = async (held: HoldRequested): Promise<RequestOutcome> => {
    if (typeof ledger === 'string') throw precondition(ledger);
    inFlight.add(held.holdId);
    try {
      try {
        await ledger.placeHold(held.holdId, held.requester, BigInt(held.amount));
      } catch (e) {
        if (!isDomainError(e)) throw e;
        await runtime.execute(requestStream(held.identity), (s) => decide({ type: 'FailHold', holdId: held.holdId, reason: e.message }, s, params));
        throw e;
      }
      const [recorded] = await runtime.execute(requestStream(held.identity), (s) => decide({ type: 'ConfirmHold', holdId: held.holdId }, s, params));
      if (!recorded) {
        // Confirmed meanwhile by the re-drive: report what it recorded.
        const r = runtime.state().requests.get(held.holdId);
        if (r?.evaluationPeriod === undefined) throw precondition(`hold ${held.holdId}: no longer pending`);
        return { joined: { requestPeriod: r.requestPeriod, evaluationPeriod: r.evaluationPeriod } };
      }
      const ev = decodeDistanceLog(recorded);
      if (ev?.type === 'EvaluationRequested') return { joined: ev.data };
      if (ev?.type === 'EvaluationSettled') return { returned: ev.data };
      throw new Error(`ConfirmHold decided ${recorded.type}, not EvaluationRequested or EvaluationSettled`);
    } finally {
      inFlight.delete(held.holdId);
    }
  };

  return {
    async request(auth, identity) {
      if (typeof ledger === 'string') throw precondition(ledger);
      // (A used nonce is left to execute, which refuses it with PERMISSION_DENIED as for any command.)
      if (ledger.freeBalance && auth.nonce > runtime.lastNonce(auth.signer)) {
        // Refuse an obviously unpayable request before anything is recorded (the hold would fail and
        // leave HoldRequested + HoldFailed in the log): the domain's own refusals come first.
        decide({ type: 'RequestEvaluation', requester: auth.signer, identity }, runtime.state(), params);
        const free = await ledger.freeBalance(auth.signer);
        if (free !== undefined && free < params.price) {
          throw precondition(
            `requester: ${auth.signer} has ${free} free base units, an evaluation costs ${params.price}; deposit or receive at least ${params.price - free} more, then retry`,
          );
        }
      }
      const [e] = await runtime.execute(
        requestStream(identity),
        proven(auth, (s) => decide({ type: 'RequestEvaluation', requester: auth.signer, identity }, s, params)),
        auth,
      );
      const ev = decodeDistanceLog(e!);
      if (ev?.type !== 'HoldRequested') throw new Error(`RequestEvaluation decided ${e?.type}, not HoldRequested`);
      const held = ev.data;
      return { held, outcome: await drive(held) };
    },
    async redrive() {
      if (typeof ledger === 'string') return 0;
      let done = 0;
      const holding = [...runtime.state().requests.values()].filter((r) => r.stage === 'HOLDING' && !inFlight.has(r.holdId));
      for (const r of holding) {
        try {
          await drive({ holdId: r.holdId, identity: r.identity, requester: r.requester, amount: r.amount, requestPeriod: r.requestPeriod, height: 0 });
          done++;
        } catch (err) {
          if (isDomainError(err)) done++;
          else log.warn('re-drive: hold outcome still unknown, will retry', { holdId: r.holdId, error: (err as Error).message });
        }
      }
      return done;
    },
  };
}
