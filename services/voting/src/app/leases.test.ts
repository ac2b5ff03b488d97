import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  isDomainError,
  readEnv,
  silentLogger,
  partitionLeases,
  postgresEventStore,
  schemaFor,
  type EventStore,
  type LeaseRow,
  type PartitionLeases,
} from '@ewx/platform';
import { realInfra, uniqueNamespace, waitFor } from '@ewx/platform/testing';
import { leaseKeeper, leasePlan } from './leases.js';
import { partitionOf, partitionSettingsFrom } from './partitions.js';

const row = (partition: number, owner: string | null, live = owner !== null): LeaseRow => ({
  partition,
  owner,
  address: owner ? `${owner}:1` : null,
  epoch: 1,
  live,
});

describe('leasePlan: a fair share of the partitions per live replica', () => {
  test('alone: takes every free or expired partition', () => {
    const p = leasePlan('a', [row(0, null), row(1, 'b', false), row(2, 'b', true), row(3, null)], 1, new Set());
    assert.deepEqual(p, { release: [], acquire: [0, 1, 3], share: 4 });
  });
  test('a second replica appears: the holder of all gives back its highest ones', () => {
    const rows = [0, 1, 2, 3].map((k) => row(k, 'a'));
    assert.deepEqual(leasePlan('a', rows, 2, new Set([0, 1, 2, 3])), { release: [3, 2], acquire: [], share: 2 });
    assert.deepEqual(leasePlan('b', rows, 2, new Set()).acquire, [], 'nothing free yet');
    assert.deepEqual(leasePlan('b', [row(0, 'a'), row(1, 'a'), row(2, null), row(3, null)], 2, new Set()).acquire, [2, 3]);
  });
  test('its own expired lease is not re-taken while it still counts it held; an odd count rounds up', () => {
    assert.deepEqual(leasePlan('a', [row(0, 'a', false), row(1, null), row(2, null)], 2, new Set([0])), { release: [], acquire: [1], share: 2 });
  });
  test('a process restarted under the same id takes back its own leases, live or not, unless it has them in memory', () => {
    const rows = [row(0, 'a', true), row(1, 'a', false), row(2, null), row(3, 'b', true)];
    assert.deepEqual(leasePlan('a', rows, 2, new Set()).acquire, [0, 1]);
    assert.deepEqual(leasePlan('a', rows, 2, new Set(), new Set([0])).acquire, [1, 2], 'one being given back or stopped here is not re-taken');
    assert.deepEqual(leasePlan('b', rows, 2, new Set([3])).acquire, [1], "another replica's live lease is never taken");
  });
});

describe('partitionOf', () => {
  test('stable, in range, and spreads solutions', () => {
    assert.equal(partitionOf('any', 1), 0);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const k = partitionOf(`solution.${i}`, 4);
      assert.ok(k >= 0 && k < 4);
      assert.equal(partitionOf(`solution.${i}`, 4), k);
      seen.add(k);
    }
    assert.equal(seen.size, 4);
    // Fixed values: the hash may never change for a deployment.
    assert.deepEqual(
      ['a', 'load.solution', 'e2e.vote.solution'].map((s) => partitionOf(s, 7)),
      [5, 3, 0],
    );
  });
});

describe('partition settings', () => {
  const from = (vars: Record<string, string>, mode: 'embedded' | 'standalone' = 'standalone') => partitionSettingsFrom(readEnv(vars), mode);
  test('default: one partition, nothing else required', () => {
    const s = from({});
    assert.equal(s.partitions, 1);
    assert.equal(s.leaseMs, 10_000);
  });
  test('partitions need PostgreSQL, a standalone process and an address others can reach', () => {
    const db = { DATABASE_URL: 'postgres://x@h/db' };
    assert.throws(() => from({ VOTING_PARTITIONS: '2' }), /VOTING_PARTITIONS: expected 1 unless DATABASE_URL is set/);
    assert.throws(() => from({ ...db, VOTING_PARTITIONS: '2' }, 'embedded'), /VOTING_PARTITIONS: expected 1 in the embedded system/);
    assert.throws(() => from({ ...db, VOTING_PARTITIONS: '65' }), /VOTING_PARTITIONS/);
    assert.throws(() => from({ ...db, VOTING_PARTITIONS: '2', VOTING_ADVERTISE_ADDRESS: 'no port' }), /VOTING_ADVERTISE_ADDRESS: expected host:port/);
    assert.throws(() => from({ ...db, VOTING_PARTITIONS: '2', GRPC_PORT: '0' }), /VOTING_ADVERTISE_ADDRESS: expected host:port \(GRPC_PORT is 0/);
    assert.throws(() => from({ ...db, VOTING_PARTITIONS: '2', VOTING_REPLICA_ID: 'a b' }), /VOTING_REPLICA_ID: expected 1 to 100 of/);
    const s = from({ ...db, VOTING_PARTITIONS: '4', GRPC_HOST: '10.0.0.7', GRPC_PORT: '7000', VOTING_REPLICA_ID: 'pod-1' });
    assert.deepEqual([s.partitions, s.address, s.replica], [4, '10.0.0.7:7000', 'pod-1']);
  });
});

const { infra, skip } = await realInfra();

describe('leases in PostgreSQL: take-over after expiry, and a former owner is fenced', { skip }, () => {
  const closing: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const c of closing.reverse()) await c.close();
  });

  test('a paused owner cannot append once another replica took its partition; the new owner can', async () => {
    const ns = uniqueNamespace('lease');
    const leases: PartitionLeases = await partitionLeases(infra!.databaseUrl, schemaFor(`${ns}_voting`), 2);
    closing.push(leases);
    await leases.init();
    const held = new Map<string, number>();
    const storeOf = async (replica: string): Promise<EventStore> => {
      const s = await postgresEventStore(infra!.databaseUrl, `${ns}_voting_p0`, 2, { guard: leases.guard(0, replica, () => held.get(replica)) });
      closing.push(s);
      return s;
    };
    const a = await storeOf('a');
    const b = await storeOf('b');
    // A takes partition 0 for 400 ms and writes.
    const ea = await leases.acquire(0, 'a', 'a:1', 400);
    assert.equal(ea, 1);
    held.set('a', ea!);
    assert.equal(await leases.acquire(0, 'b', 'b:1', 400), undefined, 'a live lease is not taken');
    await a.append('round:s:1', [{ type: 'T', data: { n: 1 } }], -1);
    // A pauses (no renewal). B takes the partition once the lease has expired in PostgreSQL's clock.
    const eb = await waitFor('the lease to expire and B to take it', () => leases.acquire(0, 'b', 'b:1', 60_000), 10_000, 50);
    assert.equal(eb, 2);
    held.set('b', eb);
    // A resumes, still believing it holds epoch 1: its append is refused and writes nothing.
    const refused = await a.append('round:s:1', [{ type: 'T', data: { n: 2 } }], 0).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isDomainError(refused) && refused.code === 'UNAVAILABLE', `refused with UNAVAILABLE: ${String(refused)}`);
    assert.match((refused as Error).message, /replica a lost its lease \(epoch 1\) to another replica; nothing was written/);
    assert.equal(await leases.renew(0, 'a', 1, 400), false, "A's renewal tells it the lease is lost");
    assert.deepEqual(
      (await b.readAll('' as never, 10)).map((e) => e.data),
      [{ n: 1 }],
    );
    await b.append('round:s:1', [{ type: 'T', data: { n: 3 } }], 0);
    assert.deepEqual(
      (await a.readAll('' as never, 10)).map((e) => e.data),
      [{ n: 1 }, { n: 3 }],
    );
    const rows = await leases.rows();
    assert.deepEqual(
      rows.map((r) => [r.partition, r.owner, r.epoch, r.live]),
      [
        [0, 'b', 2, true],
        [1, null, 0, false],
      ],
    );
    // Releasing frees it at once; a replica with no epoch for it (not holding) cannot append either.
    await leases.release(0, 'b', 2);
    held.delete('b');
    await assert.rejects(b.append('round:s:1', [{ type: 'T', data: {} }], 1), /partition 0 is not held by replica b/);
    assert.equal(await leases.acquire(0, 'a', 'a:1', 400), 3);
  });

  test('a partition given back is refused to requests at once but stays writable while it stops (a start in flight can finish); released, it is not', async () => {
    const ns = uniqueNamespace('handback');
    const leases: PartitionLeases = await partitionLeases(infra!.databaseUrl, schemaFor(`${ns}_voting`), 2);
    closing.push(leases);
    await leases.init();
    let letGo: () => void = () => undefined;
    const stopping = new Promise<void>((r) => {
      letGo = r;
    });
    const stopped: number[] = [];
    const keeper = leaseKeeper(
      leases,
      { replica: 'a', address: 'a:1', leaseMs: 60_000, log: silentLogger },
      {
        start: async () => undefined,
        // The partition's stop (its start in flight, its inbox leaving the group) takes a while.
        stop: async (k) => {
          await stopping;
          stopped.push(k);
        },
      },
    );
    closing.push({ close: () => keeper.stop() });
    await keeper.tick();
    const e1 = keeper.epoch(1);
    assert.ok(e1 !== undefined, 'alone, a holds partition 1');
    const store = await postgresEventStore(infra!.databaseUrl, `${ns}_voting_p1`, 2, { guard: leases.guard(1, 'a', () => keeper.writable(1)) });
    closing.push(store);
    // A second replica appears: a gives partition 1 back. Requests are routed elsewhere (no epoch), but
    // until its stop ends and the lease is released its log still takes a's appends (its lease is a's).
    await leases.heartbeat('b', 'b:1', 60_000);
    await keeper.tick();
    assert.equal(keeper.epoch(1), undefined, 'being given back: not routed here');
    assert.equal(keeper.writable(1), e1, 'being given back: still writable here');
    await store.append('round:s:1', [{ type: 'T', data: { n: 1 } }], -1);
    letGo();
    await waitFor('partition 1 released', async () => ((await leases.rows()).find((r) => r.partition === 1)?.owner === null ? true : undefined), 10_000, 20);
    assert.deepEqual(stopped, [1]);
    assert.equal(keeper.writable(1), undefined, 'released: not writable');
    await assert.rejects(store.append('round:s:1', [{ type: 'T', data: { n: 2 } }], 0), /partition 1 is not held by replica a/);
    assert.equal(keeper.epoch(0) !== undefined && keeper.writable(0) === keeper.epoch(0), true, 'partition 0 stays, routed and writable');
  });

  test('a replica restarted under a fixed id takes back its live leases at once, and its former process is fenced', async () => {
    const ns = uniqueNamespace('leaseid');
    const leases: PartitionLeases = await partitionLeases(infra!.databaseUrl, schemaFor(`${ns}_voting`), 2);
    closing.push(leases);
    await leases.init();
    const started: string[] = [];
    const keeperOf = (name: string) =>
      leaseKeeper(
        leases,
        { replica: 'voting-0', address: 'voting-0:1', leaseMs: 60_000, log: silentLogger },
        {
          start: async (k, epoch) => {
            started.push(`${name} ${k}@${epoch}`);
          },
          stop: async () => undefined,
        },
      );
    // The first process of voting-0 takes both partitions (a 60 s lease) and writes to partition 0.
    const first = keeperOf('first');
    await first.tick();
    assert.deepEqual([first.epoch(0), first.epoch(1)], [1, 1]);
    const storeOf = async (keeper: { epoch(k: number): number | undefined }): Promise<EventStore> => {
      const s = await postgresEventStore(infra!.databaseUrl, `${ns}_voting_p0`, 2, { guard: leases.guard(0, 'voting-0', () => keeper.epoch(0)) });
      closing.push(s);
      return s;
    };
    const a1 = await storeOf(first);
    await a1.append('round:s:1', [{ type: 'T', data: { n: 1 } }], -1);
    // It "crashes" (never renews nor releases); the pod restarts under the same name while the leases are still live.
    const second = keeperOf('second');
    await second.tick();
    assert.deepEqual([second.epoch(0), second.epoch(1)], [2, 2], 'taken back at the first tick, not after the 60 s lease');
    assert.deepEqual(started, ['first 0@1', 'first 1@1', 'second 0@2', 'second 1@2']);
    assert.deepEqual(
      (await leases.rows()).map((r) => [r.partition, r.owner, r.epoch, r.live]),
      [
        [0, 'voting-0', 2, true],
        [1, 'voting-0', 2, true],
      ],
    );
    // The former process, if still running, cannot write: same id, older epoch.
    await assert.rejects(a1.append('round:s:1', [{ type: 'T', data: { n: 2 } }], 0), /replica voting-0 lost its lease \(epoch 1\)/);
    assert.equal(await leases.renew(0, 'voting-0', 1, 60_000), false, 'its renewal tells it the lease is lost');
    const a2 = await storeOf(second);
    await a2.append('round:s:1', [{ type: 'T', data: { n: 3 } }], 0);
    assert.deepEqual(
      (await a2.readAll('' as never, 10)).map((e) => e.data),
      [{ n: 1 }, { n: 3 }],
    );
    // A second tick of the new process keeps what it holds (no new epoch).
    await second.tick();
    assert.deepEqual([second.epoch(0), second.epoch(1)], [2, 2]);
  });

  test('the partition count of a deployment cannot change', async () => {
    const ns = uniqueNamespace('leasen');
    const first = await partitionLeases(infra!.databaseUrl, schemaFor(`${ns}_voting`), 3);
    closing.push(first);
    await first.init();
    const other = await partitionLeases(infra!.databaseUrl, schemaFor(`${ns}_voting`), 4);
    closing.push(other);
    await assert.rejects(other.init(), /holds 3 partitions but 4 are configured: the partition count of a deployment cannot change/);
  });
});
