import type { RecordedEvent } from '@ewx/platform';
import { decodeDistanceLog } from '@ewx/contracts';
import { median } from '../domain/median.js';
import { evolve, initialState } from '../domain/state.js';
import { buildGraph, evaluate, type WotIdentity } from '../oracle/index.js';

export interface AuditReport {
  /** EvaluationSettled events recomputed from the results recorded before them. */
  readonly settlementsChecked: number;
  /** Settlements whose values, median or outcome do not follow from the log. */
  readonly mismatches: readonly string[];
  /** Per evaluator: values that differ from the oracle run on the period's snapshot. */
  readonly deviations: ReadonlyMap<string, number>;
  readonly resultsChecked: number;
}

/**
 * Replays a distance log as an auditor would: folds it with the service's own evolve, recomputes
 * every result with the oracle on the snapshot its period was evaluated against, and every
 * settlement from the recorded results (values, median, outcome against the recorded minimum).
 */
export function auditLog(events: Iterable<RecordedEvent>, maxDistance: number): AuditReport {
  const s = initialState();
  const mismatches: string[] = [];
  const deviations = new Map<string, number>();
  let settlementsChecked = 0;
  let resultsChecked = 0;
  let graph: { version: number; graph: ReturnType<typeof buildGraph> } | undefined;
  for (const e of events) {
    const ev = decodeDistanceLog(e);
    if (ev?.type === 'ResultPublished') {
      const r = ev.data;
      const pool = s.pools.get(r.evaluationPeriod);
      if (graph?.version !== s.snapshot.wotVersion)
        graph = { version: s.snapshot.wotVersion, graph: buildGraph([...s.snapshot.wot.values()] as WotIdentity[]) };
      const expected = evaluate(
        graph.graph,
        (pool?.entries ?? []).map((p) => p.identity),
        { maxDistance },
      );
      const off = r.values.filter((v, i) => v !== expected[i]).length;
      deviations.set(r.evaluator, (deviations.get(r.evaluator) ?? 0) + off);
      resultsChecked++;
    }
    if (ev?.type === 'EvaluationSettled') {
      const d = ev.data;
      if (d.reason === undefined) {
        const pool = s.pools.get(d.evaluationPeriod);
        const index = pool?.entries.findIndex((p) => p.holdId === d.holdId) ?? -1;
        const values = index < 0 ? [] : [...pool!.results.values()].map((v) => v[index]!);
        const m = median(values);
        const outcome = m === undefined ? 'NOT_EVALUATED' : m >= d.minimum ? 'VALID' : 'INVALID';
        if (index < 0) mismatches.push(`${d.holdId}: not in the pool of period ${d.evaluationPeriod}`);
        else if (JSON.stringify(values) !== JSON.stringify(d.values) || m !== d.median || outcome !== d.outcome) {
          mismatches.push(`${d.holdId}: recorded ${d.outcome} (median ${d.median}), the log gives ${outcome} (median ${m})`);
        }
        settlementsChecked++;
      }
    }
    evolve(s, e);
  }
  return { settlementsChecked, mismatches, deviations, resultsChecked };
}
