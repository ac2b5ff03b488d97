import type { Bus, Consumer, ConsumerOptions, IncomingMessage, OutgoingMessage } from './types.js';
import type { Logger } from '../log.js';
import { backoff, sleep } from '../retry.js';

/**
 * A memory bus for unit tests (the embedded mode uses `logTailBus`, which survives a kill): topics
 * are arrays kept for the life of the process, each consumer group has
 * one offset per topic, and delivery is in order. Like Kafka it redelivers a message whose handler
 * threw, so the same idempotent consumers run on both.
 */
export function inProcessBus(log: Logger): Bus {
  const topics = new Map<string, IncomingMessage[]>();
  const wakers = new Set<() => void>();
  const topic = (name: string): IncomingMessage[] => {
    let t = topics.get(name);
    if (!t) {
      t = [];
      topics.set(name, t);
    }
    return t;
  };
  return {
    async publish(name: string, messages: readonly OutgoingMessage[]) {
      const t = topic(name);
      for (const m of messages) t.push({ ...m, topic: name, partition: 0, offset: String(t.length) });
      for (const w of [...wakers]) w();
    },
    async consume(o: ConsumerOptions): Promise<Consumer> {
      let stopped = false;
      const offsets = new Map(o.topics.map((t) => [t, 0]));
      let wake: () => void = () => undefined;
      const loop = (async () => {
        let failures = 0;
        while (!stopped) {
          let delivered = false;
          for (const name of o.topics) {
            const t = topic(name);
            let at = offsets.get(name)!;
            while (!stopped && at < t.length) {
              try {
                await o.handler(t[at]!);
                offsets.set(name, ++at);
                delivered = true;
                failures = 0;
              } catch (e) {
                log.warn('bus: handler failed, redelivering', { group: o.groupId, topic: name, offset: at, error: (e as Error).message });
                await sleep(backoff(failures++, 20, 1000));
              }
            }
          }
          if (!delivered && !stopped) {
            await new Promise<void>((r) => {
              wake = () => {
                wakers.delete(wake);
                r();
              };
              wakers.add(wake);
            });
          }
        }
      })();
      return {
        async stop() {
          stopped = true;
          wake();
          await loop;
        },
      };
    },
    async close() {
      for (const w of [...wakers]) w();
    },
  };
}
