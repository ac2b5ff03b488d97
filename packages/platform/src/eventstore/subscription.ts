import type { Logger } from '../log.js';
import { backoff, sleep } from '../retry.js';
import { START, type EventStore, type LogPosition, type RecordedEvent } from './types.js';

export interface Subscription {
  /** Resolves once the subscription has read to the end of the log at least once. */
  readonly caughtUp: Promise<void>;
  /** The position of the last event handled (or where it started). */
  position(): LogPosition;
  stop(): Promise<void>;
}

export interface SubscribeOptions {
  /** Durable checkpoint name; without one the subscription starts at `from` and keeps its place in memory. */
  readonly checkpoint?: string;
  readonly from?: LogPosition;
  readonly batchSize?: number;
  readonly pollMs?: number;
  readonly log: Logger;
  /** Handles one batch; the checkpoint is saved only after it resolves (at-least-once delivery). */
  readonly handler: (events: RecordedEvent[]) => Promise<void>;
  /** Passed to `readAll`: events of these streams may reach the handler without their bodies. */
  readonly withoutBodiesUnder?: string;
  /** Passed to `readAll`: events may reach the handler with `dataText` instead of parsed `data` (RecordedEventText). */
  readonly dataAsText?: boolean;
}

/** A catch-up subscription over one service's log: reads from its checkpoint, then follows. */
export function subscribe(store: EventStore, o: SubscribeOptions): Subscription {
  let stopped = false;
  let pos: LogPosition = o.from ?? START;
  let markCaughtUp!: () => void;
  const caughtUp = new Promise<void>((r) => (markCaughtUp = r));
  const loop = (async () => {
    let failures = 0;
    if (o.checkpoint) {
      for (;;) {
        try {
          pos = await store.getCheckpoint(o.checkpoint);
          break;
        } catch (e) {
          if (stopped) return;
          o.log.warn('subscription: reading checkpoint failed', { checkpoint: o.checkpoint, error: (e as Error).message });
          await sleep(backoff(failures++));
        }
      }
    }
    while (!stopped) {
      try {
        const batch = await store.readAll(
          pos,
          o.batchSize ?? 1000,
          o.withoutBodiesUnder === undefined && o.dataAsText === undefined
            ? undefined
            : {
                ...(o.withoutBodiesUnder === undefined ? {} : { withoutBodiesUnder: o.withoutBodiesUnder }),
                ...(o.dataAsText === undefined ? {} : { dataAsText: o.dataAsText }),
              },
        );
        if (batch.length === 0) {
          markCaughtUp();
          await store.waitForAppend(o.pollMs ?? 100);
          continue;
        }
        await o.handler(batch);
        pos = batch[batch.length - 1]!.position;
        if (o.checkpoint) await store.saveCheckpoint(o.checkpoint, pos);
        failures = 0;
      } catch (e) {
        if (stopped) break;
        const wait = backoff(failures++);
        o.log.warn('subscription: batch failed, retrying', { checkpoint: o.checkpoint, position: pos, retryInMs: wait, error: (e as Error).message });
        await sleep(wait);
      }
    }
  })();
  return {
    caughtUp,
    position: () => pos,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
