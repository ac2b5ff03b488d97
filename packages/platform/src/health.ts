import type { Env } from './config.js';
import type { Logger } from './log.js';
import { sleep } from './retry.js';
import { instruments, observe } from './telemetry/metrics.js';

/** A dependency the process cannot serve commands without (the event store, the broker). */
export interface DependencyProbe {
  readonly name: string;
  /** Resolves when the dependency answers; rejects (or takes longer than the timeout) when it does not. */
  check(): Promise<void>;
}

export interface HealthProbeSettings {
  /** HEALTH_PROBE_INTERVAL_MS: between two rounds of probes (default 2000). */
  readonly intervalMs: number;
  /** HEALTH_PROBE_TIMEOUT_MS: a probe slower than this counts as unreachable (default 3000). */
  readonly timeoutMs: number;
}

export const healthProbeSettingsFrom = (env: Env): HealthProbeSettings => ({
  intervalMs: env.int('HEALTH_PROBE_INTERVAL_MS', 2000, 100, 60_000),
  timeoutMs: env.int('HEALTH_PROBE_TIMEOUT_MS', 3000, 100, 60_000),
});

const withTimeout = (p: Promise<void>, ms: number, what: string): Promise<void> => {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<void>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
};

/**
 * Probes the dependencies every `intervalMs` once the process is serving; `onChange(false, …)`
 * when one stops answering (health NOT_SERVING: readiness drops, the pod leaves the Service while
 * the liveness probe stays SERVING), `onChange(true)` when all answer again. Logged both ways.
 */
export function watchDependencies(
  probes: readonly DependencyProbe[],
  s: HealthProbeSettings,
  log: Logger,
  onChange: (up: boolean, down: readonly string[]) => void,
): { stop(): Promise<void> } {
  let stopped = false;
  let up = true;
  const state = new Map(probes.map((p) => [p.name, 1]));
  for (const p of probes) observe(instruments().storeUp, p.name, { dependency: p.name }, () => state.get(p.name));
  const loop = (async () => {
    while (!stopped) {
      await sleep(s.intervalMs);
      if (stopped) break;
      const down: string[] = [];
      const errors: Record<string, string> = {};
      await Promise.all(
        probes.map(async (p) => {
          try {
            await withTimeout(p.check(), s.timeoutMs, p.name);
            state.set(p.name, 1);
          } catch (e) {
            state.set(p.name, 0);
            down.push(p.name);
            errors[p.name] = (e as Error).message;
          }
        }),
      );
      if (stopped) break;
      if (down.length > 0 && up) {
        up = false;
        log.warn(`health: NOT_SERVING: ${down.join(' and ')} unreachable; commands fail until it returns, queries are answered from memory`, { errors });
        onChange(false, down);
      } else if (down.length === 0 && !up) {
        up = true;
        log.info('health: SERVING again: every dependency answers');
        onChange(true, []);
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
