import { buildGraph, referees, type WotGraph, type WotIdentity } from '../oracle/index.js';
import type { DistanceState } from '../domain/state.js';

export interface WotStatsView {
  readonly identities: number;
  readonly members: number;
  readonly certifications: number;
  readonly refereeThreshold: number;
  readonly referees: number;
  readonly maxDistance: number;
  readonly wotVersion: number;
}

/**
 * The oracle's compact graph of the current web of trust, rebuilt only when it changed (queries
 * ask often, the web of trust changes rarely). Identities are in the order they were added.
 */
export function wotStatsCache(maxDistance: number): (s: DistanceState) => WotStatsView {
  let cached: WotStatsView | undefined;
  return (s) => {
    if (cached?.wotVersion === s.wotVersion) return cached;
    const graph: WotGraph = buildGraph([...s.wot.values()] as WotIdentity[]);
    const refs = referees(graph, maxDistance);
    cached = {
      identities: graph.size,
      members: graph.memberCount,
      certifications: graph.inSources.length,
      refereeThreshold: refs.threshold,
      referees: refs.indices.length,
      maxDistance,
      wotVersion: s.wotVersion,
    };
    return cached;
  };
}
