import type { Bus, OutgoingMessage } from './bus/types.js';
import { topicOf } from './bus/types.js';
import { INBOX_PREFIX, toEnvelope } from './envelope.js';
import type { EventStore } from './eventstore/types.js';
import { subscribe, type Subscription } from './eventstore/subscription.js';
import type { Logger } from './log.js';
import { publishSpans } from './telemetry/relay.js';

/** Below Kafka's default 1 MiB record batch limit, with room for the envelope's overhead. */
const MAX_SEND_BYTES = 512 * 1024;

/**
 * The outbox relay: the event store is the outbox. It publishes each committed event of the
 * service's own streams to `ewx.<service>.events.v1` and saves its checkpoint after the broker
 * acknowledged. A crash in between republishes; consumers dedupe.
 *
 * Every message of one log has the same key (the service): Kafka keeps order only within a
 * partition, and consumers need each source log in its order across streams, not only per stream.
 * Consensus, for instance, appends a round's settlement (stream `round:…`) before the block run
 * that passes the round's period end (stream `clock`); keyed by stream, the two could reach rewards
 * in either order, and rewards would close the period without the round's votes. A service split
 * into partition logs (voting with VOTING_PARTITIONS > 1) passes one `key` per partition log.
 */
export function startRelay(store: EventStore, bus: Bus, service: string, log: Logger, namespace = '', key = service): Subscription {
  const topic = topicOf(service, namespace);
  return subscribe(store, {
    checkpoint: 'relay',
    batchSize: 500,
    // Inbox copies are never relayed: their bodies need not be read.
    withoutBodiesUnder: INBOX_PREFIX,
    log: log.child({ component: 'relay' }),
    handler: async (events) => {
      const own = events.filter((e) => !e.streamId.startsWith(INBOX_PREFIX));
      // Kafka limits a record batch (one send's messages for one partition) to ~1 MiB: a few large
      // chunk events of one stream would be refused together, so sends are split by size, in order.
      let send: OutgoingMessage[] = [];
      let bytes = 0;
      for (const e of own) {
        const m = publishSpans.message(e, topic, { key, value: JSON.stringify(toEnvelope(service, e)) });
        const n = Buffer.byteLength(m.value) + Buffer.byteLength(m.key);
        if (send.length > 0 && bytes + n > MAX_SEND_BYTES) {
          await publishSpans.sent(send, () => bus.publish(topic, send));
          send = [];
          bytes = 0;
        }
        send.push(m);
        bytes += n;
      }
      if (send.length > 0) await publishSpans.sent(send, () => bus.publish(topic, send));
    },
  });
}
