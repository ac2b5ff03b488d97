import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BLOCKS_PRODUCED } from './blocks.js';
import { kafkaBus } from './bus/kafka.js';
import type { IncomingMessage } from './bus/types.js';
import { topicOf } from './bus/types.js';
import { envelopesOf } from './envelope.js';
import { openPglite } from './eventstore/pglite.js';
import { pgliteEventStore } from './eventstore/pglite.js';
import { START, type RecordedEvent } from './eventstore/types.js';
import { startInbox } from './inbox.js';
import { silentLogger } from './log.js';
import { startRelay } from './relay.js';
import { createRuntime, type Decider } from './runtime.js';
import { realInfra, uniqueNamespace } from './testing/infra.js';
import { waitFor } from './testing/wait.js';

const { infra, skip } = await realInfra();

/** The source events a consumer recorded, as `stream@version`, in the order it recorded them. */
const recorder: Decider<string[]> = {
  initialState: () => [],
  evolve: (s, e: RecordedEvent) => {
    const md = e.metadata as { sourceStream?: string; sourceVersion?: number } | null;
    if (md?.sourceStream !== undefined) s.push(`${md.sourceStream}@${md.sourceVersion}`);
    return s;
  },
};
const counter: Decider<number> = { initialState: () => 0, evolve: (s) => s + 1 };

/**
 * The migration, on the real broker: a log relayed by an older build (one record per event:
 * RELAY_RUN_RECORDS=0 writes exactly that form), then by this one from the same checkpoint (run
 * records). A consumer reading the topic from the start records every event once, in log order;
 * a second consumer group over the same log (every record delivered again) records nothing more.
 */
describe('Kafka: a topic written by an older build, then by this one', { skip }, () => {
  test('single-event records followed by run records: the inbox records every event once, in log order; a redelivery of all of it records nothing', async () => {
    const ns = uniqueNamespace('runs');
    const bus = kafkaBus({ brokers: infra!.brokers, clientId: `${ns}-runs`, log: silentLogger });
    const db = await openPglite();
    const src = createRuntime('voting', await pgliteEventStore('runs_src', db), counter, silentLogger);
    await src.start();
    const write = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) {
        // Votes in three rounds, and now and then a run of blocks (recorded on a turn of its own).
        await src.execute(`round:s:r${i % 3}`, () => Array.from({ length: 7 }, (_, k) => ({ type: 'VoteCast', data: { i, k, text: 'ü🗳️"\\' } })));
        if (i % 10 === 9) await src.execute('clock', () => [{ type: BLOCKS_PRODUCED, data: { from: String(i), to: String(i + 1) } }]);
      }
    };
    const topic = topicOf('voting', ns);
    try {
      await write(0, 40);
      const old = startRelay(src.store, bus, 'voting', silentLogger, ns, 'voting', false);
      await old.caughtUp;
      await old.stop();
      await write(40, 100);
      const current = startRelay(src.store, bus, 'voting', silentLogger, ns);
      await current.caughtUp;
      await current.stop();
      const log = (await src.store.readAll(START, 10_000)).map((e) => `${e.streamId}@${e.version}`);
      assert.equal(log.length, 100 * 7 + 10);

      // What the topic holds: 40 × 7 + 4 single-event records, then run records.
      const raw: IncomingMessage[] = [];
      const spy = await bus.consume({
        groupId: `${ns}.spy`,
        topics: [topic],
        handler: async (m) => {
          raw.push(m);
        },
      });
      await spy.caughtUp!();
      await spy.stop();
      const forms = raw.map((m) => ((JSON.parse(m.value) as { v?: number }).v === 2 ? 'run' : 'single'));
      assert.equal(forms.filter((f) => f === 'single').length, 40 * 7 + 4);
      assert.ok(forms.indexOf('run') === 40 * 7 + 4 && forms.slice(40 * 7 + 4).every((f) => f === 'run'), 'the runs after the single records');
      assert.ok(raw.length < 40 * 7 + 4 + 10, `${raw.length - (40 * 7 + 4)} run records for ${log.length - (40 * 7 + 4)} events`);
      assert.deepEqual(
        raw.flatMap((m) => envelopesOf(m.value, m.headers).map((d) => `${d.envelope.streamId}@${d.envelope.version}`)),
        log,
        'the topic holds the log once, in order',
      );

      const dstStore = await pgliteEventStore('runs_dst', db);
      const dst = createRuntime('consensus', dstStore, recorder, silentLogger);
      await dst.start();
      const inbox = await startInbox(bus, dst, { voting: ['VoteCast', BLOCKS_PRODUCED] }, silentLogger, ns);
      await waitFor('every event recorded', () => (dst.state().length >= log.length ? true : undefined), 120_000);
      await inbox.stop();
      assert.deepEqual(dst.state(), log, 'every event once, in log order');
      await dst.stop();

      // Another group over the same log: every record again (both forms); nothing recorded twice.
      const again = createRuntime('consensus-again', dstStore, recorder, silentLogger);
      await again.start();
      const second = await startInbox(bus, again, { voting: ['VoteCast', BLOCKS_PRODUCED] }, silentLogger, ns);
      await second.caughtUp!();
      await second.stop();
      assert.deepEqual(again.state(), log);
      assert.equal((await dstStore.readAll(START, 10_000)).length, log.length, 'no copy appended twice');
      await again.stop();
    } finally {
      await src.stop();
      await bus.close();
      await db.close();
    }
  });
});
