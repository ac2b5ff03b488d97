import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { openPglite } from './pglite.js';
import pg from 'pg';
import { silentLogger } from '../log.js';
import { realInfra } from '../testing/infra.js';
import { pgliteClient } from './pglite.js';
import { pgClient } from './postgres.js';
import { schemaFor, sqlEventStore, migrate, type SqlClient } from './sql.js';
import { subscribe } from './subscription.js';
import { START } from './types.js';

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
