import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { inboxGroupOf, kafkaBus, postgresEventStore, readEnv, schemaFor, type Logger } from '@ewx/platform';
import { busyMember, describeGroup, realInfra, uniqueNamespace, waitFor } from '@ewx/platform/testing';
import { votingDecider } from '../domain/decider.js';
import { partitionedVoting, partitionInstance } from './partitioned.js';

const { infra, skip } = await realInfra();

/** A logger that keeps every line (message and fields), to assert what a partition's stop said. */
function keptLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const at =
    (fields: Record<string, unknown>) =>
    (msg: string, f?: Record<string, unknown>): void =>
      void lines.push(JSON.stringify({ msg, ...fields, ...f }));
  const make = (fields: Record<string, unknown>): Logger => ({
    info: at(fields),
    warn: at(fields),
    error: at(fields),
    child: (c) => make({ ...fields, ...c }),
  });
  return { log: make({}), lines };
}

/** Replica `a` of partitioned voting over `partitions` partitions, its inbox reading only the registry's GroupRegistered. */
const votingReplicaA = (
  ctx: { store: Parameters<typeof partitionedVoting>[0]['store']; bus: Parameters<typeof partitionedVoting>[0]['bus']; log: Logger; ns: string },
  partitions: number,
  env: Record<string, string> = {},
) =>
  partitionedVoting(
    {
      store: ctx.store,
      bus: ctx.bus,
      log: ctx.log,
      env: readEnv({ DATABASE_URL: infra!.databaseUrl, ...env }),
      admin: 'admin',
      mode: 'standalone',
      namespace: ctx.ns,
    },
    { partitions, replica: 'a', address: '127.0.0.1:1', leaseMs: 1500, forwardTimeoutMs: 1000, forwardTls: undefined, forwardTlsName: undefined },
    {
      decider: votingDecider,
      inbox: { registry: ['GroupRegistered'] },
      grpc: () => ({ name: 'ewx.v1.VotingPartition', definition: {}, implementation: {} }),
    },
  );

/**
 * A voting partition that stops being this replica's while it is still starting (its inbox not
 * caught up) stops at once: its start is aborted, its consumer leaves the group. Real PostgreSQL
 * (leases, logs) and Kafka (inbox groups). INBOX_CATCH_UP_TIMEOUT_MS is an hour: without the abort
 * the start would wait for it, and the test would hit its own timeout.
 */
describe('partitioned voting: a partition whose lease goes while it starts', { skip, timeout: 180_000 }, () => {
  const closing: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const c of closing.reverse()) await c.close();
  });

  const replicaA = async (ns: string) => {
    const { log, lines } = keptLog();
    const bus = kafkaBus({ brokers: infra!.brokers, clientId: 'partition-abort-test', log: log.child({ bus: true }) });
    closing.push(bus);
    const store = await postgresEventStore(infra!.databaseUrl, `${ns}_voting`);
    closing.push(store);
    // An event of registry's topic that no partition can record (a gap: its previous event of the type
    // is missing), so every partition's inbox catch-up waits, as for a partition whose appends are fenced.
    await bus.publish(`${ns}.ewx.registry.events.v1`, [
      {
        key: 'registry',
        value: JSON.stringify({ source: 'registry', streamId: 'group:g', version: 5, position: '6', type: 'GroupRegistered', data: {}, prevOfType: 4 }),
      },
    ]);
    const voting = votingReplicaA({ store, bus, log, ns }, 2, { INBOX_CATCH_UP_TIMEOUT_MS: '3600000' });
    const started = voting.start().then(
      () => 'started',
      (e: unknown) => e,
    );
    const members = async (k: number): Promise<number> => (await describeGroup(infra!.brokers, inboxGroupOf(partitionInstance(k), ns))).members.length;
    await waitFor(
      'both partitions to join their inbox groups (then wait for a catch-up that never comes)',
      async () => ((await members(0)) === 1 && (await members(1)) === 1 ? true : undefined),
      60_000,
      100,
    );
    const sql = new pg.Pool({ connectionString: infra!.databaseUrl, max: 1 });
    closing.push({ close: () => sql.end() });
    const leases = `${schemaFor(`${ns}_voting`)}.partition_leases`;
    return { voting, started, members, lines, sql, leases };
  };

  test('lost to another replica: the start is aborted, its consumer leaves the group, the replica ends its start', async () => {
    const ns = uniqueNamespace('lostmid');
    const { voting, started, members, lines, sql, leases } = await replicaA(ns);
    // Replica b takes both partitions (as after a's lease expired during a pause): a's renewals fail.
    await sql.query(`UPDATE ${leases} SET owner = 'b', address = 'b:1', epoch = epoch + 1, expires_at = now() + interval '10 minutes'`);
    await sql.query(`INSERT INTO ${schemaFor(`${ns}_voting`)}.partition_replicas (id, address, expires_at) VALUES ('b', 'b:1', now() + interval '10 minutes')`);
    assert.equal(await started, 'started', "the replica's start ends (its partitions' starts were aborted, not waited for)");
    for (const k of [0, 1]) {
      assert.equal(await members(k), 0, `partition ${k}: no member of a's left in its inbox group`);
      const stopped = lines
        .map((l) => JSON.parse(l) as { msg: string; partition?: number; error?: string })
        .find((l) => l.msg === 'partition start aborted here: stopped' && l.partition === k);
      assert.match(
        stopped?.error ?? '',
        /^start aborted while waiting for the inbox to catch up with its topics' end offsets at join: its lease was lost to another replica$/,
        `partition ${k}: ${stopped?.error}`,
      );
    }
    await voting.stop();
  });

  test('given back to a new replica: the start is aborted, then the lease released; the partition kept goes on starting', async () => {
    const ns = uniqueNamespace('givemid');
    const { voting, started, members, lines, sql, leases } = await replicaA(ns);
    // Replica b appears: a's share is one partition, it gives back partition 1 while both are starting.
    await sql.query(`INSERT INTO ${schemaFor(`${ns}_voting`)}.partition_replicas (id, address, expires_at) VALUES ('b', 'b:1', now() + interval '10 minutes')`);
    await waitFor(
      'partition 1 released',
      async () => ((await sql.query(`SELECT owner FROM ${leases} WHERE partition = 1`)).rows[0]?.owner === null ? true : undefined),
      60_000,
      100,
    );
    assert.equal(await members(1), 0, 'partition 1: its consumer left the group before the lease was released');
    const aborted = lines
      .map((l) => JSON.parse(l) as { msg: string; partition?: number; error?: string })
      .find((l) => l.msg === 'partition start aborted here: stopped' && l.partition === 1);
    assert.match(aborted?.error ?? '', /^start aborted while waiting for the inbox to catch up .*: its lease is being given back$/);
    assert.equal((await sql.query(`SELECT owner FROM ${leases} WHERE partition = 0`)).rows[0]?.owner, 'a', 'partition 0 stays');
    assert.equal(await members(0), 1, 'partition 0 still waits for its catch-up');
    // Stopping the replica aborts that start too.
    await voting.stop();
    assert.equal(await started, 'started');
    assert.equal(await members(0), 0);
  });
});

/**
 * A replica stopped while a partition's inbox is still joining its group (its JoinGroup held by the
 * broker: another member of the group is busy with a message and rejoins only once it is done)
 * stops within the session timeout, not when the join ends (A's rebalance timeout, 60 s here), and
 * its member leaves the group once the held join ends. Real PostgreSQL and Kafka.
 */
describe('partitioned voting: a replica stopped while a partition is joining its inbox group', { skip, timeout: 180_000 }, () => {
  const closing: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const c of closing.reverse()) await c.close();
  });

  test('the stop aborts the join: it returns within the session timeout; no member of the replica is left once the join ends', async () => {
    const ns = uniqueNamespace('joinstop');
    const { log, lines } = keptLog();
    const bus = kafkaBus({ brokers: infra!.brokers, clientId: 'partition-join-test', log: log.child({ bus: true }) });
    closing.push(bus);
    const store = await postgresEventStore(infra!.databaseUrl, `${ns}_voting`);
    closing.push(store);
    const group = inboxGroupOf(partitionInstance(0), ns);
    const topic = `${ns}.ewx.registry.events.v1`;
    // Another member of partition 0's inbox group, busy with a message until released.
    const other = kafkaBus({ brokers: infra!.brokers, clientId: 'partition-join-other', log: keptLog().log });
    closing.push(other);
    const { release } = await busyMember(other, group, topic);
    // Released at the end whatever happens: the other member's stop waits for its handler.
    closing.push({ close: async () => release() });
    const voting = votingReplicaA({ store, bus, log, ns }, 1);
    const started = voting.start().then(
      () => 'started',
      (e: unknown) => e,
    );
    await waitFor(
      "partition 0's JoinGroup held by the broker",
      async () => ((await describeGroup(infra!.brokers, group)).state === 'PreparingRebalance' ? true : undefined),
      60_000,
      50,
    );
    const t = performance.now();
    await voting.stop();
    const ms = performance.now() - t;
    console.log(`# replica stopped while partition 0's JoinGroup was held: the stop took ${ms.toFixed(0)} ms (session timeout 6000 ms)`);
    assert.ok(ms < 9000, `the stop took ${ms} ms`);
    assert.equal(await started, 'started');
    const aborted = lines
      .map((l) => JSON.parse(l) as { msg: string; partition?: number; error?: string })
      .find((l) => l.msg === 'partition start aborted here: stopped' && l.partition === 0);
    assert.match(aborted?.error ?? '', /^start aborted while waiting for the inbox to join consumer group .*: this replica is stopping$/);
    // The other member goes on: the held join ends, the replica's member leaves the group then.
    release();
    const left = await waitFor(
      "the replica's member to leave once its join ended",
      () =>
        lines
          .map((l) => JSON.parse(l) as { msg: string; group?: string; joined?: boolean })
          .find((l) => l.msg === 'inbox: start aborted, no member left in the consumer group' && l.group === group),
      30_000,
      50,
    );
    assert.equal(left.joined, true);
    assert.equal((await describeGroup(infra!.brokers, group)).members.length, 1, 'only the other member is left');
  });
});
