import { WrongExpectedVersionError } from '../errors.js';
import {
  START,
  decodePosition,
  parsePosition,
  type AppendResult,
  type EventData,
  type EventStore,
  type ExpectedVersion,
  type Json,
  type LogPosition,
  type LogReadOptions,
  type RecordedEvent,
  type RecordedEventText,
} from './types.js';
import type { SnapshotStore, StoredSnapshot } from '../snapshot.js';

/** What the PostgreSQL and PGlite adapters have in common: the same SQL over two drivers. */
export interface SqlClient {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
export interface SqlExecutor {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

interface Row {
  position: string | number | bigint;
  stream_id: string;
  version: number;
  type: string;
  data: Json;
  metadata: Json | null;
}

/** A SQL position is the identity column: one component ("42"; drivers give a decimal string or a number). */
const sqlPosition = (p: string | number | bigint): LogPosition => (typeof p === 'string' ? p : p.toString()) as LogPosition;

/** The identity value to read after: 0 for `START`; a position of another kind is refused. */
const afterIdentity = (p: LogPosition): bigint => {
  const c = decodePosition(p);
  if (c.length > 1) throw new Error(`event store: ${JSON.stringify(p)} is not a position of a SQL log (one integer)`);
  return c[0] ?? 0n;
};

const toEvent = (r: Row & { data_text?: string | null }): RecordedEventText => ({
  streamId: r.stream_id,
  version: Number(r.version),
  position: sqlPosition(r.position),
  type: r.type,
  data: r.data,
  ...(typeof r.data_text === 'string' ? { dataText: r.data_text } : {}),
  ...(r.metadata === null || r.metadata === undefined ? {} : { metadata: r.metadata }),
});

/** A stable 32-bit key for the log's advisory lock, so appends commit in position order. */
const lockKey = (schema: string): number => {
  let h = 0x811c9dc5;
  for (const c of schema) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
  return h | 0;
};

export const schemaFor = (category: string): string => {
  if (!/^[a-z][a-z0-9_]{0,40}$/.test(category)) {
    throw new Error(`event store category ${JSON.stringify(category)}: expected [a-z][a-z0-9_]*`);
  }
  return `ewx_${category}`;
};

export async function migrate(sql: SqlClient, schema: string): Promise<void> {
  // One statement at a time: PGlite's extended protocol takes one per call.
  await sql.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await sql.query(`CREATE TABLE IF NOT EXISTS ${schema}.events (
    position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id text NOT NULL,
    version integer NOT NULL,
    type text NOT NULL,
    data json NOT NULL,
    metadata json,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream_id, version))`);
  // A checkpoint is a serialised LogPosition (text). Logs created before positions were opaque
  // have a bigint column: its values ("42") are already the serialised form of SQL positions, so the
  // column changes type in place and every saved checkpoint resumes where it was.
  await sql.query(`CREATE TABLE IF NOT EXISTS ${schema}.checkpoints (
    name text PRIMARY KEY, position text NOT NULL)`);
  const col = await sql.query<{ data_type: string }>(
    `SELECT data_type FROM information_schema.columns
     WHERE table_schema = $1 AND table_name = 'checkpoints' AND column_name = 'position'`,
    [schema],
  );
  if (col.rows[0]?.data_type === 'bigint') {
    await sql.query(`ALTER TABLE ${schema}.checkpoints ALTER COLUMN position TYPE text USING position::text`);
  }
  // Snapshots of the service's folded state (snapshot.ts): the log position they reflect (an
  // identity value, as events.position) and the decider's version; the newest few are kept. The
  // serialised state is stored as base64 text: PGlite moves a bytea parameter ~25 times slower.
  await sql.query(`CREATE TABLE IF NOT EXISTS ${schema}.snapshots (
    position bigint NOT NULL, version text NOT NULL, events bigint NOT NULL, data text,
    taken_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (version, position), bytes bytea)`);
  // A snapshot is megabytes of base64 that PostgreSQL compresses when it stores it: with lz4 that
  // costs the server about a third of the CPU of the default pglz (measured: 9.1 MB, 67–70 ms vs
  // 193–213 ms), for a value 6 % larger. Only new values are compressed so; old ones read as before.
  // Where lz4 is not built in (PGlite) or the column cannot say (PostgreSQL < 14), left as it is.
  // Since binary snapshots (SqlStoreOptions.binarySnapshots): the state's bytes as they are, in
  // `bytes`, and `data` NULL; a snapshot written before has its base64 in `data` and reads as before.
  // A table created before that has no `bytes` and a NOT NULL `data`: altered once, checked first
  // so that a start of a migrated (or new) log takes no table lock.
  const bytesColumn = await sql.query(
    `SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'snapshots' AND column_name = 'bytes'`,
    [schema],
  );
  if (bytesColumn.rows.length === 0) {
    await sql.query(`ALTER TABLE ${schema}.snapshots ADD COLUMN IF NOT EXISTS bytes bytea`);
    await sql.query(`ALTER TABLE ${schema}.snapshots ALTER COLUMN data DROP NOT NULL`);
  }
  for (const column of ['data', 'bytes']) {
    try {
      const c = await sql.query<{ c: string }>(
        `SELECT attcompression::text AS c FROM pg_attribute WHERE attrelid = '${schema}.snapshots'::regclass AND attname = '${column}'`,
      );
      if (c.rows[0] !== undefined && c.rows[0].c !== 'l') await sql.query(`ALTER TABLE ${schema}.snapshots ALTER COLUMN ${column} SET COMPRESSION lz4`);
    } catch {
      // Not supported here: the default compression.
    }
  }
}

/**
 * `guard`: runs inside every append's transaction, after the log's lock and before the insert; a
 * throw aborts the append (nothing written). A partitioned writer checks its lease there (fencing).
 */
export interface SqlStoreOptions {
  readonly guard?: (tx: SqlExecutor) => Promise<void>;
  /**
   * Appends of at least this many events send their rows as one JSON parameter (default
   * {@link JSON_APPEND_MIN}); fewer, the plain row-per-parameter insert. PGlite keeps the plain form
   * (`Infinity`): its gain there was not shown (faster at 500 events, slower at 50, in one run each).
   */
  readonly jsonRowsFrom?: number;
  /**
   * Snapshots stored as their bytes (a bytea bound as a binary parameter) instead of base64 text
   * (PostgreSQL; PGlite keeps base64: it moves a bytea parameter ~25 times slower). Measured on a
   * 6 MB state: the server's CPU per snapshot about halved (no text to parse, a quarter fewer bytes
   * to compress and store), no base64 in the service (docs/scaling-history.md, section 4 item 4). Either
   * form is read whatever this says.
   */
  readonly binarySnapshots?: boolean;
}

/** Appends of at least this many events send their rows as one JSON parameter (PostgreSQL). */
export const JSON_APPEND_MIN = 8;

/** Escapes PostgreSQL's json functions refuse (a lone surrogate, NUL) though the json type stores them. */
const UNSAFE_IN_JSON_FUNCTIONS = /\\u(?:d[89a-f]|0000)/;

/** The events of one append from one JSON array parameter ($3), versions after $2. */
const insertJson = (schema: string): string =>
  `INSERT INTO ${schema}.events (stream_id, version, type, data, metadata)
   SELECT $1, $2::int + x.o::int, x.t, x.d, CASE WHEN json_typeof(x.m) = 'null' THEN NULL ELSE x.m END
   FROM ROWS FROM (unnest($3::text[]), json_array_elements($4::json), json_array_elements($5::json)) WITH ORDINALITY AS x(t, d, m, o)
   ORDER BY x.o`;

/** The same with five parameters per row. */
const insertRows = (schema: string, n: number): string =>
  `INSERT INTO ${schema}.events (stream_id, version, type, data, metadata) VALUES ${Array.from({ length: n }, (_, i) => {
    const b = i * 5;
    return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}::json, $${b + 5}::json)`;
  }).join(',')}`;
const rowParams = (streamId: string, actual: number, events: readonly EventData[]): unknown[] =>
  events.flatMap((e, i) => [streamId, actual + 1 + i, e.type, JSON.stringify(e.data), e.metadata === undefined ? null : JSON.stringify(e.metadata)]);

/** Snapshots kept per version: the newest and the one before (should the newest be unreadable). */
const SNAPSHOTS_KEPT = 2;

/**
 * A store whose events are in SQL tables (the PostgreSQL and PGlite adapters) offers its database to
 * projections: tables of their own in the log's schema, written in their own transactions (e.g.
 * voting's round listing, rebuilt from the log). KurrentDB has none: `sqlProjectionsOf` is undefined.
 */
export interface SqlProjections {
  /** The log's schema: a projection's tables are `${projectionSchema}.<name>`. */
  readonly projectionSchema: string;
  projectionTransaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  projectionQuery<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}
export const sqlProjectionsOf = (store: EventStore): SqlProjections | undefined => {
  const s = store as Partial<SqlProjections>;
  return typeof s.projectionTransaction === 'function' && typeof s.projectionQuery === 'function' && typeof s.projectionSchema === 'string'
    ? (s as SqlProjections)
    : undefined;
};

/**
 * Appends hold a transaction-scoped advisory lock per log: positions are then committed in
 * order, so a reader never skips a position that a slower transaction commits later.
 */
export function sqlEventStore(sql: SqlClient, schema: string, opts: SqlStoreOptions = {}): EventStore & SnapshotStore & SqlProjections {
  const waiters = new Set<() => void>();
  const key = lockKey(schema);
  return {
    projectionSchema: schema,
    projectionTransaction: (fn) => sql.transaction(fn),
    projectionQuery: (text, params) => sql.query(text, params),
    async append(streamId: string, events: readonly EventData[], expected: ExpectedVersion): Promise<AppendResult> {
      if (events.length === 0) throw new Error('append: no events');
      const result = await sql.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [key]);
        // A fenced log (a partition held under a lease): the check runs in the append's transaction.
        if (opts.guard) await opts.guard(tx);
        // Under the lock, the log's last position is the one just before this append's events.
        const cur = await tx.query<{ v: number | null; p: string | number | null }>(
          `SELECT (SELECT max(version) FROM ${schema}.events WHERE stream_id = $1) AS v,
                  (SELECT max(position) FROM ${schema}.events) AS p`,
          [streamId],
        );
        const preceding = cur.rows[0]?.p === null || cur.rows[0]?.p === undefined ? START : sqlPosition(cur.rows[0].p);
        const actual = cur.rows[0]?.v === null || cur.rows[0]?.v === undefined ? -1 : Number(cur.rows[0].v);
        if (expected !== 'any' && expected !== actual) throw new WrongExpectedVersionError(streamId, expected, actual);
        // A run of events (an inbox slice, a group commit of votes) travels as three array
        // parameters zipped (types; data; metadata, `null` for none), each serialised once instead
        // of 5 bound parameters per row, and only the range of positions comes back.
        // `json_array_elements` returns each element's text as written, so each stored
        // data/metadata is the same text as JSON.stringify of it alone. The plain row-per-parameter
        // insert stays for a few events (cheaper to plan, measured on PGlite), for an explicit null
        // metadata (stored as JSON null, which the array cannot tell from none), and for a run
        // whose JSON holds an escape PostgreSQL's json functions refuse though the json type
        // stores it (a lone surrogate, NUL).
        const json =
          events.length >= (opts.jsonRowsFrom ?? JSON_APPEND_MIN) && !events.some((e) => e.metadata === null)
            ? { data: JSON.stringify(events.map((e) => e.data)), metadata: JSON.stringify(events.map((e) => e.metadata ?? null)) }
            : undefined;
        let positions: LogPosition[];
        if (json === undefined || UNSAFE_IN_JSON_FUNCTIONS.test(json.data) || UNSAFE_IN_JSON_FUNCTIONS.test(json.metadata)) {
          const ins = await tx.query<{ position: string }>(`${insertRows(schema, events.length)} RETURNING position`, rowParams(streamId, actual, events));
          positions = ins.rows.map((x) => sqlPosition(x.position));
        } else {
          const ins = await tx.query<{ lo: string | number; hi: string | number; n: number; k: number }>(
            `WITH ins AS (${insertJson(schema)} RETURNING position, version)
             SELECT min(position) AS lo, max(position) AS hi, count(*)::int AS n, count(DISTINCT position - version)::int AS k FROM ins`,
            [streamId, actual, events.map((e) => e.type), json.data, json.metadata],
          );
          const r = ins.rows[0]!;
          if (r.n !== events.length) throw new Error(`append: ${r.n} rows inserted for ${events.length} events`);
          const lo = BigInt(r.lo);
          if (r.k === 1 && BigInt(r.hi) - lo === BigInt(events.length - 1)) {
            // Dense and in version order (the usual case under the lock): the positions are the range.
            positions = events.map((_, i) => (lo + BigInt(i)).toString() as LogPosition);
          } else {
            const back = await tx.query<{ position: string }>(`SELECT position FROM ${schema}.events WHERE stream_id = $1 AND version > $2 ORDER BY version`, [
              streamId,
              actual,
            ]);
            positions = back.rows.map((x) => sqlPosition(x.position));
          }
        }
        return { nextVersion: actual + events.length, lastPosition: positions[positions.length - 1]!, written: { preceding, positions } };
      });
      for (const w of [...waiters]) w();
      return result;
    },
    async readStream(streamId: string, fromVersion = 0, maxCount?: number): Promise<RecordedEvent[]> {
      const r = await sql.query<Row>(
        `SELECT position, stream_id, version, type, data, metadata FROM ${schema}.events
         WHERE stream_id = $1 AND version >= $2 ORDER BY version${maxCount === undefined ? '' : ' LIMIT $3'}`,
        maxCount === undefined ? [streamId, fromVersion] : [streamId, fromVersion, maxCount],
      );
      return r.rows.map(toEvent);
    },
    async readAll(after: LogPosition, limit: number, opts?: LogReadOptions): Promise<RecordedEvent[]> {
      const skip = opts?.withoutBodiesUnder;
      // dataAsText: the data's stored JSON text, not parsed by the driver (data_text; data then null).
      const data = opts?.dataAsText === true ? 'NULL::json AS data, data::text AS data_text' : 'data';
      const r = await sql.query<Row & { data_text?: string | null }>(
        skip === undefined
          ? `SELECT position, stream_id, version, type, ${data}, metadata FROM ${schema}.events
             WHERE position > $1 ORDER BY position LIMIT $2`
          : `SELECT position, stream_id, version, type,
               ${opts?.dataAsText === true ? 'NULL::json AS data, CASE WHEN starts_with(stream_id, $3) THEN NULL ELSE data::text END AS data_text' : 'CASE WHEN starts_with(stream_id, $3) THEN NULL ELSE data END AS data'},
               CASE WHEN starts_with(stream_id, $3) THEN NULL ELSE metadata END AS metadata
             FROM ${schema}.events WHERE position > $1 ORDER BY position LIMIT $2`,
        skip === undefined ? [afterIdentity(after).toString(), limit] : [afterIdentity(after).toString(), limit, skip],
      );
      return r.rows.map(toEvent);
    },
    async getCheckpoint(name: string): Promise<LogPosition> {
      const r = await sql.query<{ position: string }>(`SELECT position FROM ${schema}.checkpoints WHERE name = $1`, [name]);
      return r.rows.length === 0 ? START : parsePosition(String(r.rows[0]!.position));
    },
    async saveCheckpoint(name: string, position: LogPosition): Promise<void> {
      await sql.query(
        `INSERT INTO ${schema}.checkpoints (name, position) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position`,
        [name, parsePosition(position)],
      );
    },
    waitForAppend(ms: number): Promise<void> {
      return new Promise((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          waiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, ms);
        waiters.add(done);
      });
    },
    async saveSnapshot(snap: StoredSnapshot): Promise<void> {
      const at = afterIdentity(snap.position).toString();
      const bytes = Buffer.from(snap.data.buffer, snap.data.byteOffset, snap.data.byteLength);
      await sql.query(
        `INSERT INTO ${schema}.snapshots (position, version, events, data, bytes) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (version, position) DO UPDATE SET data = EXCLUDED.data, bytes = EXCLUDED.bytes, events = EXCLUDED.events, taken_at = now()`,
        opts.binarySnapshots ? [at, snap.version, snap.events, null, bytes] : [at, snap.version, snap.events, bytes.toString('base64'), null],
      );
      await sql.query(
        `DELETE FROM ${schema}.snapshots WHERE version = $1 AND position < (
           SELECT min(position) FROM (SELECT position FROM ${schema}.snapshots WHERE version = $1 ORDER BY position DESC LIMIT ${SNAPSHOTS_KEPT}) k)`,
        [snap.version],
      );
    },
    async loadSnapshot(version?: string): Promise<StoredSnapshot | undefined> {
      // Only a snapshot whose event is still in the log (a log rebuilt or cut shorter leaves none usable).
      const r = await sql.query<{ position: string | number; version: string; events: string | number; data: string | null; bytes: Uint8Array | null }>(
        `SELECT s.position, s.version, s.events, CASE WHEN $1::text IS NULL OR s.version = $1 THEN s.data END AS data,
                CASE WHEN $1::text IS NULL OR s.version = $1 THEN s.bytes END AS bytes
         FROM ${schema}.snapshots s
         WHERE ($1::text IS NULL OR s.version = $1) AND EXISTS (SELECT 1 FROM ${schema}.events e WHERE e.position = s.position)
         ORDER BY s.position DESC, s.taken_at DESC LIMIT 1`,
        [version ?? null],
      );
      const row = r.rows[0];
      if (row === undefined || (row.data === null && row.bytes === null)) return undefined;
      const data = row.bytes !== null ? row.bytes : Buffer.from(row.data!, 'base64');
      return { position: sqlPosition(row.position), version: row.version, events: Number(row.events), data };
    },
    close: () => sql.close(),
  };
}
