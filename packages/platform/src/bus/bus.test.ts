import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger } from '../log.js';
import { realInfra, uniqueNamespace } from '../testing/infra.js';
import { waitFor } from '../testing/wait.js';
import { inProcessBus } from './inprocess.js';
import { kafkaBus } from './kafka.js';
import type { Bus, IncomingMessage } from './types.js';

/** The same behaviour from both adapters: keyed order, groups independent, a failed handler redelivers. */
function busContract(name: string, make: () => Bus, skip?: string): void {
  describe(`bus contract: ${name}`, { skip }, () => {
    test('messages of one key arrive in order; each group gets every message; a throw redelivers', async () => {
      const bus = make();
      const topic = `${uniqueNamespace('bus')}.ewx.test.events.v1`;
      const seenA: string[] = [];
      const seenB: string[] = [];
      let failedOnce = false;
      const a = await bus.consume({
        groupId: `${topic}-a`,
        topics: [topic],
        handler: async (m: IncomingMessage) => {
          if (m.value === 'k1:3' && !failedOnce) {
            failedOnce = true;
            throw new Error('transient');
          }
          seenA.push(m.value);
        },
      });
      const b = await bus.consume({
        groupId: `${topic}-b`,
        topics: [topic],
        handler: async (m) => {
          seenB.push(m.value);
        },
      });
      for (let i = 0; i < 6; i++)
        await bus.publish(topic, [
          { key: 'k1', value: `k1:${i}` },
          { key: 'k2', value: `k2:${i}` },
        ]);
      await waitFor('both groups to see 12 messages', () => (seenA.length >= 12 && seenB.length >= 12 ? true : undefined), 60_000);
      const k1 = seenA.filter((v) => v.startsWith('k1:'));
      assert.deepEqual(k1, ['k1:0', 'k1:1', 'k1:2', 'k1:3', 'k1:4', 'k1:5']);
      assert.deepEqual(
        seenB.filter((v) => v.startsWith('k2:')),
        ['k2:0', 'k2:1', 'k2:2', 'k2:3', 'k2:4', 'k2:5'],
      );
      assert.ok(failedOnce);
      await a.stop();
      await b.stop();
      await bus.close();
    });
  });
}

busContract('in-process', () => inProcessBus(silentLogger));
const { infra, skip } = await realInfra();
busContract('Kafka', () => kafkaBus({ brokers: infra!.brokers, clientId: 'bus-test', log: silentLogger }), skip);

describe('Kafka consumer: caught up with the backlog at join', { skip }, () => {
  test('caughtUp() resolves once every message present at join is handled; a restarted member counts from the committed offsets', async () => {
    const bus = kafkaBus({ brokers: infra!.brokers, clientId: 'bus-test', log: silentLogger });
    const topic = `${uniqueNamespace('catchup')}.ewx.test.events.v1`;
    const groupId = `${topic}-g`;
    const keys = ['a', 'b', 'c', 'd', 'e'];
    await bus.publish(
      topic,
      Array.from({ length: 30 }, (_, i) => ({ key: keys[i % 5]!, value: `m${i}` })),
    );
    const seen: string[] = [];
    const slow = async (m: IncomingMessage): Promise<void> => {
      await new Promise((r) => setTimeout(r, 30));
      seen.push(m.value);
    };
    const first = await bus.consume({ groupId, topics: [topic], handler: slow });
    const r1 = await first.caughtUp!();
    // Handling starts at the join, so part of the backlog may be done before the wait begins.
    assert.ok(r1.messages <= 30);
    assert.equal(seen.length, 30, 'every message of the backlog was handled when caughtUp resolved');
    await first.stop();

    await bus.publish(
      topic,
      Array.from({ length: 5 }, (_, i) => ({ key: keys[i]!, value: `n${i}` })),
    );
    const second = await bus.consume({ groupId, topics: [topic], handler: slow });
    const r2 = await second.caughtUp!();
    assert.ok(r2.messages <= 5, `counted from the committed offsets: ${r2.messages}`);
    assert.deepEqual(seen.slice(30).sort(), ['n0', 'n1', 'n2', 'n3', 'n4'], 'the five new ones, each once, handled when caughtUp resolved');
    await second.stop();
    await bus.close();
  });
});
