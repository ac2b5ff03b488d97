import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { openPglite } from './pglite.js';
import pg from 'pg';
import { silentLogger } from '../log.js';
import { realInfra } from '../testing/infra.js';
import { pgliteClient } from './pglite.js';
import { pgClient, postgresEventStore } from './postgres.js';
import type { SnapshotStore } from '../snapshot.js';
import type { EventStore } from './types.js';
import { schemaFor, sqlEventStore, migrate, type SqlClient } from './sql.js';
import { subscribe } from './subscription.js';
import { START, type EventData, type RecordedEventText } from './types.js';

const { infra, skip } = await realInfra();
const db = await openPglite();
after(() => db.close());

/** The schema exactly as the adapter created it before positions became opaque (bigint checkpoints). */
async function createOldLog(sql: SqlClient, schema: string): Promise<void> {
  await sql.query(`CREATE SCHEMA ${schema}`);
  await sql.query(`CREATE TABLE ${schema}.events (
    position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream_id text NOT NULL, version integer NOT NULL,
    type text NOT NULL, data json NOT NULL, metadata json, recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream_id, version))`);
  await sql.query(`CREATE TABLE ${schema}.checkpoints (name text PRIMARY KEY, position bigint NOT NULL)`);
  for (let i = 0; i < 5; i++) {
    await sql.query(`INSERT INTO ${schema}.events (stream_id, version, type, data) VALUES ($1, 0, 'E', $2::json)`, [`s${i}`, JSON.stringify({ i })]);
  }
  // What the old relay saved after handling the first three events: the bigint position 3.
  await sql.query(`INSERT INTO ${schema}.checkpoints (name, position) VALUES ('relay', $1)`, ['3']);
}

const backends: [string, () => SqlClient, string | undefined][] = [
  ['PGlite', () => pgliteClient(db, false), undefined],
  ['PostgreSQL', () => pgClient(new pg.Pool({ connectionString: infra!.databaseUrl, max: 2 })), skip],
];

for (const [name, client, skipped] of backends) {
  test(`${name}: a checkpoint saved before positions were opaque (bigint column) resumes exactly where it was`, { skip: skipped }, async () => {
    const sql = client();
    const schema = schemaFor(`mig${process.pid.toString(36)}${Date.now().toString(36)}`);
    await createOldLog(sql, schema);
    await migrate(sql, schema);
    await migrate(sql, schema); // a second start changes nothing
    const col = await sql.query<{ data_type: string }>(
      `SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'checkpoints' AND column_name = 'position'`,
      [schema],
    );
    assert.equal(col.rows[0]!.data_type, 'text');
    const store = sqlEventStore(sql, schema);
    const cp = await store.getCheckpoint('relay');
    assert.equal(cp, '3');
    assert.deepEqual(
      (await store.readAll(cp, 10)).map((e) => (e.data as { i: number }).i),
      [3, 4],
    );
    const seen: number[] = [];
    const sub = subscribe(store, {
      checkpoint: 'relay',
      pollMs: 20,
      log: silentLogger,
      handler: async (b) => {
        seen.push(...b.map((e) => (e.data as { i: number }).i));
      },
    });
    await sub.caughtUp;
    await sub.stop();
    assert.deepEqual(seen, [3, 4], 'nothing before the old checkpoint again, nothing after it lost');
    assert.equal(await store.getCheckpoint('relay'), '5');
    assert.equal(await store.getCheckpoint('never'), START);
    // A process still running the previous version reads the migrated value as it did (BigInt of the column).
    const raw = await sql.query<{ position: string }>(`SELECT position FROM ${schema}.checkpoints WHERE name = 'relay'`);
    assert.equal(BigInt(raw.rows[0]!.position), 5n);
    await sql.query(`DROP SCHEMA ${schema} CASCADE`);
    await store.close();
  });
}

for (const [name, client, skipped] of backends) {
  test(`${name}: an append stores each event's data and metadata as the text JSON.stringify gives it alone, and gives its positions (dense or not)`, {
    skip: skipped,
  }, async () => {
    const sql = client();
    const schema = schemaFor(`app${process.pid.toString(36)}${Date.now().toString(36)}`);
    await migrate(sql, schema);
    const store = sqlEventStore(sql, schema);
    const tricky: EventData[] = [
      {
        type: 'A',
        data: { s: 'é ü 日本 "q" \\ \n\t \u2028 \u0001 \ud83d\ude00', n: 1e21, f: -0.5, big: 12345678901234567000, deep: [1, { a: [null, true, {}] }, []] },
        metadata: { signer: 'x', nonce: '7' },
      },
      { type: 'B', data: [], metadata: { nested: { deep: [1, 'x', null] } } },
      { type: 'C', data: 'a string' },
      { type: 'D', data: { key_order: { z: 1, a: 2 } }, metadata: { traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` } },
    ];
    // Twice over: 8 events, the JSON-parameter form (JSON_APPEND_MIN).
    tricky.push(...tricky.map((e) => ({ ...e, type: `${e.type}2` })));
    const r = await store.append('s-1', tricky, -1);
    const rows = await sql.query<{ position: string; version: number; type: string; d: string; m: string | null; isnull: boolean }>(
      `SELECT position::text AS position, version, type, data::text AS d, metadata::text AS m, metadata IS NULL AS isnull FROM ${schema}.events ORDER BY events.position`,
    );
    assert.deepEqual(
      rows.rows.map((x) => [x.version, x.type, x.d, x.m]),
      tricky.map((e, i) => [i, e.type, JSON.stringify(e.data), e.metadata === undefined ? null : JSON.stringify(e.metadata)]),
    );
    assert.deepEqual(
      rows.rows.map((x) => x.isnull),
      [false, false, true, false, false, false, true, false],
      'absent metadata is SQL NULL',
    );
    // An explicit null metadata is stored as the JSON null (that append takes the plain insert).
    const withNull: EventData[] = Array.from({ length: 8 }, (_, i) => ({
      type: 'N',
      data: { i },
      ...(i === 3 ? { metadata: null } : i === 4 ? {} : { metadata: { i } }),
    }));
    await store.append('s-4', withNull, -1);
    const rows4 = await sql.query<{ m: string | null }>(`SELECT metadata::text AS m FROM ${schema}.events WHERE stream_id = 's-4' ORDER BY version`);
    assert.deepEqual(
      rows4.rows.map((x) => x.m),
      withNull.map((e) => (e.metadata === undefined ? null : JSON.stringify(e.metadata))),
    );
    assert.equal(rows4.rows[3]!.m, 'null');
    assert.deepEqual(
      r.written?.positions,
      rows.rows.map((x) => x.position),
    );
    assert.equal(r.lastPosition, rows.rows[7]!.position);
    assert.deepEqual(
      (await store.readStream('s-1')).map((e) => [e.position, e.data]),
      rows.rows.map((x, i) => [x.position, JSON.parse(JSON.stringify(tricky[i]!.data))]),
    );
    // Escapes PostgreSQL's json functions refuse but the json type stores (the row-per-parameter path).
    const escapes: EventData[] = [
      { type: 'F', data: { lone: '\ud800', low: '\udc00', nul: '\u0000' } },
      ...Array.from({ length: 8 }, (_, i) => ({ type: 'F', data: { plain: `\\ud800 as text ${i}` } })),
    ];
    const r3 = await store.append('s-3', escapes, -1);
    const rows3 = await sql.query<{ position: string; d: string }>(
      `SELECT position::text AS position, data::text AS d FROM ${schema}.events WHERE stream_id = 's-3' ORDER BY events.position`,
    );
    assert.deepEqual(
      rows3.rows.map((x) => x.d),
      escapes.map((e) => JSON.stringify(e.data)),
    );
    assert.deepEqual(
      r3.written?.positions,
      rows3.rows.map((x) => x.position),
    );
    // Positions with gaps (an identity that steps by 3): read back, in version order, not computed.
    await sql.query(`ALTER TABLE ${schema}.events ALTER COLUMN position SET INCREMENT BY 3`);
    const r2 = await store.append(
      's-2',
      Array.from({ length: 8 }, (_, i) => ({ type: 'E', data: { i } })),
      -1,
    );
    const back = (await store.readStream('s-2')).map((e) => e.position);
    assert.deepEqual(r2.written?.positions, back);
    assert.equal(BigInt(back[1]!) - BigInt(back[0]!), 3n);
    assert.equal(r2.written?.preceding, rows3.rows[8]!.position);
    await sql.query(`DROP SCHEMA ${schema} CASCADE`);
    await store.close();
  });
}

for (const [name, client, skipped] of backends) {
  test(`${name}: snapshots are compressed with lz4 where the server has it (PostgreSQL), left as they are where not (PGlite); a snapshot reads back`, {
    skip: skipped,
  }, async () => {
    const sql = client();
    const schema = schemaFor(`snp${process.pid.toString(36)}${Date.now().toString(36)}`);
    await migrate(sql, schema);
    await migrate(sql, schema); // a second start changes nothing
    const c = await sql.query<{ c: string }>(
      `SELECT attcompression::text AS c FROM pg_attribute WHERE attrelid = '${schema}.snapshots'::regclass AND attname = 'data'`,
    );
    assert.equal(c.rows[0]!.c, name === 'PostgreSQL' ? 'l' : '');
    const store = sqlEventStore(sql, schema);
    const data = new Uint8Array(Buffer.from('state '.repeat(100_000)));
    const at = await store.append('s', [{ type: 'E', data: {} }], -1);
    await store.saveSnapshot({ position: at.lastPosition, version: 'v1', events: 7, data });
    const back = await store.loadSnapshot('v1');
    assert.equal(back?.events, 7);
    assert.deepEqual(Buffer.from(back!.data), Buffer.from(data));
    await sql.query(`DROP SCHEMA ${schema} CASCADE`);
    await store.close();
  });
}

for (const [name, client, skipped] of backends) {
  test(`${name}: readAll without the bodies of streams under a prefix: every event in order, those without data and metadata, the others whole`, {
    skip: skipped,
  }, async () => {
    const sql = client();
    const schema = schemaFor(`rab${process.pid.toString(36)}${Date.now().toString(36)}`);
    await migrate(sql, schema);
    const store = sqlEventStore(sql, schema);
    await store.append('round:a', [{ type: 'A', data: { i: 0 }, metadata: { signer: 's' } }], -1);
    await store.append(
      'inbox:voting:round:x',
      [
        { type: 'VoteCast', data: { i: 1 }, metadata: { source: 'voting' } },
        { type: 'VoteCast', data: { i: 2 } },
      ],
      -1,
    );
    await store.append('round:inbox:', [{ type: 'B', data: { i: 3 } }], -1);
    const whole = await store.readAll(START, 10);
    const bare = await store.readAll(START, 10, { withoutBodiesUnder: 'inbox:' });
    assert.deepEqual(
      bare.map((e) => [e.position, e.streamId, e.version, e.type]),
      whole.map((e) => [e.position, e.streamId, e.version, e.type]),
    );
    assert.deepEqual(
      bare.map((e) => [e.data, e.metadata]),
      [
        [{ i: 0 }, { signer: 's' }],
        [null, undefined],
        [null, undefined],
        [{ i: 3 }, undefined],
      ],
    );
    assert.deepEqual(await store.readAll(whole[1]!.position, 2, { withoutBodiesUnder: 'inbox:' }).then((b) => b.map((e) => e.position)), [
      whole[2]!.position,
      whole[3]!.position,
    ]);
    // dataAsText: the data's stored text (what JSON.stringify gave at append), data null; with and without the inbox skip.
    const awkward = { s: 'quote " \\ \n \u0000 🗳️ \ud800', n: 1e21, m: -0.5, nested: [[], {}, [null, true]] };
    await store.append('round:b', [{ type: 'C', data: awkward, metadata: { prevOfType: -1 } }], -1);
    const all = await store.readAll(START, 10);
    for (const opts of [{ dataAsText: true }, { dataAsText: true, withoutBodiesUnder: 'inbox:' }]) {
      const texts = (await store.readAll(START, 10, opts)) as RecordedEventText[];
      assert.deepEqual(
        texts.map((e) => [e.position, e.streamId, e.version, e.type, e.metadata]),
        all.map((e) => [e.position, e.streamId, e.version, e.type, opts.withoutBodiesUnder && e.streamId.startsWith('inbox:') ? undefined : e.metadata]),
      );
      texts.forEach((e, i) => {
        const bare = opts.withoutBodiesUnder !== undefined && e.streamId.startsWith('inbox:');
        assert.equal(e.dataText, bare ? undefined : JSON.stringify(all[i]!.data), `${JSON.stringify(opts)} event ${i}`);
        assert.equal(e.data, null);
      });
    }
    await sql.query(`DROP SCHEMA ${schema} CASCADE`);
    await store.close();
  });
}

test('PostgreSQL: snapshots are stored as bytes (no base64); a log whose snapshots table predates that migrates in place, its base64 snapshot still loads, the next is binary', {
  skip,
}, async () => {
  const category = `snb${process.pid.toString(36)}${Date.now().toString(36)}`;
  const open = async () => (await postgresEventStore(infra!.databaseUrl, category, 2)) as EventStore & SnapshotStore;
  const schema = schemaFor(category);
  const admin = new pg.Client({ connectionString: infra!.databaseUrl });
  await admin.connect();
  try {
    // The snapshots table as the adapter created it before binary snapshots, with one snapshot in it.
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`CREATE TABLE ${schema}.events (
      position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream_id text NOT NULL, version integer NOT NULL,
      type text NOT NULL, data json NOT NULL, metadata json, recorded_at timestamptz NOT NULL DEFAULT now(), UNIQUE (stream_id, version))`);
    await admin.query(`CREATE TABLE ${schema}.snapshots (
      position bigint NOT NULL, version text NOT NULL, events bigint NOT NULL, data text NOT NULL,
      taken_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (version, position))`);
    await admin.query(`INSERT INTO ${schema}.events (stream_id, version, type, data) VALUES ('s', 0, 'E', '{}')`);
    const old = Buffer.from('old state '.repeat(1000));
    await admin.query(`INSERT INTO ${schema}.snapshots (position, version, events, data) VALUES (1, 'v1', 1, $1)`, [old.toString('base64')]);

    const store = await open();
    const first = await store.loadSnapshot('v1');
    assert.deepEqual(Buffer.from(first!.data), old, 'the base64 snapshot written before reads back');
    const at = await store.append('s', [{ type: 'E', data: {} }], 0);
    const state = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 256));
    await store.saveSnapshot({ position: at.lastPosition, version: 'v1', events: 2, data: state });
    const row = (await admin.query(`SELECT data, bytes FROM ${schema}.snapshots WHERE position = $1`, [at.lastPosition])).rows[0];
    assert.equal(row.data, null, 'no base64 text');
    assert.deepEqual(row.bytes, state, 'the bytes as they are');
    const back = await store.loadSnapshot('v1');
    assert.equal(back?.position, at.lastPosition);
    assert.deepEqual(Buffer.from(back!.data), state);
    assert.equal(await store.loadSnapshot('v2'), undefined, 'another version: none');
    const c = await admin.query(
      `SELECT attname, attcompression::text AS c FROM pg_attribute WHERE attrelid = '${schema}.snapshots'::regclass AND attname IN ('data', 'bytes') ORDER BY attname`,
    );
    assert.deepEqual(
      c.rows.map((r) => [r.attname, r.c]),
      [
        ['bytes', 'l'],
        ['data', 'l'],
      ],
    );
    await store.close();
    // A second start changes nothing and reads the binary one.
    const again = await open();
    assert.deepEqual(Buffer.from((await again.loadSnapshot())!.data), state);
    await again.close();
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
});
