import type pg from 'pg';
import type { EventStore } from './types.js';
import { migrate, schemaFor, sqlEventStore, type SqlClient, type SqlStoreOptions } from './sql.js';

// bigint columns come back as strings; positions are converted with BigInt where read.
export function pgClient(pool: pg.Pool): SqlClient {
  return {
    query: async (text, params) => pool.query(text, params as unknown[]) as never,
    async transaction(fn) {
      const client = await pool.connect();
      // A checked-out client has no pool listener: a connection reset mid-transaction emits 'error'
      // on it, which would crash the process. The pending query rejects too, so the error is kept
      // only to discard the broken connection on release instead of returning it to the pool.
      let lost: Error | undefined;
      const onError = (e: Error) => {
        lost = e;
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const out = await fn({ query: async (t, p) => client.query(t, p as unknown[]) as never });
        await client.query('COMMIT');
        return out;
      } catch (e) {
        await client.query('ROLLBACK').catch((rollbackFailed: Error) => {
          lost ??= rollbackFailed;
        });
        throw e;
      } finally {
        client.removeListener('error', onError);
        client.release(lost);
      }
    },
    close: () => pool.end(),
  };
}

/** The production adapter: PostgreSQL through `pg`, one schema per service log. */
export async function postgresEventStore(url: string, category: string, poolSize = 5, opts: SqlStoreOptions = {}): Promise<EventStore> {
  // Loaded here, not at the top: the embedded system never opens PostgreSQL.
  const { default: pgm } = await import('pg');
  const pool = new pgm.Pool({ connectionString: url, max: poolSize });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const sql = pgClient(pool);
  const schema = schemaFor(category);
  await migrate(sql, schema);
  return sqlEventStore(sql, schema, { binarySnapshots: true, ...opts });
}
