import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPglite } from '../eventstore/pglite.js';
import { parseEnvelope } from '../envelope.js';
import { pgliteEventStore } from '../eventstore/pglite.js';
import { silentLogger } from '../log.js';
import { waitFor } from '../testing/wait.js';
import { logTailBus } from './logtail.js';
import { topicOf } from './types.js';

test('log-tail bus: a consumer reads the producer log from its durable checkpoint; a throw redelivers; inbox streams are not published', async () => {
  const db = await openPglite();
  const store = await pgliteEventStore('tail_src', db);
  for (let i = 0; i < 5; i++) await store.append(`s${i % 2}`, [{ type: 'E', data: { i } }], 'any');
  await store.append('inbox:other:x', [{ type: 'Copied', data: {} }], 'any');
  const bus = logTailBus(silentLogger);
  bus.register('src', store);
  const seen: number[] = [];
  let failed = false;
  const handler = async (m: { value: string }) => {
    const env = parseEnvelope(m.value);
    const i = (env.data as { i: number }).i;
    if (i === 3 && !failed) {
      failed = true;
      throw new Error('transient');
    }
    seen.push(i);
  };
  let c = await bus.consume({ groupId: 'g', topics: [topicOf('src')], handler });
  await waitFor('five events', () => (seen.length >= 5 ? true : undefined), 10_000);
  await c.stop();
  assert.ok(failed);
  // The failed batch was redelivered from the checkpoint: at-least-once, in log order per stream.
  assert.deepEqual([...new Set(seen)].sort(), [0, 1, 2, 3, 4]);
  assert.ok(
    seen.every((i) => i >= 0),
    'the inbox stream was not delivered',
  );

  // A new consumer of the same group resumes after the checkpoint: only new events arrive.
  seen.length = 0;
  await store.append('s9', [{ type: 'E', data: { i: 9 } }], 'any');
  c = await bus.consume({ groupId: 'g', topics: [topicOf('src')], handler });
  await waitFor('the new event', () => (seen.includes(9) ? true : undefined), 10_000);
  assert.deepEqual(seen, [9]);
  await c.stop();
  await bus.close();
  await db.close();
});
