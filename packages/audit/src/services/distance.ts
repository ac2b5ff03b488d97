import { decodeDistanceLog } from '@ewx/contracts';
import { distanceDecider } from '@ewx/distance';
import { decide } from '@ewx/distance/domain/decider';
import { defaultParams, type DistanceParams } from '@ewx/distance/domain/params';
import type { DistanceState } from '@ewx/distance/domain/state';
import { buildGraph, evaluate, type WotIdentity } from '@ewx/distance/oracle/index';
import { fact, metaOf, type ServiceAudit } from '../runner.js';
import type { LogEvent } from '../types.js';

export interface SettledFact {
  position: bigint;
  outcome: string;
  amount?: string;
  reason?: string;
}

const SETTLE_TYPES = new Set(['ValidityExpired', 'EvaluationSettled', 'PoolSettled']);

/**
 * Distance: each settlement re-decided from the state before it (the medians of the accepted
 * results, the outcomes against the recorded minimum, the validities that end); every result
 * from an evaluator that signed it, of the pool's length; and each evaluator's values compared
 * with the oracle run on the web of trust of its period (a difference is noted, not a
 * divergence: the median decides).
 */
export function distanceAudit(options: { maxDistance?: number } = {}): ServiceAudit<DistanceState> {
  const maxDistance = options.maxDistance ?? 5;
  const minimums = new Set<number>();
  const deviations = new Map<string, number>();
  let graph: { version: number; graph: ReturnType<typeof buildGraph> } | undefined;

  /** The parameters a settlement was decided with, as far as its own events record them. */
  const settleParams = (first: LogEvent, peek: (k: number) => LogEvent | undefined, s: DistanceState): DistanceParams => {
    let minimum: number | undefined;
    let validity: number | undefined;
    for (let k = 0; ; k++) {
      const e = k === 0 ? first : peek(k);
      if (!e || e.streamId !== first.streamId || !SETTLE_TYPES.has(e.type)) break;
      const ev = decodeDistanceLog(e);
      if (ev?.type === 'EvaluationSettled') {
        const d = ev.data;
        minimum ??= d.minimum;
        if (d.outcome === 'VALID' && d.validUntilPeriod !== undefined) validity ??= d.validUntilPeriod - (d.evaluationPeriod + 1) + 1;
      }
      if (e.type === 'PoolSettled') break;
    }
    const p = defaultParams('');
    return { ...p, periodBlocks: s.periodBlocks ?? p.periodBlocks, minPerbill: minimum ?? p.minPerbill, validityPeriods: validity ?? p.validityPeriods };
  };

  return {
    service: 'distance',
    decider: distanceDecider,
    own(e, s, ctx) {
      const m = metaOf(e);
      if (SETTLE_TYPES.has(e.type)) {
        ctx.count('settlement');
        if (m.signer !== undefined) ctx.diverge('settlement', `${e.type} signed by ${m.signer}: settlements are the service's own reaction`);
        const p = settleParams(e, ctx.peek, s);
        minimums.add(p.minPerbill);
        ctx.expect('settlement', decide({ type: 'SettleDuePeriod' }, s, p));
        return;
      }
      const ev = decodeDistanceLog(e);
      switch (ev?.type) {
        case 'DistanceConfigured':
          ctx.count('configuration');
          ctx.expect('configuration', decide({ type: 'Configure' }, s, { ...defaultParams(''), periodBlocks: ev.data.periodBlocks }));
          return;
        case 'ResultPublished': {
          const d = ev.data;
          ctx.count('result');
          if (m.signer !== d.evaluator) ctx.diverge('result', `a result of ${d.evaluator} signed by ${m.signer ?? 'nobody'}`);
          const pool = s.pools.get(d.evaluationPeriod);
          if (!pool) {
            ctx.diverge('result', `a result for period ${d.evaluationPeriod}, which has no pool in the log`);
            return;
          }
          if (pool.results.has(d.evaluator)) ctx.diverge('result', `a second result of ${d.evaluator} for period ${d.evaluationPeriod}`);
          if (d.values.length !== pool.entries.length)
            ctx.diverge('result', `${d.values.length} values for a pool of ${pool.entries.length}`, {
              expected: pool.entries.length,
              recorded: d.values.length,
            });
          if (graph?.version !== s.snapshot.wotVersion)
            graph = { version: s.snapshot.wotVersion, graph: buildGraph([...s.snapshot.wot.values()] as WotIdentity[]) };
          ctx.count('oracle');
          const honest = evaluate(
            graph.graph,
            pool.entries.map((x) => x.identity),
            { maxDistance },
          );
          const off = d.values.filter((v, i) => v !== honest[i]).length;
          deviations.set(d.evaluator, (deviations.get(d.evaluator) ?? 0) + off);
          if (off > 0)
            ctx.note(
              'oracle',
              `evaluator ${d.evaluator}: ${off} of ${d.values.length} values of period ${d.evaluationPeriod} differ from the oracle on the period's web of trust`,
            );
          return;
        }
        case 'EvaluationRequested':
        case 'HoldFailed': {
          ctx.count('request');
          const holdId = ev.data.holdId;
          const r = s.requests.get(holdId);
          if (r?.stage !== 'HOLDING') ctx.diverge('request', `${e.type} for hold ${holdId}, which is not being placed in the log`);
          return;
        }
        default:
          return;
      }
    },
    after(e, _s, ctx) {
      const ev = decodeDistanceLog(e);
      if (ev?.type === 'EvaluationSettled' && !e.streamId.startsWith('inbox:')) {
        const d = ev.data;
        fact(ctx.cross, 'distance.settled', () => new Map<string, SettledFact>()).set(d.holdId, {
          position: e.position,
          outcome: d.outcome,
          ...(d.amount ? { amount: d.amount } : {}),
          ...(d.reason ? { reason: d.reason } : {}),
        });
      }
      if (ev?.type === 'HoldRequested') {
        fact(ctx.cross, 'distance.requested', () => new Map<string, bigint>()).set(ev.data.holdId, e.position);
      }
    },
    finish(_s, ctx) {
      if (minimums.size > 1) ctx.note('configuration', `settlements used different minimums: ${[...minimums].join(', ')}`);
      if (deviations.size > 0) ctx.note('oracle', `values off the oracle per evaluator: ${[...deviations].map(([k, v]) => `${k} ${v}`).join(', ')}`);
    },
  };
}
