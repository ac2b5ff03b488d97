import type { EventStore } from '@ewx/platform';
import { periodRows } from '../domain/closed.js';
import type { ClosedPeriod, OperatorRow } from '../domain/state.js';

/**
 * Rows of the closed periods read last, kept up to this many rows in all (REWARDS_KEPT_ROWS): a
 * listing or paging over recent periods reads each from the store once. About 0.3 KB of heap a row.
 */
export const KEPT_ROWS = 100_000;

export interface PeriodArchive {
  /** The closed period's per-operator rows, read from its decision events in the log. */
  read(group: string, c: ClosedPeriod): Promise<Map<string, OperatorRow>>;
}

/**
 * Reads closed periods' rows back from the store (they left the state: ClosedPeriod) and keeps the
 * last ones read, least recently used first out, within `keptRows` rows (always the last one read).
 * A closed period's events never change, so a kept answer stays true; a failed read is not kept.
 */
export function periodArchive(store: EventStore, keptRows = KEPT_ROWS): PeriodArchive {
  const kept = new Map<string, { rows: Promise<Map<string, OperatorRow>>; weight: number }>();
  let weight = 0;
  return {
    read(group, c) {
      const key = `${group}|${c.period}`;
      const hit = kept.get(key);
      if (hit) {
        kept.delete(key);
        kept.set(key, hit);
        return hit.rows;
      }
      const n = c.toVersion - c.fromVersion + 1;
      const rows = store.readStream(c.stream, c.fromVersion, n).then((events) => periodRows(group, c, events));
      const entry = { rows, weight: Math.max(c.operators, 1) };
      kept.set(key, entry);
      weight += entry.weight;
      rows.catch(() => {
        if (kept.get(key) === entry) {
          kept.delete(key);
          weight -= entry.weight;
        }
      });
      for (const [k, v] of kept) {
        if (weight <= keptRows || k === key) break;
        kept.delete(k);
        weight -= v.weight;
      }
      return rows;
    },
  };
}
