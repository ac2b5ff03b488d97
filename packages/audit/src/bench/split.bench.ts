import { loadavg } from 'node:os';
import pg from 'pg';
import { migrate, schemaFor, type SqlClient } from '@ewx/platform';
import { uniqueNamespace } from '@ewx/platform/testing';
import { splitVoting } from '../split.js';

/**
 * `ewx voting split` on a large unsplit log (PostgreSQL at DATABASE_URL): N events (9 in 10 round
 * events of 200 solutions, 1 in 10 inbox copies, ~250 bytes of data each) split into P partitions,
 * against a baseline measured in the same run: one plain copy of the whole log
 * (into a table with the log's indexes: `INSERT … SELECT * … ORDER BY position`). Alternated: baseline, split, baseline, split
 * (each split on a log of its own). Usage: node dist/bench/split.bench.js [N] [P].
 */
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/ewx_test';
const N = Number(process.argv[2] ?? 200_000);
const P = Number(process.argv[3] ?? 4);
const pool = new pg.Pool({ connectionString: url, max: 2 });
const sql: SqlClient = {
  query: async (t, p) => pool.query(t, p) as never,
  transaction: () => Promise.reject(new Error('unused')),
  close: async () => undefined,
};

async function fill(ns: string): Promise<string> {
  const S = schemaFor(`${ns}_voting`);
  await migrate(sql, S);
  await pool.query(
    `INSERT INTO ${S}.events (stream_id, version, type, data, metadata)
     SELECT CASE WHEN g % 10 = 0 THEN 'inbox:consensus:clock' ELSE 'round:sol' || (g % 200) || '.bench:r' || (g / 2000) END,
            CASE WHEN g % 10 = 0 THEN g / 10 - 1 ELSE (g / 200) % 10 END,
            CASE WHEN g % 10 = 0 THEN 'BlocksProduced' ELSE 'VoteCast' END,
            json_build_object('solution', 'sol' || (g % 200) || '.bench', 'roundId', 'r' || (g / 2000), 'worker', md5(g::text), 'result', md5((g + 1)::text), 'signature', md5((g + 2)::text) || md5((g + 3)::text) || md5((g + 4)::text)),
            json_build_object('signer', md5(g::text), 'nonce', g::text)
     FROM generate_series(1, $1::int) g ORDER BY g`,
    [N],
  );
  await pool.query(`INSERT INTO ${S}.checkpoints (name, position) VALUES ('relay', $1)`, [String(N)]);
  return S;
}

const runs: { kind: string; ms: number }[] = [];
for (let round = 0; round < 2; round++) {
  const ns = uniqueNamespace(`sb${round}`);
  const S = await fill(ns);
  const t0 = performance.now();
  await pool.query(`CREATE TABLE ${S}.baseline_copy (LIKE ${S}.events INCLUDING INDEXES)`);
  await pool.query(`INSERT INTO ${S}.baseline_copy SELECT * FROM ${S}.events ORDER BY position`);
  runs.push({ kind: 'one plain copy of the log', ms: performance.now() - t0 });
  await pool.query(`DROP TABLE ${S}.baseline_copy`);
  const t1 = performance.now();
  await splitVoting({ databaseUrl: url, namespace: ns, partitions: P });
  runs.push({ kind: `split into ${P}`, ms: performance.now() - t1 });
  for (let k = 0; k < P; k++) await pool.query(`DROP SCHEMA ${S}_p${k} CASCADE`);
  await pool.query(`DROP SCHEMA ${S} CASCADE`);
}
for (const r of runs)
  process.stdout.write(`${r.kind}: ${(r.ms / 1000).toFixed(2)} s (${Math.round(N / (r.ms / 1000)).toLocaleString('en')} events/s of the log)\n`);
process.stdout.write(
  `N ${N.toLocaleString('en')} events, P ${P}, load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}\n`,
);
await pool.end();
