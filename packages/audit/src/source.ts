import { isAscii } from 'node:buffer';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Json } from '@ewx/platform';
import { SERVICES, type LogEvent, type ServiceName } from './types.js';

/**
 * Where the logs come from. Read-only: nothing is created or written (an auditor may hold a
 * read-only role). Each service's log is read in position order, in batches.
 */
export interface LogSource {
  readonly description: string;
  /** The services whose log exists here, in the order the audit reads them. */
  services(): Promise<ServiceName[]>;
  count(service: ServiceName): Promise<number>;
  read(service: ServiceName, batchSize?: number): AsyncIterable<LogEvent[]>;
  /** The newest snapshot the service stored of its state (by position), if the source keeps any. */
  snapshot?(service: ServiceName): Promise<SourceSnapshot | undefined>;
  close(): Promise<void>;
  /**
   * The partition logs of a service split into several (voting with VOTING_PARTITIONS > 1: schemas
   * `<service>_p<k>`), each as a source whose `service` log is that partition's; none if unsplit.
   */
  partitions?(service: ServiceName): Promise<{ partition: number; source: LogSource }[]>;
  /** How another thread opens the same logs on its own (an audit then replays logs side by side); absent: read in this thread only. */
  readonly reopen?: Reopen;
}

/** A source another thread can open again: a PostgreSQL database, or an export already checked against its manifest. */
export type Reopen =
  | { readonly kind: 'postgres'; readonly url: string; readonly namespace: string }
  | {
      readonly kind: 'file';
      readonly file: string;
      readonly manifest: import('./export.js').Manifest;
      readonly ranges: import('./export.js').Ranges;
    };

/** A snapshot as stored beside a SQL log (see @ewx/platform snapshot.ts). */
export interface SourceSnapshot {
  readonly position: bigint;
  readonly version: string;
  readonly events: number;
  readonly data: Uint8Array;
}

export const DEFAULT_BATCH = 10_000;

/** The schema of a service's log: `ewx_<namespace>_<service>` (`ewx_<service>` without a namespace), as the services name it. */
export const schemaOf = (namespace: string, service: ServiceName): string => `ewx_${namespace ? `${namespace}_` : ''}${service}`;

export function checkNamespace(namespace: string): string {
  if (!/^([a-z][a-z0-9_]{0,23})?$/.test(namespace)) throw new Error(`EWX_NAMESPACE: expected empty or [a-z][a-z0-9_]{0,23}, got ${JSON.stringify(namespace)}`);
  return namespace;
}

/** A row of a page: position (as text: a bigint), stream_id, version, type, data, metadata. */
type PageRow = [string, string, number, string, Json, Json | null];

const pageEvent = (service: ServiceName, r: PageRow): LogEvent => ({
  service,
  position: BigInt(r[0]),
  streamId: r[1],
  version: r[2],
  type: r[3],
  data: r[4],
  ...(r[5] === null || r[5] === undefined ? {} : { metadata: r[5] }),
});

type Query = <R>(text: string, params?: unknown[]) => Promise<R[]>;
/** The one text value a query gives (its first row's first column), or null; `after` and `limit` are the page's bounds. */
type PageQuery = (text: string, after: string, limit: number) => Promise<string | null>;

const PAGE_SQL = (schema: string, after: string, limit: string): string =>
  `SELECT json_agg(json_build_array(position::text, stream_id, version, type, data, metadata) ORDER BY position)::text AS page
     FROM (SELECT position, stream_id, version, type, data, metadata FROM ${schema}.events WHERE position > ${after} ORDER BY position LIMIT ${limit}) AS p`;

function sqlSource(
  description: string,
  namespace: string,
  query: Query,
  close: () => Promise<void>,
  reopen?: Reopen,
  pageQuery?: PageQuery,
  partitionOf?: { service: ServiceName; partition: number },
): LogSource {
  let present: ServiceName[] | undefined;
  const schema = (s: ServiceName): string => (partitionOf?.service === s ? `${schemaOf(namespace, s)}_p${partitionOf.partition}` : schemaOf(namespace, s));
  return {
    description,
    ...(reopen ? { reopen } : {}),
    async partitions(service) {
      if (partitionOf !== undefined) return [];
      const rows = await query<{ table_schema: string }>(
        `SELECT table_schema FROM information_schema.tables WHERE table_name = 'events' AND table_schema ~ $1`,
        [`^${schema(service)}_p[0-9]+$`],
      );
      return rows
        .map((r) => Number(r.table_schema.slice(schema(service).length + 2)))
        .sort((a, b) => a - b)
        .map((partition) => ({
          partition,
          source: sqlSource(`${description} (${service} partition ${partition})`, namespace, query, async () => undefined, undefined, pageQuery, {
            service,
            partition,
          }),
        }));
    },
    async services() {
      if (!present) {
        const rows = await query<{ table_schema: string }>(
          `SELECT table_schema FROM information_schema.tables WHERE table_name = 'events' AND table_schema = ANY($1)`,
          [SERVICES.map(schema)],
        );
        const found = new Set(rows.map((r) => r.table_schema));
        present = SERVICES.filter((s) => found.has(schema(s)));
      }
      return present;
    },
    async count(service) {
      const rows = await query<{ n: string | number }>(`SELECT count(*) AS n FROM ${schema(service)}.events`);
      return Number(rows[0]!.n);
    },
    async *read(service, batchSize = DEFAULT_BATCH) {
      // Keyset paging on the position column, as the services' own readAll does. Each page comes as
      // one JSON text (an array of [position, stream, version, type, data, metadata] rows) decoded
      // with one JSON.parse: per-row, per-column decoding in the driver cost more than the query.
      let after = '0';
      for (;;) {
        const page = pageQuery
          ? await pageQuery(PAGE_SQL(schema(service), '$1', '$2'), after, batchSize)
          : (await query<{ page: string | null }>(PAGE_SQL(schema(service), '$1', '$2'), [after, batchSize]))[0]?.page;
        if (!page) return;
        const batch = (JSON.parse(page) as PageRow[]).map((r) => pageEvent(service, r));
        after = batch[batch.length - 1]!.position.toString();
        yield batch;
        if (batch.length < batchSize) return;
      }
    },
    async snapshot(service) {
      const t = await query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [`${schema(service)}.snapshots`]);
      if (!t[0]?.t) return undefined;
      // Every column: a log written before binary snapshots has no `bytes` (its snapshots are base64 in `data`).
      const rows = await query<{ position: string | number; version: string; events: string | number; data: string | null; bytes?: Uint8Array | null }>(
        `SELECT * FROM ${schema(service)}.snapshots ORDER BY position DESC, taken_at DESC LIMIT 1`,
      );
      const r = rows[0];
      if (r === undefined) return undefined;
      const data = r.bytes !== undefined && r.bytes !== null ? Buffer.from(r.bytes) : Buffer.from(r.data ?? '', 'base64');
      return { position: BigInt(r.position), version: r.version, events: Number(r.events), data };
    },
    close,
  };
}

/** The standalone system's logs: one PostgreSQL database, a schema per service (DATABASE_URL, EWX_NAMESPACE). */
export function postgresSource(url: string, namespace = ''): LogSource {
  if (!/^postgres(ql)?:\/\//.test(url)) throw new Error(`DATABASE_URL: expected a postgres:// connection string, got ${JSON.stringify(url)}`);
  checkNamespace(namespace);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  const redacted = url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
  return sqlSource(
    `PostgreSQL ${redacted}${namespace ? ` (namespace ${namespace})` : ''}`,
    namespace,
    async (text, params) => (await pool.query(text, params)).rows,
    () => pool.end(),
    { kind: 'postgres', url, namespace },
  );
}

/**
 * The embedded system's logs: its data folder (DATA_DIR, the PGlite database in <dir>/pglite).
 * PGlite is one process's database: stop the embedded system first (or export its logs).
 */
export async function embeddedSource(dataDir: string, namespace = ''): Promise<LogSource> {
  const dir = resolve(dataDir);
  const dbDir = join(dir, 'pglite');
  if (!existsSync(dbDir)) throw new Error(`data folder ${dir}: no pglite database in it (expected ${dbDir}, written by the embedded system)`);
  checkNamespace(namespace);
  const db = await PGlite.create(dbDir);
  return sqlSource(
    `embedded data folder ${dir}${namespace ? ` (namespace ${namespace})` : ''}`,
    namespace,
    async <R>(text: string, params?: unknown[]) => (await db.query<R>(text, params)).rows,
    () => db.close(),
    undefined,
    (text, after, limit) =>
      db.runExclusive(async () => {
        // The answer's bytes as they come (copied out of the engine's memory), not through the driver's own message parser.
        const chunks: Uint8Array[] = [];
        await db.execProtocolRawStream(simpleQuery(bindPage(text, after, limit)), { syncToFs: false, onRawData: (c) => void chunks.push(c.slice()) });
        return pageText(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      }),
  );
}

/** A page query with its two bounds written in (both checked to be plain integers: nothing else reaches the text). */
export function bindPage(text: string, after: string, limit: number): string {
  if (!/^(0|[1-9][0-9]{0,19})$/.test(after) || !Number.isSafeInteger(limit) || limit < 1) throw new Error(`page bounds: ${after}, ${limit}`);
  return text.replace('$1', after).replace('$2', String(limit));
}

/**
 * UTF-8 bytes as text. All-ASCII bytes (the usual page: JSON escapes nothing else) are decoded as
 * Latin-1, which gives the same string for ASCII and is a plain copy; anything else as UTF-8.
 */
export function utf8(b: Buffer, start: number, end: number): string {
  const part = b.subarray(start, end);
  return isAscii(part) ? part.toString('latin1') : part.toString('utf8');
}

/** A PostgreSQL wire-protocol simple query ('Q'). */
export function simpleQuery(sql: string): Uint8Array {
  const body = Buffer.from(sql, 'utf8');
  const m = Buffer.alloc(1 + 4 + body.length + 1);
  m.write('Q', 0, 'latin1');
  m.writeInt32BE(4 + body.length + 1, 1);
  body.copy(m, 5);
  return m;
}

/**
 * The first column of the first row of a simple query's answer in raw wire-protocol bytes, as text
 * (null: no row, or SQL NULL). Read straight from the bytes (one UTF-8 decode of the value): the
 * driver's own parser copies every message and decodes through TextDecoder, which cost as much as
 * the query for pages of megabytes. An ErrorResponse is thrown with its message.
 */
export function pageText(raw: Uint8Array): string | null {
  const b = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  let value: string | null = null;
  let found = false;
  for (let at = 0; at + 5 <= b.length; ) {
    const kind = b[at]!;
    const len = b.readInt32BE(at + 1);
    const start = at + 5;
    const end = at + 1 + len;
    if (len < 4 || end > b.length) throw new Error('page: a truncated protocol message');
    if (kind === 0x45 /* E */) {
      const fields: Record<string, string> = {};
      for (let i = start; i < end && b[i] !== 0; ) {
        const code = String.fromCharCode(b[i]!);
        const z = b.indexOf(0, i + 1);
        fields[code] = b.toString('utf8', i + 1, z);
        i = z + 1;
      }
      throw new Error(fields.M ?? 'the database refused the page query');
    }
    if (kind === 0x44 /* D */ && !found) {
      found = true;
      if (b.readInt16BE(start) > 0) {
        const n = b.readInt32BE(start + 2);
        value = n < 0 ? null : utf8(b, start + 6, start + 6 + n);
      }
    }
    at = end;
  }
  return value;
}

/** Logs already in memory (tests, what-if copies). */
export function memorySource(logs: Partial<Record<ServiceName, readonly LogEvent[]>>, description = 'logs in memory'): LogSource {
  return {
    description,
    services: async () => SERVICES.filter((s) => logs[s] !== undefined),
    count: async (s) => logs[s]?.length ?? 0,
    async *read(s, batchSize = DEFAULT_BATCH) {
      const all = logs[s] ?? [];
      for (let i = 0; i < all.length; i += batchSize) yield all.slice(i, i + batchSize);
    },
    close: async () => undefined,
  };
}

/** Reads every log of a source into memory. */
export async function readAllLogs(source: LogSource): Promise<Partial<Record<ServiceName, LogEvent[]>>> {
  const out: Partial<Record<ServiceName, LogEvent[]>> = {};
  for (const s of await source.services()) {
    const all: LogEvent[] = [];
    for await (const b of source.read(s)) for (const e of b) all.push(e);
    out[s] = all;
  }
  return out;
}
