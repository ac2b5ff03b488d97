import { ConfigError } from './errors.js';
import type { Logger } from './log.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const abortableSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
  });

/** Exponential backoff with a cap. */
export function backoff(attempt: number, baseMs = 100, capMs = 5000): number {
  return Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16));
}

/**
 * Retries a lost broker or database with backoff, logging each failure; never gives up, unless
 * `stopped` says so after a failure. `signal` cuts the backoff short (then `fn` runs once more).
 */
export async function retryForever<T>(
  what: string,
  log: Logger,
  fn: () => Promise<T>,
  stopped: () => boolean = () => false,
  signal?: AbortSignal,
): Promise<T | undefined> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      // A configuration error will not heal by waiting: fail start-up with it.
      if (e instanceof ConfigError || stopped()) throw e;
      const wait = backoff(attempt);
      log.warn(`${what} failed, retrying`, { attempt, retryInMs: wait, error: (e as Error).message });
      await (signal ? abortableSleep(wait, signal) : sleep(wait));
    }
  }
}
