import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import type { EventStore } from './types.js';
import { migrate, schemaFor, sqlEventStore, type SqlClient } from './sql.js';

/** A PGlite database can be shared by the five services of the embedded mode, one schema each. */
export function pgliteClient(db: PGlite, ownsDb: boolean): SqlClient {
  return {
    query: async (text, params) => db.query(text, params) as never,
    transaction: (fn) => db.transaction((tx) => fn({ query: async (t, p) => tx.query(t, p) as never })),
    close: async () => {
      if (ownsDb) await db.close();
    },
  };
}

/** The installed PGlite's version (its package.json is not exported: found above its entry file). */
function pgliteVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite'))); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === '@electric-sql/pglite') return pkg.version ?? 'unknown';
  }
  return 'unknown';
}

/**
 * Where the initialized cluster of this PGlite version is kept (`EWX_PGLITE_TEMPLATE` names the file;
 * `off` disables it): a new database is unpacked from it instead of running initdb again, which is
 * most of a cold start (measured: 13.8 s for a new folder vs 2.4 s from the template, 823 vs 375 MB).
 */
export function pgliteTemplatePath(env: Record<string, string | undefined> = process.env): string | undefined {
  const setting = env.EWX_PGLITE_TEMPLATE;
  if (setting === 'off') return undefined;
  return setting || join(tmpdir(), `ewx-pglite-${pgliteVersion()}-template.tar`);
}

/** The template's bytes, made once (one initdb, dumped, written atomically) when missing; undefined if it cannot be. */
async function pgliteTemplate(path: string): Promise<Blob | undefined> {
  const { PGlite: P } = await import('@electric-sql/pglite');
  if (!existsSync(path)) {
    const fresh = await P.create();
    const dump = await fresh.dumpDataDir('none');
    await fresh.close();
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
      renameSync(tmp, path);
    } catch {
      return dump; // an unwritable cache folder: use it this once
    }
    return dump;
  }
  return new Blob([readFileSync(path)]);
}

/**
 * Opens a PGlite database: an existing folder as it is, a new folder unpacked from the cluster
 * template (see pgliteTemplatePath), memory (`dataDir` undefined) by initdb as before.
 */
export async function openPglite(dataDir?: string, env: Record<string, string | undefined> = process.env): Promise<PGlite> {
  const { PGlite: P } = await import('@electric-sql/pglite');
  // Memory databases are not unpacked: one loaded from a tar keeps the process alive until it is
  // closed (PGlite 0.5.16), and many short-lived test databases are never closed.
  const fresh = dataDir !== undefined && !existsSync(join(dataDir, 'PG_VERSION'));
  const path = fresh ? pgliteTemplatePath(env) : undefined;
  const template = path === undefined ? undefined : await pgliteTemplate(path).catch(() => undefined);
  return template === undefined ? P.create(dataDir) : P.create(dataDir, { loadDataDir: template });
}

/** The embedded adapter: PostgreSQL compiled to WebAssembly, in process; `dataDir` undefined = memory. */
export async function pgliteEventStore(category: string, db?: PGlite, dataDir?: string): Promise<EventStore> {
  const owns = db === undefined;
  const database = db ?? (await openPglite(dataDir));
  const sql = pgliteClient(database, owns);
  const schema = schemaFor(category);
  await migrate(sql, schema);
  return sqlEventStore(sql, schema);
}
