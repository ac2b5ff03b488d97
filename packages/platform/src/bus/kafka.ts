import { createRequire } from 'node:module';
import type { Admin, KafkaConfig, KafkaMessage, Producer, SASLOptions } from 'kafkajs';
import type { Logger } from '../log.js';
import { headersOf, watchConsumerLag } from '../telemetry/kafka.js';
import type { KafkaSecurity } from './kafka-security.js';
import type { Bus, Consumer, ConsumerOptions, IncomingMessage, OutgoingMessage } from './types.js';

export interface KafkaBusOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly partitions?: number;
  readonly log: Logger;
  /**
   * How long the broker keeps a consumer that stopped heartbeating (a killed process) before it
   * gives its partitions to another member: a restarted service waits for that before its inbox
   * joins. Default {@link DEFAULT_SESSION_TIMEOUT_MS}; a clean stop leaves the group at once.
   */
  readonly sessionTimeoutMs?: number;
  /** TLS and SASL (see kafkaSecurityFrom); plaintext when absent. */
  readonly security?: KafkaSecurity;
}

/**
 * 6 s, the broker's smallest accepted value by default (`group.min.session.timeout.ms`), instead
 * of kafkajs's 30 s: kafkajs has no static membership (group.instance.id, KIP-345), so after a
 * `kill -9` the restarted process's new member waits until the dead one's session expires. The
 * heartbeat goes every second (see {@link heartbeatIntervalOf}), so a member is expelled only after
 * about six missed heartbeats: an event loop blocked for 6 s. That costs a rebalance (the member
 * rejoins, the batch in hand is redelivered and deduplicated), never an event.
 */
export const DEFAULT_SESSION_TIMEOUT_MS = 6000;

/** kafkajs heartbeats between fetches and messages: every second, or a fifth of a shorter session. */
const heartbeatIntervalOf = (sessionTimeoutMs: number): number => Math.max(100, Math.min(1000, Math.floor(sessionTimeoutMs / 5)));

/**
 * How long the broker may hold an idle fetch. kafkajs heartbeats between fetches, and a stop waits
 * for the fetch in flight before it sends LeaveGroup, so this bounds both the gap between idle
 * heartbeats and the time a SIGTERM takes to free the partitions. New messages end a fetch at once,
 * so it adds no latency; the cost is four empty fetches a second per idle consumer.
 */
const FETCH_MAX_WAIT_MS = 250;

/** kafkajs, loaded when a Kafka bus is configured: the embedded system has none (~140 files not loaded at its start). */
const kafkajs = (): typeof import('kafkajs') => createRequire(import.meta.url)('kafkajs') as typeof import('kafkajs');

/**
 * Kafka through kafkajs (unmaintained since 2023, so it stays behind this port). The producer is
 * idempotent with one request in flight, so a retried send neither duplicates nor reorders; the
 * relay gives every message of one log the same key (see relay.ts), so one log's events stay in one
 * partition, in log order.
 */
/** kafkajs' client configuration for these options (the bus's, and the TLS/SASL tests'). */
export function kafkaConfig(o: KafkaBusOptions): KafkaConfig {
  return {
    clientId: o.clientId,
    brokers: [...o.brokers],
    ...(o.security?.ssl ? { ssl: o.security.ssl } : {}),
    ...(o.security?.sasl ? { sasl: { ...o.security.sasl } as SASLOptions } : {}),
    logLevel: kafkajs().logLevel.ERROR,
    retry: { initialRetryTime: 200, retries: 12, maxRetryTime: 5000 },
    logCreator:
      () =>
      ({ level, log }) =>
        o.log.warn('kafkajs', { level, message: log.message, error: log.error }),
  };
}

export function kafkaBus(o: KafkaBusOptions): Bus {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  const { Kafka } = kafkajs();
  const kafka = new Kafka(kafkaConfig(o));
  const probeKafka = new Kafka({ ...kafkaConfig(o), retry: { retries: 0 }, logCreator: () => () => undefined });
  let producer: Producer | undefined;
  let connecting: Promise<Producer> | undefined;
  const knownTopics = new Set<string>();
  const consumers = new Set<Consumer>();

  /** Runs `fn` with an admin client: `shared` if given (its caller disconnects it), else a new one. */
  const withAdmin = async <T>(shared: Admin | undefined, fn: (admin: Admin) => Promise<T>): Promise<T> => {
    if (shared) return fn(shared);
    const admin = kafka.admin();
    await admin.connect();
    try {
      return await fn(admin);
    } finally {
      await admin.disconnect();
    }
  };

  const ensureTopics = async (names: readonly string[], shared?: Admin): Promise<void> => {
    const missing = names.filter((n) => !knownTopics.has(n));
    if (missing.length === 0) return;
    await withAdmin(shared, async (admin) => {
      const existing = new Set(await admin.listTopics());
      const create = missing.filter((n) => !existing.has(n));
      if (create.length > 0) {
        await admin.createTopics({ waitForLeaders: true, topics: create.map((topic) => ({ topic, numPartitions: o.partitions ?? 3 })) }).catch((e: Error) => {
          if (!/already exists/i.test(e.message)) throw e;
        });
      }
      // Another process may have created a topic a moment ago ("already exists" above, without
      // waiting for leaders): subscribing before its partitions have leaders fails with
      // UNKNOWN_TOPIC_OR_PARTITION, so wait until the metadata shows them (bounded).
      for (let attempt = 0; ; attempt++) {
        const ready = await admin.fetchTopicMetadata({ topics: missing }).then(
          (m) => m.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0)),
          () => false,
        );
        if (ready || attempt >= 50) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      for (const n of missing) knownTopics.add(n);
    });
  };

  const getProducer = (): Promise<Producer> => {
    if (producer) return Promise.resolve(producer);
    connecting ??= (async () => {
      const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      producer = p;
      return p;
    })().finally(() => {
      connecting = undefined;
    });
    return connecting;
  };

  const consumeWith = async (c: ConsumerOptions, admin: Admin): Promise<Consumer> => {
    await ensureTopics(c.topics, admin);
    const sessionTimeout = o.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    const heartbeatInterval = heartbeatIntervalOf(sessionTimeout);
    const consumer = kafka.consumer({
      groupId: c.groupId,
      sessionTimeout,
      heartbeatInterval,
      maxWaitTimeInMs: Math.min(FETCH_MAX_WAIT_MS, heartbeatInterval),
      retry: { retries: 1000, initialRetryTime: 200, maxRetryTime: 5000 },
    });
    // The backlog to catch up with: each partition's end offset before joining (see caughtUp).
    const ends = new Map<string, { low: bigint; high: bigint }>();
    for (const t of c.topics) for (const p of await admin.fetchTopicOffsets(t)) ends.set(`${t}:${p.partition}`, { low: BigInt(p.low), high: BigInt(p.high) });
    /** Partitions assigned at the last join, as `topic:partition`. */
    let assigned = new Set<string>();
    /** Next offset to handle per `topic:partition`, after this process handled a message there. */
    const handled = new Map<string, bigint>();
    let onJoin: (() => void) | undefined;
    const joined = new Promise<void>((r) => {
      onJoin = r;
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      assigned = new Set(Object.entries(payload.memberAssignment).flatMap(([t, ps]) => ps.map((p) => `${t}:${p}`)));
      o.log.info('inbox: joined the consumer group', {
        group: c.groupId,
        memberId: payload.memberId,
        leader: payload.isLeader,
        joinMs: payload.duration,
        partitions: assigned.size,
      });
      onJoin?.();
    });
    watchConsumerLag(consumer, c.groupId);
    await consumer.connect();
    try {
      return await joinAndWatch();
    } catch (e) {
      // Not half joined: a retry must not leave a second member of this process in the group.
      await consumer.disconnect().catch(() => undefined);
      throw e;
    }

    async function joinAndWatch(): Promise<Consumer> {
      await consumer.subscribe({ topics: [...c.topics], fromBeginning: true });
      const toIncoming = (topic: string, partition: number, message: KafkaMessage): IncomingMessage => ({
        topic,
        partition,
        offset: message.offset,
        key: message.key?.toString() ?? '',
        value: message.value?.toString() ?? '',
        ...headersOf(message.headers),
      });
      const handleBatch = c.handleBatch;
      if (handleBatch) {
        await consumer.run({
          autoCommit: true,
          eachBatch: async ({ batch, heartbeat, isStale }) => {
            if (batch.messages.length === 0 || isStale()) return;
            // As below: keep the session alive while the handler waits.
            const pump = setInterval(() => {
              heartbeat().catch(() => undefined);
            }, heartbeatInterval);
            try {
              await handleBatch(batch.messages.map((m) => toIncoming(batch.topic, batch.partition, m)));
            } finally {
              clearInterval(pump);
            }
            handled.set(`${batch.topic}:${batch.partition}`, BigInt(batch.messages[batch.messages.length - 1]!.offset) + 1n);
          },
        });
      } else
        await consumer.run({
          autoCommit: true,
          eachMessage: async ({ topic, partition, message, heartbeat }) => {
            // kafkajs heartbeats only between messages: keep the session alive while a handler waits
            // (a slow database, the runtime busy with a long command) instead of being expelled.
            const pump = setInterval(() => {
              heartbeat().catch(() => undefined);
            }, heartbeatInterval);
            try {
              await c.handler({
                topic,
                partition,
                offset: message.offset,
                key: message.key?.toString() ?? '',
                value: message.value?.toString() ?? '',
                ...headersOf(message.headers),
              });
            } finally {
              clearInterval(pump);
            }
            handled.set(`${topic}:${partition}`, BigInt(message.offset) + 1n);
          },
        });
      // run() returns once joined, or after a failed join that kafkajs retries by itself: wait for the join.
      await joined;
      // Where the group stands on the partitions it now owns (what the previous process committed).
      const committed = new Map<string, bigint>();
      for (const t of await admin.fetchOffsets({ groupId: c.groupId, topics: [...c.topics] })) {
        for (const p of t.partitions) committed.set(`${t.topic}:${p.partition}`, BigInt(p.offset));
      }
      const behind = (): number => {
        let n = 0n;
        for (const [k, { low, high }] of ends) {
          if (!assigned.has(k)) continue;
          let at = committed.get(k) ?? -1n;
          const h = handled.get(k);
          if (h !== undefined && h > at) at = h;
          if (low > at) at = low;
          if (at < high) n += high - at;
        }
        return Number(n);
      };
      const handle: Consumer = {
        async stop() {
          consumers.delete(handle);
          const t = Date.now();
          await consumer.disconnect();
          o.log.info('inbox: left the consumer group', { group: c.groupId, ms: Date.now() - t });
        },
        async caughtUp(onProgress) {
          const messages = behind();
          let last = Date.now();
          // Ends once stopped too (a start that gave up waiting or was aborted): nothing counts down any more.
          for (let n = messages; n > 0 && consumers.has(handle); n = behind()) {
            if (Date.now() - last >= 5000) {
              onProgress?.(n);
              last = Date.now();
            }
            await new Promise((r) => setTimeout(r, 20));
          }
          return { messages };
        },
      };
      consumers.add(handle);
      return handle;
    }
  };

  return {
    async publish(topic: string, messages: readonly OutgoingMessage[]) {
      await ensureTopics([topic]);
      const p = await getProducer();
      await p.send({ topic, acks: -1, messages: messages.map((m) => ({ key: m.key, value: m.value, ...(m.headers ? { headers: { ...m.headers } } : {}) })) });
    },
    async consume(c: ConsumerOptions): Promise<Consumer> {
      // One admin connection for the topics and the offsets of this start.
      const admin = kafka.admin();
      await admin.connect();
      try {
        return await consumeWith(c, admin);
      } finally {
        await admin.disconnect();
      }
    },
    async probe() {
      // A client of its own without retries: the answer is wanted now (health), not eventually.
      const admin = probeKafka.admin({ retry: { retries: 0 } });
      await admin.connect();
      try {
        await admin.describeCluster();
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
    async close() {
      for (const c of [...consumers]) await c.stop();
      await producer?.disconnect();
      producer = undefined;
    },
  };
}
