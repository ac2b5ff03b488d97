import { Kafka, logLevel } from 'kafkajs';

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
