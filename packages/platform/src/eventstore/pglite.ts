import type { PGlite } from '@electric-sql/pglite';
import type { EventStore } from './types.js';
import { migrate, schemaFor, sqlEventStore, type SqlClient } from './sql.js';

/** A PGlite database can be shared by the five services of the embedded mode, one schema each. */
export function pgliteClient(db: PGlite, ownsDb: boolean): SqlClient {
  return {
    query: async (text, params) => db.query(text, params) as never,
    transaction: (fn) => db.transaction((tx) => fn({ query: async (t, p) => tx.query(t, p) as never })),
    close: async () => { if (ownsDb) await db.close(); },
  };
}

/** The embedded adapter: PostgreSQL compiled to WebAssembly, in process; `dataDir` undefined = memory. */
export async function pgliteEventStore(category: string, db?: PGlite, dataDir?: string): Promise<EventStore> {
  const owns = db === undefined;
  const database = db ?? (await (await import('@electric-sql/pglite')).PGlite.create(dataDir));
  const sql = pgliteClient(database, owns);
  const schema = schemaFor(category);
  await migrate(sql, schema);
  return sqlEventStore(sql, schema);
}
