import { sqlProjectionsOf, type SqlExecutor, type SqlProjections } from './eventstore/sql.js';
import { comparePositions, START, type EventStore, type LogPosition, type RecordedEvent } from './eventstore/types.js';
import type { Logger } from './log.js';
import type { Runtime } from './runtime.js';

/**
 * A projection of a service's log kept beside its decision state (voting's round listing,
 * consensus's decided rounds): folded from the log on demand, up to a position at least. Queries
 * call `catchUp(runtime.position())` before they read it; decisions never read it (it may lag).
 */
export interface LogFold {
  /** Folds the log into the projection up to `position` at least (or to the log's end). */
  catchUp(position: LogPosition): Promise<void>;
}

/** Events read from the log per step of a fold. */
export const FOLD_BATCH = 5000;

/** `catchUp` calls one after another (a failed one does not stop the next). */
function serial(run: (position: LogPosition) => Promise<void>): LogFold {
  let chain: Promise<void> = Promise.resolve();
  return {
    catchUp(position) {
      const next = chain.then(() => run(position));
      chain = next.catch(() => undefined);
      return next;
    },
  };
}

/**
 * A projection in memory, folded from the whole log at its first use and then from where it
 * stopped: for a store without tables (KurrentDB). It grows with what `apply` keeps, beside the
 * decision state, never in a snapshot.
 */
export function memoryFold(store: EventStore, apply: (e: RecordedEvent) => void, batch = FOLD_BATCH): LogFold {
  let at: LogPosition = START;
  return serial(async (position) => {
    while (comparePositions(at, position) < 0) {
      const events = await store.readAll(at, batch);
      if (events.length === 0) break;
      for (const e of events) {
        apply(e);
        at = e.position;
      }
    }
  });
}

export interface SqlFoldSpec<M> {
  /** The mark's table (`<schema>.<name>_mark`): one row, `position text` (the log position folded) and M's columns. */
  readonly mark: string;
  /** Creates the projection's tables and its mark row (idempotent); run once per process before the first fold. */
  migrate(): Promise<void>;
  /**
   * Folds a run of events into the projection's tables in the fold's transaction (`mark`: the mark
   * row, locked); returns the new values of M's columns (the position is written by the fold).
   */
  apply(tx: SqlExecutor, events: readonly RecordedEvent[], mark: M & { position: string }): Promise<Partial<M>>;
}

/**
 * A projection as tables of the store: it folds the events after its mark and writes its rows and
 * the new mark in one transaction, so it is idempotent and rebuilt from the log by emptying both.
 * Several processes may fold it: each transaction locks the mark and does nothing if another moved
 * it first. `ready`: the migration, once (retried after a failure).
 */
export function sqlFold<M extends Record<string, unknown>>(
  store: EventStore,
  sql: SqlProjections,
  spec: SqlFoldSpec<M>,
  batch = FOLD_BATCH,
): LogFold & { ready(): Promise<void> } {
  let migrated: Promise<void> | undefined;
  let known: LogPosition = START;
  const ready = (): Promise<void> =>
    (migrated ??= spec.migrate().catch((e: unknown) => {
      migrated = undefined;
      throw e;
    }));
  /** Folds the events after the mark (one read): false at the end of the log. */
  const step = async (): Promise<boolean> => {
    const from = (await sql.projectionQuery<{ position: string }>(`SELECT position FROM ${spec.mark}`)).rows[0]!.position as LogPosition;
    known = from;
    const events = await store.readAll(from, batch);
    if (events.length === 0) return false;
    await sql.projectionTransaction(async (tx) => {
      const cur = (await tx.query<M & { position: string }>(`SELECT * FROM ${spec.mark} FOR UPDATE`)).rows[0]!;
      if (cur.position !== from) return; // another process folded from here first: read its mark again
      const set = Object.entries(await spec.apply(tx, events, cur));
      await tx.query(`UPDATE ${spec.mark} SET ${['position', ...set.map(([c]) => c)].map((c, i) => `${c} = $${i + 1}`).join(', ')}`, [
        events[events.length - 1]!.position,
        ...set.map(([, v]) => v),
      ]);
      known = events[events.length - 1]!.position;
    });
    return true;
  };
  const fold = serial(async (position) => {
    await ready();
    // Until the mark reaches `position`, or the end of the log.
    while (comparePositions(known, position) < 0 && (await step()));
  });
  return { catchUp: fold.catchUp, ready };
}

/**
 * Keeps a projection near the log's end in the background: at most `everyMs` after an event is
 * applied, it folds what is new, so a query folds only the last moments (not, after a quiet hour,
 * the whole hour). A failed fold is logged and tried again at the next event.
 */
export function followFold<S>(runtime: Runtime<S>, fold: LogFold, log: Logger, what: string, everyMs = 1000): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const off = runtime.onEvent(() => {
    if (timer || stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (stopped) return;
      running = fold
        .catchUp(runtime.position())
        .catch((e: unknown) => log.warn(`${what}: folding the log failed; retried at the next event`, { error: (e as Error).message }));
    }, everyMs);
    timer.unref();
  });
  return {
    async stop() {
      stopped = true;
      off();
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

/**
 * Creates a projection's mark `<table>_mark` if it does not exist: one row holding `position` (the log
 * position folded, '' at first) and the `extra` columns (name → [SQL type, first value]), e.g.
 * voting's listing keeps its last starting order (`{ seq: ['bigint', 0] }`).
 */
export async function createMark(sql: SqlProjections, table: string, extra: Readonly<Record<string, readonly [string, number]>> = {}): Promise<void> {
  const cols = Object.entries(extra);
  await sql.projectionQuery(
    `CREATE TABLE IF NOT EXISTS ${table}_mark (one boolean PRIMARY KEY DEFAULT true CHECK (one), position text NOT NULL${cols.map(([c, [type]]) => `, ${c} ${type} NOT NULL`).join('')})`,
  );
  await sql.projectionQuery(
    `INSERT INTO ${table}_mark (position${cols.map(([c]) => `, ${c}`).join('')}) VALUES (''${cols.map((_, i) => `, $${i + 1}`).join('')}) ON CONFLICT DO NOTHING`,
    cols.map(([, [, v]]) => v),
  );
}

/**
 * Empties a projection's table `<schema>.<table>` and resets its mark (`<table>_mark`, with `markReset`
 * as the SET clause): the next `catchUp` folds it again from the whole log. `migrate` first creates
 * them if they do not exist yet.
 */
export async function emptyProjection(
  sql: SqlProjections,
  table: string,
  migrate: (sql: SqlProjections) => Promise<void>,
  markReset = "position = ''",
): Promise<void> {
  await migrate(sql);
  const t = `${sql.projectionSchema}.${table}`;
  await sql.projectionTransaction(async (tx) => {
    await tx.query(`DELETE FROM ${t}`);
    await tx.query(`UPDATE ${t}_mark SET ${markReset}`);
  });
}

/**
 * One projection per store in a process, made on first use: `sql` where the store has SQL tables
 * (PostgreSQL, PGlite), `memory` otherwise (KurrentDB). The API and the background follower share it.
 */
export function perStore<P>(sql: (store: EventStore, sql: SqlProjections) => P, memory: (store: EventStore) => P): (store: EventStore) => P {
  const made = new WeakMap<EventStore, P>();
  return (store) => {
    let p = made.get(store);
    if (!p) {
      const projections = sqlProjectionsOf(store);
      p = projections ? sql(store, projections) : memory(store);
      made.set(store, p);
    }
    return p;
  };
}
