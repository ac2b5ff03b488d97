import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import type { Bus, Consumer } from '../bus/types.js';
import { envelopesOf } from '../envelope.js';
import { waitFor } from './wait.js';

/** What the broker says about a consumer group: its state (`Empty`, `Stable`, …) and member ids. */
export async function describeGroup(brokers: readonly string[], groupId: string): Promise<{ state: string; members: string[] }> {
  const admin = new Kafka({ clientId: 'ewx-test-admin', brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const {
      groups: [g],
    } = await admin.describeGroups([groupId]);
    return { state: g?.state ?? 'Dead', members: (g?.members ?? []).map((m) => m.memberId) };
  } finally {
    await admin.disconnect();
  }
}

/** The sum of a topic's end offsets (messages ever written to it; 0 if it does not exist yet). */
export async function topicEnd(brokers: readonly string[], topic: string): Promise<number> {
  const admin = new Kafka({ clientId: 'ewx-test-admin', brokers: [...brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return 0;
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * The events a topic holds, in either record form (a run record holds many: envelope.ts), read from
 * its start up to its end offsets at the call by a throwaway consumer group. `topicEnd` counts
 * records, which is the number of events only for single-event records.
 */
export async function topicEvents(brokers: readonly string[], topic: string): Promise<number> {
  const kafka = new Kafka({ clientId: 'ewx-test-count', brokers: [...brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    if (!(await admin.listTopics()).includes(topic)) return 0;
    ends = new Map((await admin.fetchTopicOffsets(topic)).filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]));
  } finally {
    await admin.disconnect();
  }
  if (ends.size === 0) return 0;
  const consumer = kafka.consumer({ groupId: `ewx-test-count-${randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let n = 0;
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const high = ends.get(partition);
            if (high === undefined || BigInt(message.offset) >= high) return;
            n += envelopesOf(message.value?.toString() ?? '').length;
            if (BigInt(message.offset) + 1n >= high) {
              ends.delete(partition);
              if (ends.size === 0) resolve();
            }
          },
        })
        .catch(reject);
    });
    return n;
  } finally {
    await consumer.disconnect();
  }
}

/**
 * A member of `groupId` busy with a message of `topic` until `release()`: kafkajs rejoins only
 * between messages, so another member's JoinGroup is held by the broker until then (or this
 * member's rebalance timeout, 60 s). Resolves once its handler is busy. Release it before closing
 * `bus`: the consumer's stop waits for the handler.
 */
export async function busyMember(bus: Bus, groupId: string, topic: string): Promise<{ consumer: Consumer; release(): void }> {
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  let busy = false;
  const consumer = await bus.consume({
    groupId,
    topics: [topic],
    handler: async () => {
      busy = true;
      await released;
    },
  });
  await bus.publish(topic, [{ key: 'hold', value: '{}' }]);
  await waitFor(`a member of ${groupId} to be busy with a message`, () => (busy ? true : undefined), 30_000, 50);
  return { consumer, release };
}
