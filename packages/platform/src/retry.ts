import type { Logger } from './log.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Exponential backoff with a cap, for lost brokers and databases: logged, never given up on. */
export function backoff(attempt: number, baseMs = 100, capMs = 5000): number {
  return Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16));
}

export async function retryForever<T>(what: string, log: Logger, fn: () => Promise<T>, stopped: () => boolean = () => false): Promise<T | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (stopped()) return undefined;
      const wait = backoff(attempt);
      log.warn(`${what} failed, retrying`, { attempt, retryInMs: wait, error: (e as Error).message });
      await sleep(wait);
    }
  }
}
