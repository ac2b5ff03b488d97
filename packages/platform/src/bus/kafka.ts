import { Kafka, logLevel, type KafkaConfig, type Producer, type SASLOptions } from 'kafkajs';
import type { Logger } from '../log.js';
import type { KafkaSecurity } from './kafka-security.js';
import type { Bus, Consumer, ConsumerOptions, OutgoingMessage } from './types.js';

export interface KafkaBusOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly partitions?: number;
  readonly log: Logger;
  /** TLS and SASL (see kafkaSecurityFrom); plaintext when absent. */
  readonly security?: KafkaSecurity;
}

/**
 * Kafka through kafkajs (unmaintained since 2023, so it stays behind this port). The producer is
 * idempotent with one request in flight, so a retried send neither duplicates nor reorders; the
 * message key is the stream id, so one stream's events stay in one partition, in order.
 */
/** kafkajs' client configuration for these options (the bus's, and the TLS/SASL tests'). */
export function kafkaConfig(o: KafkaBusOptions): KafkaConfig {
  return {
    clientId: o.clientId,
    brokers: [...o.brokers],
    ...(o.security?.ssl ? { ssl: o.security.ssl } : {}),
    ...(o.security?.sasl ? { sasl: { ...o.security.sasl } as SASLOptions } : {}),
    logLevel: logLevel.ERROR,
    retry: { initialRetryTime: 200, retries: 12, maxRetryTime: 5000 },
    logCreator: () => ({ level, log }) => o.log.warn('kafkajs', { level, message: log.message, error: log.error }),
  };
}

export function kafkaBus(o: KafkaBusOptions): Bus {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  const kafka = new Kafka(kafkaConfig(o));
  let producer: Producer | undefined;
  let connecting: Promise<Producer> | undefined;
  const knownTopics = new Set<string>();
  const consumers = new Set<Consumer>();

  const ensureTopics = async (names: readonly string[]): Promise<void> => {
    const missing = names.filter((n) => !knownTopics.has(n));
    if (missing.length === 0) return;
    const admin = kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const create = missing.filter((n) => !existing.has(n));
      if (create.length > 0) {
        await admin.createTopics({ waitForLeaders: true, topics: create.map((topic) => ({ topic, numPartitions: o.partitions ?? 3 })) })
          .catch((e: Error) => { if (!/already exists/i.test(e.message)) throw e; });
      }
      // Another process may have created a topic a moment ago ("already exists" above, without
      // waiting for leaders): subscribing before its partitions have leaders fails with
      // UNKNOWN_TOPIC_OR_PARTITION, so wait until the metadata shows them (bounded).
      for (let attempt = 0; ; attempt++) {
        const ready = await admin.fetchTopicMetadata({ topics: missing })
          .then((m) => m.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)), () => false);
        if (ready || attempt >= 50) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      for (const n of missing) knownTopics.add(n);
    } finally {
      await admin.disconnect();
    }
  };

  const getProducer = (): Promise<Producer> => {
    if (producer) return Promise.resolve(producer);
    connecting ??= (async () => {
      const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      producer = p;
      return p;
    })().finally(() => { connecting = undefined; });
    return connecting;
  };

  return {
    async publish(topic: string, messages: readonly OutgoingMessage[]) {
      await ensureTopics([topic]);
      const p = await getProducer();
      await p.send({ topic, acks: -1, messages: messages.map((m) => ({ key: m.key, value: m.value })) });
    },
    async consume(c: ConsumerOptions): Promise<Consumer> {
      await ensureTopics(c.topics);
      const consumer = kafka.consumer({ groupId: c.groupId, retry: { retries: 1000, initialRetryTime: 200, maxRetryTime: 5000 } });
      await consumer.connect();
      await consumer.subscribe({ topics: [...c.topics], fromBeginning: true });
      await consumer.run({
        autoCommit: true,
        eachMessage: async ({ topic, partition, message }) => {
          await c.handler({ topic, partition, offset: message.offset, key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
        },
      });
      const handle: Consumer = { async stop() { consumers.delete(handle); await consumer.disconnect(); } };
      consumers.add(handle);
      return handle;
    },
    async close() {
      for (const c of [...consumers]) await c.stop();
      await producer?.disconnect();
      producer = undefined;
    },
  };
}
