import * as grpc from '@grpc/grpc-js';
import type { KeyPair } from '@ewx/client/keys';
import { signCommand } from '@ewx/client/signing';
import { PublishResultRequest, type DistanceClient, type EvaluationWork, type WotSnapshot } from '@ewx/proto/distance';
import { buildGraph, evaluate, type WotGraph } from '../oracle/index.js';

/** Where the worker logs (the platform's Logger and the evaluator's own both fit). */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
}

/** What one poll did, for logs and tests. */
export type Step =
  | { readonly kind: 'idle'; readonly why: string }
  | { readonly kind: 'published'; readonly period: number; readonly values: readonly number[] }
  | { readonly kind: 'retry'; readonly why: string };

export interface Evaluator {
  /** One poll: fetch the work, evaluate if needed, publish. */
  step(): Promise<Step>;
}

const unaryCall = <Req, Res>(fn: (req: Req, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown, client: DistanceClient, req: Req): Promise<Res> =>
  new Promise((resolve, reject) => fn.call(client, req, (e, r) => (e ? reject(e) : resolve(r))));

/**
 * The oracle worker: each period, the pool of the current period and the web of trust as it stood
 * when the period began, evaluated with the fast oracle, published under the evaluator's key.
 * Results are cached per (period, web-of-trust version) so a refused publication (another
 * evaluator's result already in this block) is retried without recomputing.
 */
const periodOf = (work: EvaluationWork): number => work.evaluationPeriod || work.period;

export function evaluatorWorker(client: DistanceClient, key: KeyPair, log: Logger, nonce: () => bigint): Evaluator {
  let graph: { version: bigint; graph: WotGraph } | undefined;
  let computed: { period: number; version: bigint; values: number[] } | undefined;

  const graphFor = async (work: EvaluationWork): Promise<WotGraph> => {
    if (graph?.version === work.wotVersion) return graph.graph;
    const snap: WotSnapshot = await unaryCall(client.getWotSnapshot, client, { period: 0, evaluationPeriod: periodOf(work) });
    graph = { version: snap.wotVersion, graph: buildGraph(snap.identities.map((i) => ({ id: i.id, member: i.member, certifiedBy: i.certifiedBy }))) };
    return graph.graph;
  };

  return {
    async step() {
      const work: EvaluationWork = await unaryCall(client.getEvaluationWork, client, { evaluator: key.address });
      // evaluation_period, or the deprecated period from a server before it.
      const period = periodOf(work);
      if (work.identities.length === 0) return { kind: 'idle', why: `pool of period ${period} is empty` };
      if (work.published) return { kind: 'idle', why: `already published for period ${period}` };
      if (computed?.period !== period || computed.version !== work.wotVersion) {
        const g = await graphFor(work);
        const t0 = performance.now();
        computed = { period, version: work.wotVersion, values: Array.from(evaluate(g, work.identities, { maxDistance: work.maxDistance })) };
        log.info('pool evaluated', { period, identities: work.identities.length, ms: Math.round(performance.now() - t0) });
      }
      if (work.lastResultHeight === work.height) return { kind: 'retry', why: `block ${work.height} already has a result` };
      const req = signCommand(
        key,
        '/ewx.v1.Distance/PublishResult',
        { auth: undefined, period: 0, evaluationPeriod: period, values: computed.values },
        nonce(),
        (m) => PublishResultRequest.encode(m).finish(),
      );
      try {
        await unaryCall(client.publishResult, client, req);
        log.info('result published', { period, identities: computed.values.length });
        return { kind: 'published', period, values: computed.values };
      } catch (e) {
        const err = e as grpc.ServiceError;
        // Another result in this block, or the period turned meanwhile: try again at the next poll.
        return { kind: 'retry', why: `${grpc.status[err.code] ?? err.code}: ${err.details}` };
      }
    },
  };
}
