import type { PGlite } from '@electric-sql/pglite';
import { openPglite } from '../eventstore/pglite.js';
import pg from 'pg';
import { WrongExpectedVersionError } from '../errors.js';
import { pgliteClient } from '../eventstore/pglite.js';
import { pgClient } from '../eventstore/postgres.js';
import type { SqlClient } from '../eventstore/sql.js';
import {
  START,
  decodePosition,
  encodePosition,
  parsePosition,
  type AppendResult,
  type EventData,
  type EventStore,
  type ExpectedVersion,
  type Json,
  type LogPosition,
  type RecordedEvent,
} from '../eventstore/types.js';

/**
 * A TEST adapter, over PostgreSQL (or PGlite), whose positions are sparse pairs shaped like
 * KurrentDB's (commit, prepare): every event of one append shares its commit part, the prepare part
 * restarts in each append, and neither is dense (commit = 7·a + 90 for the a-th append, from 13;
 * prepare = 3·k + 8 for the k-th event of the append). Neither component is unique, and both cross a
 * digit boundary early ("105/8" follows "98/11"), so code that computes, assumes density or
 * compares serialised positions as text breaks on it. It exists to prove the code above the port
 * (runtime, relay, inbox, subscriptions, checkpoints); it does not stand in for KurrentDB.
 *
 * `reportWritten: false` leaves `AppendResult.written` out, as the KurrentDB adapter does, so the
 * runtime reads its own appends back.
 */
export interface PairStoreOptions {
  readonly reportWritten?: boolean;
}

interface Row {
  commit_pos: string | number | bigint;
  prepare_pos: string | number | bigint;
  stream_id: string;
  version: number;
  type: string;
  data: Json;
  metadata: Json | null;
}

const pairOf = (commit: string | number | bigint, prepare: string | number | bigint): LogPosition => encodePosition([BigInt(commit), BigInt(prepare)]);

const toEvent = (r: Row): RecordedEvent => ({
  streamId: r.stream_id,
  version: Number(r.version),
  position: pairOf(r.commit_pos, r.prepare_pos),
  type: r.type,
  data: r.data,
  ...(r.metadata === null || r.metadata === undefined ? {} : { metadata: r.metadata }),
});

const lockKey = (schema: string): number => {
  let h = 0x01000193;
  for (const c of schema) h = Math.imul(h ^ c.charCodeAt(0), 0x811c9dc5);
  return h | 0;
};

export async function pairEventStore(sql: SqlClient, category: string, options: PairStoreOptions = {}): Promise<EventStore> {
  if (!/^[a-z][a-z0-9_]{0,40}$/.test(category)) throw new Error(`pair store category ${JSON.stringify(category)}: expected [a-z][a-z0-9_]*`);
  const schema = `ewxpair_${category}`;
  const key = lockKey(schema);
  const waiters = new Set<() => void>();
  await sql.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await sql.query(`CREATE SEQUENCE IF NOT EXISTS ${schema}.appends START WITH 13`);
  await sql.query(`CREATE TABLE IF NOT EXISTS ${schema}.events (
    commit_pos bigint NOT NULL, prepare_pos bigint NOT NULL,
    stream_id text NOT NULL, version integer NOT NULL, type text NOT NULL, data json NOT NULL, metadata json,
    PRIMARY KEY (commit_pos, prepare_pos), UNIQUE (stream_id, version))`);
  await sql.query(`CREATE TABLE IF NOT EXISTS ${schema}.checkpoints (name text PRIMARY KEY, position text NOT NULL)`);
  const pair = (p: LogPosition): [string, string] => {
    const c = decodePosition(p);
    if (p === START) return ['-1', '-1'];
    if (c.length !== 2) throw new Error(`pair store: ${JSON.stringify(p)} is not a (commit/prepare) position`);
    return [c[0]!.toString(), c[1]!.toString()];
  };
  const columns = 'commit_pos, prepare_pos, stream_id, version, type, data, metadata';
  return {
    async append(streamId: string, events: readonly EventData[], expected: ExpectedVersion): Promise<AppendResult> {
      if (events.length === 0) throw new Error('append: no events');
      const result = await sql.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [key]);
        const cur = await tx.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${schema}.events WHERE stream_id = $1`, [streamId]);
        const actual = cur.rows[0]?.v === null || cur.rows[0]?.v === undefined ? -1 : Number(cur.rows[0].v);
        if (expected !== 'any' && expected !== actual) throw new WrongExpectedVersionError(streamId, expected, actual);
        const last = await tx.query<{ commit_pos: string; prepare_pos: string }>(
          `SELECT commit_pos, prepare_pos FROM ${schema}.events ORDER BY commit_pos DESC, prepare_pos DESC LIMIT 1`,
        );
        const preceding = last.rows[0] ? pairOf(last.rows[0].commit_pos, last.rows[0].prepare_pos) : START;
        const a = await tx.query<{ a: string }>(`SELECT nextval('${schema}.appends') AS a`);
        const commit = 7n * BigInt(a.rows[0]!.a) + 90n;
        const positions: LogPosition[] = [];
        const params: unknown[] = [];
        const values = events.map((e, k) => {
          const prepare = 3n * BigInt(k) + 8n;
          positions.push(encodePosition([commit, prepare]));
          params.push(
            commit.toString(),
            prepare.toString(),
            streamId,
            actual + 1 + k,
            e.type,
            JSON.stringify(e.data),
            e.metadata === undefined ? null : JSON.stringify(e.metadata),
          );
          const b = k * 7;
          return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}::json, $${b + 7}::json)`;
        });
        await tx.query(`INSERT INTO ${schema}.events (${columns}) VALUES ${values.join(',')}`, params);
        return {
          nextVersion: actual + events.length,
          lastPosition: positions[positions.length - 1]!,
          ...(options.reportWritten === false ? {} : { written: { preceding, positions } }),
        };
      });
      for (const w of [...waiters]) w();
      return result;
    },
    async readStream(streamId: string, fromVersion = 0, maxCount?: number): Promise<RecordedEvent[]> {
      const r = await sql.query<Row>(
        `SELECT ${columns} FROM ${schema}.events WHERE stream_id = $1 AND version >= $2 ORDER BY version${maxCount === undefined ? '' : ' LIMIT $3'}`,
        maxCount === undefined ? [streamId, fromVersion] : [streamId, fromVersion, maxCount],
      );
      return r.rows.map(toEvent);
    },
    async readAll(after: LogPosition, limit: number): Promise<RecordedEvent[]> {
      const [c, p] = pair(after);
      const r = await sql.query<Row>(
        `SELECT ${columns} FROM ${schema}.events WHERE (commit_pos, prepare_pos) > ($1::bigint, $2::bigint)
         ORDER BY commit_pos, prepare_pos LIMIT $3`,
        [c, p, limit],
      );
      return r.rows.map(toEvent);
    },
    async getCheckpoint(name: string): Promise<LogPosition> {
      const r = await sql.query<{ position: string }>(`SELECT position FROM ${schema}.checkpoints WHERE name = $1`, [name]);
      return r.rows.length === 0 ? START : parsePosition(r.rows[0]!.position);
    },
    async saveCheckpoint(name: string, position: LogPosition): Promise<void> {
      pair(position);
      await sql.query(
        `INSERT INTO ${schema}.checkpoints (name, position) VALUES ($1, $2)
        ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position`,
        [name, position],
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
    close: () => sql.close(),
  };
}

/** The pair store over PostgreSQL (`url`), one pool per store. */
export function postgresPairEventStore(url: string, category: string, options?: PairStoreOptions): Promise<EventStore> {
  const pool = new pg.Pool({ connectionString: url, max: 3 });
  pool.on('error', () => undefined);
  return pairEventStore(pgClient(pool), category, options);
}

/** The pair store over PGlite: a shared database (not closed by the store) or a new in-memory one. */
export async function pglitePairEventStore(category: string, db?: PGlite, options?: PairStoreOptions): Promise<EventStore> {
  return pairEventStore(pgliteClient(db ?? (await openPglite()), db === undefined), category, options);
}
