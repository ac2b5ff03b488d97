import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { createLogger, inboxGroupOf, partitionLeases, postgresEventStore, schemaFor, topicOf, type EventStore } from '@ewx/platform';
import { realInfra, uniqueNamespace } from '@ewx/platform/testing';
import { partitionOf } from '@ewx/voting/app/partitions';
import { splitVoting, SplitRefused, votingConsumerLag, type SplitOptions } from './split.js';

/**
 * The split of an unsplit voting log into partition logs, on the real PostgreSQL (no service
 * running: a log written here with the services' own store): which event goes where, what is kept
 * of each, resuming after an interruption, starting over when the log changed, and the refusals.
 */
const { infra, skip } = await realInfra();

interface Row {
  position: string;
  stream_id: string;
  version: number;
  type: string;
  data: string;
  metadata: string | null;
}

describe('ewx voting split: an unsplit log into partition logs', { skip, timeout: 120_000 }, () => {
  const db = new pg.Pool({ connectionString: infra?.databaseUrl, max: 2 });
  after(() => db.end());
  const rows = async (schema: string): Promise<Row[]> =>
    (
      await db.query<Row>(
        `SELECT position::text, stream_id, version, type, data::text AS data, metadata::text AS metadata FROM ${schema}.events ORDER BY position`,
      )
    ).rows;
  /** An unsplit log: inputs and rounds of `solutions`, interleaved, with the relay's checkpoint after most of it. */
  const unsplit = async (ns: string, solutions: readonly string[]): Promise<{ store: EventStore; relay: string }> => {
    const store = await postgresEventStore(infra!.databaseUrl, `${ns}_voting`, 2);
    const input = (source: string, stream: string, v: number, type: string, data: object) =>
      store.append(
        `inbox:${source}:${stream}`,
        [{ type, data: data as never, metadata: { source, sourceStream: stream, sourceVersion: v, sourcePosition: String(v + 1) } }],
        v - 1,
      );
    await input('registry', 'group:g', 0, 'GroupRegistered', { group: 'g' });
    for (const [i, s] of solutions.entries())
      await input('registry', `solution:${s}`, 0, 'SolutionRegistered', { solution: s, note: 'é ☃ \u0000x'.slice(0, 3 + i) });
    for (let round = 0; round < 3; round++) {
      await input('consensus', 'clock', round, 'BlocksProduced', { from: round * 10, to: round * 10 + 9 });
      for (const s of solutions) {
        await store.append(
          `round:${s}:r${round}`,
          [{ type: 'RoundStarted', data: { solution: s, roundId: `r${round}` }, metadata: { signer: 'x', nonce: String(round + 1), prevOfType: -1 } }],
          -1,
        );
        await store.append(
          `round:${s}:r${round}`,
          [
            { type: 'VoteCast', data: { solution: s, roundId: `r${round}`, w: 1 }, metadata: { prevOfType: -1 } },
            { type: 'VoteCast', data: { solution: s, roundId: `r${round}`, w: 2 }, metadata: { prevOfType: 1 } },
          ],
          0,
        );
      }
    }
    const all = await rows(schemaFor(`${ns}_voting`));
    const relay = all[all.length - 3]!.position;
    await db.query(`INSERT INTO ${schemaFor(`${ns}_voting`)}.checkpoints (name, position) VALUES ('relay', $1)`, [relay]);
    return { store, relay };
  };
  const options = (ns: string, partitions: number, more: Partial<SplitOptions> = {}): SplitOptions => ({
    databaseUrl: infra!.databaseUrl,
    namespace: ns,
    partitions,
    chunk: 7,
    ...more,
  });

  test('each partition log: its solutions’ rounds and every input, at their positions, versions and data as stored; the unsplit tables kept aside; a fence; the lease table', async () => {
    const ns = uniqueNamespace('split');
    const P = 3;
    const solutions = ['alpha.sol', 'beta.sol', 'gamma.sol', 'delta.sol', 'epsilon.sol'];
    assert.equal(new Set(solutions.map((s) => partitionOf(s, P))).size, P, 'the solutions fall in every partition');
    const { store, relay } = await unsplit(ns, solutions);
    await store.close();
    const S = schemaFor(`${ns}_voting`);
    const before = await rows(S);

    // A dry run writes nothing and says where each solution goes.
    const dry = await splitVoting(options(ns, P, { dryRun: true }));
    assert.equal(dry.outcome, 'dry run');
    assert.equal(dry.source.events, before.length);
    assert.equal(dry.source.relayCheckpoint, relay);
    for (const p of dry.partitions) {
      assert.deepEqual(p.solutions, solutions.filter((s) => partitionOf(s, P) === p.partition).sort());
      assert.equal(p.rounds, p.solutions.length * 3);
      assert.equal(p.ownEvents, p.solutions.length * 9);
      assert.equal(p.inboxEvents, 1 + solutions.length + 3);
      assert.equal(p.state, 'copy');
    }
    assert.equal((await db.query(`SELECT 1 FROM information_schema.schemata WHERE schema_name LIKE $1`, [`${S}_p%`])).rows.length, 0, 'nothing written');

    const progress: { partition: number; done: number; total: number }[] = [];
    const r = await splitVoting(options(ns, P, { onProgress: (p) => progress.push(p) }));
    assert.equal(r.outcome, 'split');
    for (let k = 0; k < P; k++) {
      const want = before.filter((e) => e.stream_id.startsWith('inbox:') || partitionOf(e.stream_id.split(':')[1]!, P) === k);
      assert.deepEqual(
        await rows(`${S}_p${k}`),
        want,
        `partition ${k}: its rounds and every input, each event as it was (position, stream, version, type, data text, metadata)`,
      );
      const cp = await db.query<{ name: string; position: string }>(`SELECT name, position FROM ${S}_p${k}.checkpoints`);
      assert.deepEqual(cp.rows, [{ name: 'relay', position: relay }], `partition ${k}: the relay checkpoint as it was`);
      assert.ok(
        progress.some((p) => p.partition === k && p.done === want.length && p.total === want.length),
        `partition ${k}: progress to its end`,
      );
    }
    // An append to a partition log goes after the unsplit log's end.
    const p0 = await postgresEventStore(infra!.databaseUrl, `${ns}_voting_p0`, 1);
    const appended = await p0.append('round:x.sol:new', [{ type: 'RoundStarted', data: {} }], -1);
    await p0.close();
    assert.ok(BigInt(appended.written!.positions[0]!) > BigInt(before[before.length - 1]!.position));
    // The unsplit tables renamed, empty ones in their place, fenced.
    assert.deepEqual(await rows(`${S}`), []);
    assert.equal((await db.query(`SELECT count(*)::int AS n FROM ${S}.events_unsplit`)).rows[0].n, before.length);
    assert.equal((await db.query(`SELECT count(*)::int AS n FROM ${S}.checkpoints_unsplit`)).rows[0].n, 1);
    await assert.rejects(
      db.query(`INSERT INTO ${S}.events (stream_id, version, type, data) VALUES ('round:a.sol:z', 0, 'RoundStarted', '{}')`),
      /was split into 3 partition logs \(ewx voting split\): start voting with VOTING_PARTITIONS=3/,
    );
    const leases = await partitionLeases(infra!.databaseUrl, S, P);
    assert.deepEqual(
      (await leases.rows()).map((x) => [x.partition, x.owner]),
      [
        [0, null],
        [1, null],
        [2, null],
      ],
    );
    await leases.close();
    // Again: already split (exit 0 in the CLI); another count is refused.
    assert.equal((await splitVoting(options(ns, P))).outcome, 'already split');
    await assert.rejects(
      splitVoting(options(ns, 4)),
      (e: Error) => e instanceof SplitRefused && /runs with 3 partitions: it can be split into a multiple of 3 \(6, 9, 12, …\) only/.test(e.message),
    );
  });

  test('interrupted: the partitions done are kept and skipped; a log that changed since starts over', async () => {
    const ns = uniqueNamespace('splitre');
    const P = 2;
    const solutions = ['alpha.sol', 'beta.sol', 'gamma.sol'];
    const { store } = await unsplit(ns, solutions);
    const S = schemaFor(`${ns}_voting`);
    // Interrupted in partition 1 (after partition 0 was written).
    const stop = new Error('interrupted');
    await assert.rejects(
      splitVoting(
        options(ns, P, {
          onProgress: (p) => {
            if (p.partition === 1) throw stop;
          },
        }),
      ),
      (e) => e === stop,
    );
    assert.deepEqual(
      (await db.query(`SELECT partition FROM ${S}.split_marks ORDER BY partition`)).rows.map((x) => x.partition),
      [0],
      'partition 0 marked done',
    );
    assert.deepEqual(await rows(`${S}_p1`), [], 'partition 1 rolled back');
    const dry = await splitVoting(options(ns, P, { dryRun: true }));
    assert.deepEqual(
      dry.partitions.map((p) => p.state),
      ['copied', 'copy'],
    );
    // The unsplit log changes (voting ran again): partition 0 is written again with the new event.
    const s0 = solutions.find((s) => partitionOf(s, P) === 0)!;
    await store.append(`round:${s0}:late`, [{ type: 'RoundStarted', data: { solution: s0 } }], -1);
    const redo = await splitVoting(options(ns, P, { dryRun: true }));
    assert.deepEqual(
      redo.partitions.map((p) => p.state),
      ['copy', 'copy'],
      'a mark for another end of the log is not a partition done',
    );
    const ended = await splitVoting(options(ns, P));
    assert.equal(ended.outcome, 'split');
    assert.deepEqual(await rows(S), [], 'the unsplit log is empty after the split');
    const source = (
      await db.query<Row>(
        `SELECT position::text, stream_id, version, type, data::text AS data, metadata::text AS metadata FROM ${S}.events_unsplit ORDER BY position`,
      )
    ).rows;
    for (let k = 0; k < P; k++)
      assert.deepEqual(
        await rows(`${S}_p${k}`),
        source.filter((e) => e.stream_id.startsWith('inbox:') || partitionOf(e.stream_id.split(':')[1]!, P) === k),
        `partition ${k}: the whole final log's share`,
      );
    await store.close();
  });

  test('a partitioned voting split again, 2 → 4 (interrupted in a prune, resumed): each new log is its old partition’s share; the old ones lose the rounds that moved and their snapshots; starts blocked meanwhile', async () => {
    const ns = uniqueNamespace('splitx');
    // Two solutions in each partition of 4.
    const solutions: string[] = [];
    for (let i = 0; [0, 1, 2, 3].some((k) => solutions.filter((s) => partitionOf(s, 4) === k).length < 2); i++) {
      const s = `sol${i}.x`;
      if (solutions.filter((x) => partitionOf(x, 4) === partitionOf(s, 4)).length < 2) solutions.push(s);
    }
    const { store } = await unsplit(ns, solutions);
    await store.close();
    assert.equal((await splitVoting(options(ns, 2))).outcome, 'split');
    const S = schemaFor(`${ns}_voting`);
    // The partitions ran: new rounds and inputs in each, a snapshot.
    for (let k = 0; k < 2; k++) {
      const pk = await postgresEventStore(infra!.databaseUrl, `${ns}_voting_p${k}`, 1);
      for (const s of solutions.filter((x) => partitionOf(x, 2) === k))
        await pk.append(`round:${s}:later`, [{ type: 'RoundStarted', data: { solution: s, roundId: 'later' } }], -1);
      await pk.append(
        'inbox:consensus:clock',
        [{ type: 'BlocksProduced', data: { from: 30, to: 39 }, metadata: { source: 'consensus', sourceStream: 'clock', sourceVersion: 3 } }],
        2,
      );
      await db.query(`INSERT INTO ${S}_p${k}.snapshots (position, version, events, data) VALUES (1, '5', 1, 'x')`);
      await pk.close();
    }
    const before = [await rows(`${S}_p0`), await rows(`${S}_p1`)];
    const dry = await splitVoting(options(ns, 4, { dryRun: true }));
    assert.deepEqual(
      dry.partitions.map((p) => [p.partition, p.solutions]),
      [0, 1, 2, 3].map((k) => [k, solutions.filter((s) => partitionOf(s, 4) === k).sort()]),
    );
    assert.deepEqual(
      dry.partitions.map((p) => p.state),
      ['prune', 'prune', 'copy', 'copy'],
    );
    // Interrupted while pruning partition 1 (the new logs written, partition 0 pruned).
    const stop = new Error('interrupted');
    await assert.rejects(
      splitVoting(
        options(ns, 4, {
          onProgress: (p) => {
            if (p.partition === 1 && p.done === p.total) throw stop;
          },
        }),
      ),
      (e) => e === stop,
    );
    assert.deepEqual(
      (await splitVoting(options(ns, 4, { dryRun: true }))).partitions.map((p) => p.state),
      ['pruned', 'prune', 'copied', 'copied'],
      'the copies and the prune of partition 0 done',
    );
    const leases = await partitionLeases(infra!.databaseUrl, S, 2);
    await assert.rejects(
      leases.init(),
      /is marked by a split of the partitions in progress \(ewx voting split\)/,
      'a start with the old count is refused meanwhile',
    );
    await leases.close();
    const more = await partitionLeases(infra!.databaseUrl, S, 4);
    await assert.rejects(more.init(), /is marked by a split of the partitions in progress/, 'and with the new one');
    await more.close();
    assert.equal((await splitVoting(options(ns, 4))).outcome, 'split');
    for (let k = 0; k < 4; k++) {
      const want = before[k % 2]!.filter((e) => e.stream_id.startsWith('inbox:') || partitionOf(e.stream_id.split(':')[1]!, 4) === k);
      assert.deepEqual(await rows(`${S}_p${k}`), want, `partition ${k} of 4: partition ${k % 2}'s inputs and its rounds of solutions now in ${k}`);
      assert.equal((await db.query(`SELECT count(*)::int AS n FROM ${S}_p${k}.snapshots`)).rows[0].n, 0, `partition ${k}: no snapshot`);
    }
    const l4 = await partitionLeases(infra!.databaseUrl, S, 4);
    await l4.init();
    assert.deepEqual(
      (await l4.rows()).map((r) => r.partition),
      [0, 1, 2, 3],
    );
    await l4.close();
    await assert.rejects(
      db.query(`INSERT INTO ${S}.events (stream_id, version, type, data) VALUES ('round:a.sol:z', 0, 'RoundStarted', '{}')`),
      /start voting with VOTING_PARTITIONS=4/,
    );
    assert.equal((await splitVoting(options(ns, 4))).outcome, 'already split');
  });

  test('refused: a stream that is neither a round nor an input; a partitioned voting; a partition log written by someone else; no log; bad counts', async () => {
    const odd = uniqueNamespace('splitodd');
    const s1 = await postgresEventStore(infra!.databaseUrl, `${odd}_voting`, 1);
    await s1.append('round:alpha.sol:r', [{ type: 'RoundStarted', data: {} }], -1);
    await s1.append('settings', [{ type: 'Something', data: {} }], -1);
    await s1.close();
    await assert.rejects(
      splitVoting(options(odd, 2)),
      (e: Error) => e instanceof SplitRefused && /holds stream "settings", neither an inbox copy nor a round/.test(e.message),
    );

    const leased = uniqueNamespace('splitls');
    const s2 = await postgresEventStore(infra!.databaseUrl, `${leased}_voting`, 1);
    await s2.append('round:alpha.sol:r', [{ type: 'RoundStarted', data: {} }], -1);
    await s2.close();
    const l = await partitionLeases(infra!.databaseUrl, schemaFor(`${leased}_voting`), 2);
    await l.init();
    await l.close();
    await assert.rejects(
      splitVoting(options(leased, 2)),
      (e: Error) => e instanceof SplitRefused && /already runs with 2 partitions: nothing to split/.test(e.message),
    );
    // No partition log yet (no replica ever started one): refused, saying so.
    await assert.rejects(
      splitVoting(options(leased, 4)),
      (e: Error) => e instanceof SplitRefused && /partition log ewx_\w+_voting_p0 does not exist \(partition 0 never started\)/.test(e.message),
    );
    // A replica alive (its heartbeat): a split into more partitions is refused.
    const l2 = await partitionLeases(infra!.databaseUrl, schemaFor(`${leased}_voting`), 2);
    await l2.heartbeat('r1', '127.0.0.1:1', 60_000);
    await l2.close();
    await assert.rejects(splitVoting(options(leased, 4)), (e: Error) => e instanceof SplitRefused && /voting replicas are running/.test(e.message));

    const taken = uniqueNamespace('splittk');
    const s3 = await postgresEventStore(infra!.databaseUrl, `${taken}_voting`, 1);
    await s3.append('round:alpha.sol:r', [{ type: 'RoundStarted', data: {} }], -1);
    await s3.close();
    const p1 = await postgresEventStore(infra!.databaseUrl, `${taken}_voting_p1`, 1);
    await p1.append('round:beta.sol:r', [{ type: 'RoundStarted', data: {} }], -1);
    await p1.close();
    await assert.rejects(
      splitVoting(options(taken, 2)),
      (e: Error) => e instanceof SplitRefused && /already holds 1 events not written by this split/.test(e.message),
    );
    assert.deepEqual(
      (await db.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'split_marks'`, [schemaFor(`${taken}_voting`)])).rows,
      [],
    );

    await assert.rejects(
      splitVoting(options(uniqueNamespace('splitnone'), 2)),
      (e: Error) => e instanceof SplitRefused && /no voting log in schema/.test(e.message),
    );
    for (const n of [1, 65, 2.5]) await assert.rejects(splitVoting(options(odd, n)), /partitions: expected 2 to 64/);
  });

  test("the consumers of voting's topic (real Kafka): none before anything was published; a group behind refuses the split, naming it; caught up, it goes ahead, and each partition's inbox group starts where voting's stopped", async () => {
    const log = createLogger({}, 'error');
    const kafka = { brokers: infra!.brokers, log };
    assert.deepEqual(await votingConsumerLag(kafka, uniqueNamespace('splitk')), []);

    const ns = uniqueNamespace('splitlag');
    const { store } = await unsplit(ns, ['alpha.sol', 'beta.sol']);
    await store.close();
    // Three messages on voting's topic (one Kafka partition); ewx-consensus has read (committed) the first only.
    const { Kafka } = await import('kafkajs');
    const k = new Kafka({ clientId: 'split-test', brokers: infra!.brokers, logLevel: 0 });
    const admin = k.admin();
    await admin.connect();
    const topic = topicOf('voting', ns);
    const registryTopic = topicOf('registry', ns);
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      const producer = k.producer();
      await producer.connect();
      await producer.send({ topic, messages: [1, 2, 3].map((i) => ({ key: 'voting', value: `{"n":${i}}` })) });
      await producer.disconnect();
      const behindGroup = inboxGroupOf('consensus', ns);
      await admin.setOffsets({ groupId: behindGroup, topic, partitions: [{ partition: 0, offset: '1' }] });
      const lag = await votingConsumerLag(kafka, ns);
      assert.deepEqual(lag, [{ group: behindGroup, behind: 2 }]);
      const dry = await splitVoting(options(ns, 2, { kafka, dryRun: true }));
      assert.match(dry.wouldRefuse ?? '', new RegExp(`consumers have not read all of voting's topic ${topic.replace(/\./g, '\\.')}: ${behindGroup} 2 behind`));
      await assert.rejects(splitVoting(options(ns, 2, { kafka })), (e: Error) => e instanceof SplitRefused && /2 behind/.test(e.message));
      assert.deepEqual(
        (await db.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'split_marks'`, [schemaFor(`${ns}_voting`)])).rows,
        [],
        'nothing written',
      );
      await admin.setOffsets({ groupId: behindGroup, topic, partitions: [{ partition: 0, offset: '3' }] });
      assert.deepEqual(await votingConsumerLag(kafka, ns), [{ group: behindGroup, behind: 0 }]);
      // Voting's inbox had read registry's topic up to offset 2: each partition's inbox starts there.
      await admin.createTopics({ topics: [{ topic: registryTopic, numPartitions: 1 }], waitForLeaders: true });
      const p2 = k.producer();
      await p2.connect();
      await p2.send({ topic: registryTopic, messages: [1, 2, 3].map((i) => ({ key: 'registry', value: `{"n":${i}}` })) });
      await p2.disconnect();
      await admin.setOffsets({ groupId: inboxGroupOf('voting', ns), topic: registryTopic, partitions: [{ partition: 0, offset: '2' }] });
      assert.equal((await splitVoting(options(ns, 2, { kafka }))).outcome, 'split');
      for (const k of [0, 1]) {
        const got = await admin.fetchOffsets({ groupId: inboxGroupOf(`voting_p${k}`, ns), topics: [registryTopic] });
        assert.deepEqual(
          got.map((t) => t.partitions.map((x) => [x.partition, x.offset])),
          [[[0, '2']]],
          `partition ${k}'s inbox group starts where voting's stopped`,
        );
      }
    } finally {
      await admin.deleteTopics({ topics: [topic, registryTopic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});
