import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { realInfra } from '../testing/infra.js';
import { pgClient } from './postgres.js';

const { infra, skip } = await realInfra();

describe('PostgreSQL client: a connection lost inside a transaction', { skip }, () => {
  const pool = new pg.Pool({ connectionString: infra?.databaseUrl, max: 1 });
  pool.on('error', () => undefined);
  after(() => pool.end());
  const sql = pgClient(pool);

  it('rejects the transaction instead of crashing the process, and the next query gets a new connection', async () => {
    let killedPid: number | undefined;
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      await assert.rejects(
        sql.transaction(async (tx) => {
          const { rows } = (await tx.query('SELECT pg_backend_pid() AS pid')) as { rows: { pid: number }[] };
          killedPid = rows[0].pid;
          // The server ends this very connection: the socket closes under the checked-out client.
          await tx.query('SELECT pg_terminate_backend(pg_backend_pid())');
        }),
      );
      // Let the socket's close and error events run.
      await new Promise((r) => setImmediate(r));
      const { rows } = (await sql.query('SELECT pg_backend_pid() AS pid', [])) as { rows: { pid: number }[] };
      assert.notEqual(rows[0].pid, killedPid, 'the broken connection went back to the pool');
      assert.deepEqual(uncaught, []);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
