import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { postgresEventStore, type EventStore, type SnapshotStore } from '@ewx/platform';
import { realInfra, uniqueNamespace } from '@ewx/platform/testing';
import { postgresSource } from './source.js';

const { infra, skip } = await realInfra();

/**
 * The audit compares a service's newest snapshot with its replay: it must read the snapshot in
 * either stored form — the bytes the PostgreSQL adapter writes now, and the base64 text of a log
 * written before (whose table has no `bytes` column).
 */
test('audit source (PostgreSQL): the newest snapshot is read as stored bytes, and as base64 from a log written before binary snapshots', { skip }, async () => {
  const ns = uniqueNamespace('audsnap');
  const admin = new pg.Client({ connectionString: infra!.databaseUrl });
  await admin.connect();
  const source = postgresSource(infra!.databaseUrl, ns);
  try {
    // voting: a log of this build, its snapshot binary.
    const store = (await postgresEventStore(infra!.databaseUrl, `${ns}_voting`, 1)) as EventStore & SnapshotStore;
    const at = await store.append('s', [{ type: 'E', data: {} }], -1);
    const state = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 31) % 256));
    await store.saveSnapshot({ position: at.lastPosition, version: 'v1', events: 1, data: state });
    await store.close();
    assert.equal((await admin.query(`SELECT data FROM ewx_${ns}_voting.snapshots`)).rows[0].data, null, 'stored without base64');
    const got = await source.snapshot!('voting');
    assert.equal(got?.position, BigInt(at.lastPosition));
    assert.equal(got?.version, 'v1');
    assert.deepEqual(Buffer.from(got!.data), state);

    // consensus: the snapshots table as written before binary snapshots (no `bytes` column).
    const old = `ewx_${ns}_consensus`;
    await admin.query(`CREATE SCHEMA ${old}`);
    await admin.query(`CREATE TABLE ${old}.snapshots (position bigint NOT NULL, version text NOT NULL, events bigint NOT NULL, data text NOT NULL,
      taken_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (version, position))`);
    const before = Buffer.from('state written before');
    await admin.query(`INSERT INTO ${old}.snapshots (position, version, events, data) VALUES (7, 'v0', 7, $1)`, [before.toString('base64')]);
    const legacy = await source.snapshot!('consensus');
    assert.equal(legacy?.position, 7n);
    assert.deepEqual(Buffer.from(legacy!.data), before);
  } finally {
    await source.close();
    for (const s of ['voting', 'consensus']) await admin.query(`DROP SCHEMA IF EXISTS ewx_${ns}_${s} CASCADE`);
    await admin.end();
  }
});
