import type { Bus, OutgoingMessage } from './bus/types.js';
import { topicOf } from './bus/types.js';
import type { Span } from '@opentelemetry/api';
import { INBOX_PREFIX, runEntry, runOverhead, runRecord, toEnvelope } from './envelope.js';
import type { EventStore, RecordedEvent } from './eventstore/types.js';
import { subscribe, type Subscription } from './eventstore/subscription.js';
import type { Logger } from './log.js';
import { publishSpans } from './telemetry/relay.js';

/** Below Kafka's default 1 MiB record batch limit, with room for the envelope's overhead: a send's and a run record's bound. */
const MAX_SEND_BYTES = 512 * 1024;

/** Whether the relay publishes run records (RELAY_RUN_RECORDS, default 1) or one record per event (0). */
export const runRecordsFrom = (env: { int(name: string, fallback: number, min: number, max: number): number }): boolean =>
  env.int('RELAY_RUN_RECORDS', 1, 0, 1) === 1;

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
 *
 * With `runRecords` (the default; RELAY_RUN_RECORDS) the own events of one read (≤ 500) go out as
 * run records (envelope.ts: many events in one record, each with its trace context), cut where a
 * record would pass 512 KB, one send per record; a single event larger than that goes alone.
 * Without it, one record per event (the form every build reads), in sends of ≤ 512 KB.
 */
export function startRelay(store: EventStore, bus: Bus, service: string, log: Logger, namespace = '', key = service, runRecords = true): Subscription {
  const topic = topicOf(service, namespace);
  const base = runOverhead(service, 1) + Buffer.byteLength(key);
  const publishRuns = async (own: readonly RecordedEvent[]): Promise<void> => {
    let entries: string[] = [];
    let spans: Span[] = [];
    let bytes = base;
    const flush = async (): Promise<void> => {
      const m = publishSpans.attach({ key, value: runRecord(service, entries) }, spans);
      entries = [];
      spans = [];
      bytes = base;
      await publishSpans.sent([m], () => bus.publish(topic, [m]));
    };
    for (const e of own) {
      const mine: Span[] = [];
      const entry = runEntry(e, publishSpans.carrier(e, topic, mine, true));
      const n = Buffer.byteLength(entry) + 1;
      if (entries.length > 0 && bytes + n > MAX_SEND_BYTES) await flush();
      entries.push(entry);
      spans.push(...mine);
      bytes += n;
    }
    if (entries.length > 0) await flush();
  };
  return subscribe(store, {
    checkpoint: 'relay',
    batchSize: 500,
    // Inbox copies are never relayed: their bodies need not be read.
    withoutBodiesUnder: INBOX_PREFIX,
    // A run record passes each event's data on as JSON: the stored text is spliced in, not parsed and re-serialised.
    ...(runRecords ? { dataAsText: true } : {}),
    log: log.child({ component: 'relay' }),
    handler: async (events) => {
      const own = events.filter((e) => !e.streamId.startsWith(INBOX_PREFIX));
      if (runRecords) return publishRuns(own);
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
