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

function sqlSource(
  description: string,
  namespace: string,
  query: Query,
  close: () => Promise<void>,
  reopen?: Reopen,
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
          source: sqlSource(`${description} (${service} partition ${partition})`, namespace, query, async () => undefined, undefined, { service, partition }),
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
        const rows = await query<{ page: string | null }>(
          `SELECT json_agg(json_build_array(position::text, stream_id, version, type, data, metadata) ORDER BY position)::text AS page
             FROM (SELECT position, stream_id, version, type, data, metadata FROM ${schema(service)}.events WHERE position > $1 ORDER BY position LIMIT $2) AS p`,
          [after, batchSize],
        );
        const page = rows[0]?.page;
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
      const rows = await query<{ position: string | number; version: string; events: string | number; data: string }>(
        `SELECT position, version, events, data FROM ${schema(service)}.snapshots ORDER BY position DESC, taken_at DESC LIMIT 1`,
      );
      const r = rows[0];
      return r === undefined ? undefined : { position: BigInt(r.position), version: r.version, events: Number(r.events), data: Buffer.from(r.data, 'base64') };
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
  );
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
