import * as os from 'node:os';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

/**
 * The memory benches' probe (services' `bench/memory.bench.ts`): heap used after a full GC and the
 * state's v8-serialised size (a snapshot's size) at checkpoints of a fold, counted from where the
 * probe was made. Importing this module exposes `gc` (benches only).
 */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Two full collections (the second frees what the first's finalisers released). */
export const fullGc = (): void => {
  gc();
  gc();
};
export const loadAverage = (): number[] => os.loadavg().map((x) => +x.toFixed(1));
export const MB = (b: number): number => +(b / 2 ** 20).toFixed(2);

export type MemoryPoint = Record<string, unknown> & { heapUsedMB: number; serializedBytes: number; seconds: number };

export interface MemoryProbe {
  readonly points: MemoryPoint[];
  /** A checkpoint: `label` (e.g. `{ rounds, votes }`) with the heap over the start and the state's serialised size, printed to stderr. */
  checkpoint(label: Record<string, unknown>): void;
  /** Bytes of heap and of serialised state per unit, from the point where `key` was 1 to the last (undefined before two points). */
  perUnit(key: string): { heapBytes: number; serializedBytes: number } | undefined;
}

/** A probe of the fold `name` whose state `state()` returns; the heap baseline is taken now, after a full GC. */
export function memoryProbe(name: string, state: () => unknown): MemoryProbe {
  fullGc();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const points: MemoryPoint[] = [];
  return {
    points,
    checkpoint(label) {
      fullGc();
      const heap = process.memoryUsage().heapUsed - heap0;
      points.push({ ...label, heapUsedMB: MB(heap), serializedBytes: v8.serialize(state()).length, seconds: +((performance.now() - t0) / 1000).toFixed(1) });
      console.error(name, JSON.stringify(points.at(-1)));
    },
    perUnit(key) {
      const first = points.find((p) => p[key] === 1);
      const last = points.at(-1);
      const n = Number(last?.[key] ?? 0) - 1;
      if (!first || !last || n <= 0) return undefined;
      return {
        heapBytes: Math.round(((last.heapUsedMB - first.heapUsedMB) * 2 ** 20) / n),
        serializedBytes: Math.round((last.serializedBytes - first.serializedBytes) / n),
      };
    },
  };
}
