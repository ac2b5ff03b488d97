import type { Bus } from './bus/types.js';
import { topicOf } from './bus/types.js';
import { INBOX_PREFIX, toEnvelope } from './envelope.js';
import type { EventStore } from './eventstore/types.js';
import { subscribe, type Subscription } from './eventstore/subscription.js';
import type { Logger } from './log.js';

/**
 * The outbox relay: the event store is the outbox. It publishes each committed event of the
 * service's own streams to `ewx.<service>.events.v1`, keyed by stream id, and saves its
 * checkpoint after the broker acknowledged. A crash in between republishes; consumers dedupe.
 */
export function startRelay(store: EventStore, bus: Bus, service: string, log: Logger, namespace = ''): Subscription {
  const topic = topicOf(service, namespace);
  return subscribe(store, {
    checkpoint: 'relay',
    batchSize: 500,
    log: log.child({ component: 'relay' }),
    handler: async (events) => {
      const own = events.filter((e) => !e.streamId.startsWith(INBOX_PREFIX));
      if (own.length > 0) await bus.publish(topic, own.map((e) => ({ key: e.streamId, value: JSON.stringify(toEnvelope(service, e)) })));
    },
  });
}
