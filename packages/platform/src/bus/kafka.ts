import { createRequire } from 'node:module';
import type { Admin, ConsumerRunConfig, KafkaConfig, KafkaMessage, Producer, SASLOptions } from 'kafkajs';
import type { Logger } from '../log.js';
import { headersOf, watchConsumerLag } from '../telemetry/kafka.js';
import type { KafkaSecurity } from './kafka-security.js';
import { ConsumeAborted, isConsumeAborted, type Bus, type Consumer, type ConsumerOptions, type IncomingMessage, type OutgoingMessage } from './types.js';

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
 * Where a consumer's start is, for its abort (ConsumerOptions.signal): `preparing` (topics, offsets,
 * connecting: nothing sent to the group yet, an abort rejects at once), `joining` (kafkajs's run:
 * JoinGroup and SyncGroup, which it cannot cancel, an abort waits for the join to end then leaves),
 * `done` (the consumer is handed to the caller, who stops it).
 */
type StartPhase = 'preparing' | 'joining' | 'done';
interface StartState {
  phase: StartPhase;
  /** The consumer joined the group at least once (an aborted start then left it). */
  joined: boolean;
}

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

  const sessionTimeout = o.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;

  const consumeWith = async (c: ConsumerOptions, admin: Admin, start: StartState): Promise<Consumer> => {
    const signal = c.signal;
    const notAborted = (where: string): void => {
      if (signal?.aborted) throw new ConsumeAborted(c.groupId, where, signal.reason);
    };
    await ensureTopics(c.topics, admin);
    notAborted('before joining the group');
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
    notAborted('before joining the group');
    /** Partitions assigned at the last join, as `topic:partition`. */
    let assigned = new Set<string>();
    /** Next offset to handle per `topic:partition`, after this process handled a message there. */
    const handled = new Map<string, bigint>();
    let onJoin: (() => void) | undefined;
    const joined = new Promise<void>((r) => {
      onJoin = r;
    });
    /**
     * A join of kafkajs's under way: from run() (or a restart after a crash, which connects anew)
     * until it joined or crashed. A disconnect in the middle of it would not stop it: kafkajs would
     * reconnect by itself to retry, and could join (and fetch) after the stop; an aborted start
     * waits for it to end instead (`joinIdle`).
     */
    let inJoin = false;
    let ran = false;
    const joinWaiters: (() => void)[] = [];
    // After kafkajs's own steps that follow the event: it marks the consumer running (so a
    // disconnect sends LeaveGroup) or sets its restart timer (so a disconnect clears it).
    const joinEnded = (): void =>
      void setImmediate(() => {
        inJoin = false;
        for (const w of joinWaiters.splice(0)) w();
      });
    const joinIdle = (): Promise<void> => (inJoin ? new Promise((r) => joinWaiters.push(r)) : Promise.resolve());
    /** kafkajs's run(); one that failed (kafkajs could not even handle its crash) leaves no join under way. */
    const joinRun = (config: ConsumerRunConfig): Promise<void> =>
      consumer.run(config).catch((e: unknown) => {
        inJoin = false;
        throw e;
      });
    consumer.on(consumer.events.CONNECT, () => {
      if (ran) inJoin = true;
    });
    consumer.on(consumer.events.CRASH, () => joinEnded());
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      start.joined = true;
      joinEnded();
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
      // Aborted: a join under way ends first (then the disconnect sends LeaveGroup), so no member is left behind.
      const aborted = signal?.aborted === true;
      if (aborted) await joinIdle();
      // Not half joined: a retry must not leave a second member of this process in the group.
      await consumer.disconnect().catch(() => undefined);
      throw e;
    }

    async function joinAndWatch(): Promise<Consumer> {
      notAborted('before joining the group');
      await consumer.subscribe({ topics: [...c.topics], fromBeginning: true });
      /** A batch fetched by a start aborted while it joined: not handled (nor committed), redelivered to the next member. */
      const notAbortedStart = (): void => {
        if (start.phase !== 'done') notAborted('before its first messages were handled');
      };
      const toIncoming = (topic: string, partition: number, message: KafkaMessage): IncomingMessage => ({
        topic,
        partition,
        offset: message.offset,
        key: message.key?.toString() ?? '',
        value: message.value?.toString() ?? '',
        ...headersOf(message.headers),
      });
      const handleBatch = c.handleBatch;
      // Nothing has been sent to the group yet: the last moment an abort needs no wait.
      notAborted('before joining the group');
      start.phase = 'joining';
      ran = true;
      inJoin = true;
      if (handleBatch) {
        await joinRun({
          autoCommit: true,
          eachBatch: async ({ batch, heartbeat, isStale }) => {
            if (batch.messages.length === 0 || isStale()) return;
            notAbortedStart();
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
        await joinRun({
          autoCommit: true,
          eachMessage: async ({ topic, partition, message, heartbeat }) => {
            notAbortedStart();
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
      notAborted('while joining the group');
      // run() returns once joined, or after a failed join that kafkajs retries by itself: wait for the
      // join, or (aborted) for a retry's join under way to end.
      await new Promise<void>((resolve) => {
        const onAbort = (): void => void joinIdle().then(resolve);
        void joined.then(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      });
      notAborted('while joining the group');
      // Where the group stands on the partitions it now owns (what the previous process committed).
      const committed = new Map<string, bigint>();
      for (const t of await admin.fetchOffsets({ groupId: c.groupId, topics: [...c.topics] })) {
        for (const p of t.partitions) committed.set(`${t.topic}:${p.partition}`, BigInt(p.offset));
      }
      notAborted('once joined');
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
      start.phase = 'done';
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
      const signal = c.signal;
      if (signal?.aborted) throw new ConsumeAborted(c.groupId, 'before connecting', signal.reason);
      const start: StartState = { phase: 'preparing', joined: false };
      const work = (async () => {
        // One admin connection for the topics and the offsets of this start.
        const admin = kafka.admin();
        await admin.connect();
        try {
          return await consumeWith(c, admin, start);
        } finally {
          await admin.disconnect();
        }
      })();
      if (!signal) return work;
      // Rejected early (below), the start goes on in the background to its next step, where it stops
      // and disconnects (logged: 'inbox: start aborted, no member left in the consumer group').
      let abortedAt = 0;
      work.catch((e: unknown) => {
        if (isConsumeAborted(e))
          o.log.info('inbox: start aborted, no member left in the consumer group', {
            group: c.groupId,
            joinSent: start.phase !== 'preparing',
            joined: start.joined,
            msSinceAbort: Date.now() - abortedAt,
          });
      });
      let onAbort: (() => void) | undefined;
      let cap: NodeJS.Timeout | undefined;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => {
          abortedAt = Date.now();
          if (start.phase === 'preparing') reject(new ConsumeAborted(c.groupId, 'before joining the group', signal.reason));
          else if (start.phase === 'joining')
            cap = setTimeout(
              () =>
                reject(
                  new ConsumeAborted(
                    c.groupId,
                    `while joining the group, whose join had not ended ${sessionTimeout} ms later (the session timeout; its consumer leaves the group once it ends)`,
                    signal.reason,
                  ),
                ),
              sessionTimeout,
            );
          // 'done': the consumer is being handed to the caller, who stops it.
        };
        signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        return await Promise.race([work, aborted]);
      } finally {
        signal.removeEventListener('abort', onAbort!);
        clearTimeout(cap);
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
