import { INBOX_PREFIX, toEnvelope } from '../envelope.js';
import type { EventStore, LogPosition } from '../eventstore/types.js';
import { subscribe, type Subscription } from '../eventstore/subscription.js';
import type { Logger } from '../log.js';
import { traceHeadersOf } from '../telemetry/kafka.js';
import { observeLogTailLag } from '../telemetry/service.js';
import type { Bus, Consumer, ConsumerOptions } from './types.js';
import { topicOf } from './types.js';

/**
 * The embedded bus: no queue of its own. A topic is the producing service's log, and a consumer
 * group tails that log with a durable checkpoint (`consumer:<group>`) saved in the same database
 * only after its handler has recorded the events. So, like Kafka, an event is delivered until its
 * consumer has recorded it, across any kill; there is nothing in memory to lose, and producers
 * publish nothing (no relay runs: `tailsLogs`).
 */
export interface LogTailBus extends Bus {
  readonly tailsLogs: true;
  /** Makes `service`'s log the source of its topic; `head` (the producer's last applied position) feeds the consumer-lag gauge. */
  register(service: string, store: EventStore, head?: () => LogPosition): void;
}

export function logTailBus(log: Logger, namespace = ''): LogTailBus {
  const sources = new Map<string, { service: string; store: EventStore; head?: () => LogPosition }>();
  const consumers = new Set<Consumer>();
  return {
    tailsLogs: true,
    register(service, store, head) {
      sources.set(topicOf(service, namespace), { service, store, head });
    },
    async publish() {
      /* the log is the topic */
    },
    async consume(o: ConsumerOptions): Promise<Consumer> {
      const unobserved: (() => void)[] = [];
      const subs: Subscription[] = o.topics.map((topic) => {
        const src = sources.get(topic);
        if (!src) throw new Error(`bus: no log registered for topic ${topic}`);
        const sub = subscribe(src.store, {
          checkpoint: `consumer:${o.groupId}`,
          batchSize: 500,
          log: log.child({ component: 'bus', group: o.groupId, topic }),
          handler: async (events) => {
            const messages = events
              .filter((e) => !e.streamId.startsWith(INBOX_PREFIX))
              .map((e) => ({
                topic,
                partition: 0,
                offset: e.position,
                key: e.streamId,
                value: JSON.stringify(toEnvelope(src.service, e)),
                ...traceHeadersOf(e.metadata),
              }));
            if (o.handleBatch) {
              if (messages.length > 0) await o.handleBatch(messages);
              return;
            }
            for (const m of messages) await o.handler(m);
          },
        });
        const { head } = src;
        if (head) unobserved.push(observeLogTailLag(o.groupId, topic, head, () => sub.position()));
        return sub;
      });
      const handle: Consumer = {
        async stop() {
          consumers.delete(handle);
          for (const u of unobserved) u();
          await Promise.all(subs.map((s) => s.stop()));
        },
      };
      consumers.add(handle);
      return handle;
    },
    async close() {
      for (const c of [...consumers]) await c.stop();
    },
  };
}
