import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, sep } from 'node:path';
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
  return setting || join(tmpdir(), `ewx-pglite-${pgliteVersion()}-postgres-only.tar`);
}

/**
 * Makes the template (one initdb, dumped, written atomically); its bytes if the file cannot be written.
 * Only the `postgres` database is kept: template0 and template1 serve CREATE DATABASE, which nothing
 * here runs, and they are 600 of the cluster's 1,000 files (creating files is most of the unpacking).
 */
async function makeTemplate(path: string): Promise<Blob | undefined> {
  const { PGlite: P } = await import('@electric-sql/pglite');
  const fresh = await P.create();
  await fresh.exec(`UPDATE pg_database SET datistemplate = false WHERE datname IN ('template0', 'template1')`);
  await fresh.exec('DROP DATABASE template0');
  await fresh.exec('DROP DATABASE template1');
  try {
    const { dump, written } = await dumpTo(fresh, path);
    return written ? undefined : dump; // an unwritable cache folder: use the dump this once
  } finally {
    await fresh.close();
  }
}

/** Dumps `db`'s folder (after a checkpoint) and writes it to `path` atomically; `written` false when the file could not be written. */
async function dumpTo(db: PGlite, path: string): Promise<{ dump: Blob; written: boolean }> {
  await db.exec('CHECKPOINT');
  const dump = await db.dumpDataDir('none');
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    renameSync(tmp, path);
    return { dump, written: true };
  } catch {
    return { dump, written: false };
  }
}

/**
 * Unpacks the template (PGlite's uncompressed ustar dump: directories and regular files) into a new
 * folder with plain file writes: PGlite's own `loadDataDir` writes the 40 MB through its emulated file
 * system, several seconds of a cold start. `PG_VERSION`, which marks a folder as a database, is
 * written last, so an unpacking cut short is done again at the next start. Returns false (nothing
 * relied on) for an entry it does not know, for PGlite to unpack instead.
 */
export function unpackTemplate(tarFile: string, dataDir: string): boolean {
  const fd = openSync(tarFile, 'r');
  const header = Buffer.alloc(512);
  const chunk = Buffer.alloc(1 << 20);
  let last: { path: string; offset: number; size: number; mode: number } | undefined;
  const copy = (path: string, offset: number, size: number, mode: number): void => {
    const out = openSync(path, 'w', mode);
    try {
      for (let done = 0; done < size; ) {
        const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - done), offset + done);
        if (n <= 0) throw new Error(`${tarFile}: truncated`);
        writeSync(out, chunk, 0, n);
        done += n;
      }
    } finally {
      closeSync(out);
    }
  };
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o750 });
    for (let offset = 0; ; ) {
      if (readSync(fd, header, 0, 512, offset) < 512 || header.every((b) => b === 0)) break;
      const field = (start: number, length: number): string => header.toString('latin1', start, start + length).replace(/\0.*$/s, '');
      const name = [field(345, 155), field(0, 100)].filter((x) => x !== '').join('/');
      const size = Number.parseInt(field(124, 12).trim() || '0', 8);
      const mode = Number.parseInt(field(100, 8).trim() || '0', 8) & 0o777;
      const type = field(156, 1);
      const rel = normalize(name.replace(/^\/+/, ''));
      if (rel === '.' || rel.startsWith('..') || rel.split(sep).includes('..') || !Number.isFinite(size)) return false;
      const path = join(dataDir, rel);
      if (type === '5') mkdirSync(path, { recursive: true, mode: mode || 0o750 });
      else if (type === '0' || type === '') {
        mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
        if (rel === 'PG_VERSION') last = { path, offset: offset + 512, size, mode: mode || 0o600 };
        else copy(path, offset + 512, size, mode || 0o600);
      } else return false;
      offset += 512 + Math.ceil(size / 512) * 512;
    }
    if (last === undefined) return false;
    copy(last.path, last.offset, last.size, last.mode);
    return true;
  } finally {
    closeSync(fd);
  }
}

/**
 * PostgreSQL's shared buffers in a PGlite database (`EWX_PGLITE_SHARED_BUFFERS`, default 16MB):
 * PostgreSQL's default of 128MB is touched at start and kept resident, the largest part of an idle
 * embedded process (measured: RSS 290 MB with 128MB, 154 MB with 8MB, for one opened database).
 */
export function pgliteStartParams(P: typeof PGlite, env: Record<string, string | undefined> = process.env): string[] {
  const setting = env.EWX_PGLITE_SHARED_BUFFERS ?? '16MB';
  if (!/^\d+(kB|MB|GB)$/.test(setting)) throw new Error(`EWX_PGLITE_SHARED_BUFFERS: expected a size such as 16MB (got ${JSON.stringify(setting)})`);
  return [...P.defaultStartParams, '-c', `shared_buffers=${setting}`];
}

/**
 * What a new folder gets before it is handed out (the embedded system: its five schemas), kept as a
 * second template beside the cluster template, named by a hash of `key`: the next new folder is
 * unpacked from it with nothing left to run. `key` must change whenever `run` would do otherwise.
 */
export interface PglitePreparation {
  readonly key: string;
  run(db: PGlite): Promise<void>;
}

/** The prepared template's file: beside the cluster template, named by the preparation's key. */
export function preparedTemplatePath(templatePath: string, key: string): string {
  return `${templatePath.replace(/\.tar$/, '')}-${createHash('sha256').update(key).digest('hex').slice(0, 16)}.tar`;
}

/** Writes `db`'s folder as the prepared template (after a checkpoint, nothing else running on it); a failure costs only the cache. */
async function savePrepared(db: PGlite, path: string): Promise<void> {
  // Not written (an unwritable cache folder) or not dumped: the next new folder is prepared again.
  await dumpTo(db, path).catch(() => undefined);
}

/**
 * Opens a PGlite database: an existing folder as it is, a new folder unpacked from the cluster
 * template (see pgliteTemplatePath) — or from the prepared template when `prepared` is given and it
 * exists (else the folder is prepared and the prepared template written) — and memory (`dataDir`
 * undefined) by initdb as before.
 */
export async function openPglite(dataDir?: string, env: Record<string, string | undefined> = process.env, prepared?: PglitePreparation): Promise<PGlite> {
  const { PGlite: P } = await import('@electric-sql/pglite');
  const startParams = pgliteStartParams(P, env);
  // Memory databases are not unpacked: one loaded from a tar keeps the process alive until it is
  // closed (PGlite 0.5.16), and many short-lived test databases are never closed.
  const fresh = dataDir !== undefined && !existsSync(join(dataDir, 'PG_VERSION'));
  const path = fresh ? pgliteTemplatePath(env) : undefined;
  if (path === undefined) return P.create(dataDir, { startParams });
  const preparedPath = prepared === undefined ? undefined : preparedTemplatePath(path, prepared.key);
  const unpack = (file: string): boolean => {
    try {
      return unpackTemplate(file, dataDir!);
    } catch {
      return false; // unreadable: the next way below
    }
  };
  if (preparedPath !== undefined && existsSync(preparedPath) && unpack(preparedPath)) return P.create(dataDir, { startParams });
  let template: Blob | undefined;
  let unpacked = false;
  try {
    if (!existsSync(path)) template = await makeTemplate(path);
    if (template === undefined) unpacked = unpack(path);
    if (!unpacked) template ??= new Blob([readFileSync(path)]);
  } catch {
    template = undefined; // no usable template: initdb, as without one
  }
  const db = await P.create(dataDir, unpacked || template === undefined ? { startParams } : { loadDataDir: template, startParams });
  if (prepared !== undefined && preparedPath !== undefined) {
    await prepared.run(db);
    await savePrepared(db, preparedPath);
  }
  return db;
}

/** The embedded adapter: PostgreSQL compiled to WebAssembly, in process; `dataDir` undefined = memory. */
export async function pgliteEventStore(category: string, db?: PGlite, dataDir?: string): Promise<EventStore> {
  const owns = db === undefined;
  const database = db ?? (await openPglite(dataDir));
  const sql = pgliteClient(database, owns);
  const schema = schemaFor(category);
  await migrate(sql, schema);
  // The plain row-per-parameter insert (see SqlStoreOptions.jsonRowsFrom).
  return sqlEventStore(sql, schema, { jsonRowsFrom: Number.POSITIVE_INFINITY });
}
