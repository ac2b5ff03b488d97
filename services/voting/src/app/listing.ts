import { decodeVotingLog } from '@ewx/contracts';
import {
  createMark,
  emptyProjection,
  followFold,
  memoryFold,
  sqlFold,
  perStore,
  type EventStore,
  type LogFold,
  type Logger,
  type RecordedEvent,
  type Runtime,
  type SqlProjections,
} from '@ewx/platform';
import { RETRY_SUFFIX, roundKey, settlementStream, type ClosedRound, type RoundStatus } from '../domain/decider.js';

/**
 * One round in its solution's listing: what ListRounds filters and pages on, and what GetRound and
 * ListRounds show of a round that left the state besides its `RoundStarted` and its settlement
 * (read back from the log, `archive.ts`). The same fields, folded by the same rules, as the state's
 * round (`domain/evolve.ts`) — a round `retired` here is one that left `rounds` there.
 */
export interface ListingEntry {
  readonly solution: string;
  readonly roundId: string;
  /** Starting order, over all solutions: 1, 2, … in log order. */
  seq: number;
  status: RoundStatus;
  alerted: boolean;
  endBlock: number;
  /** Votes recorded while it was Active (the state's `submitted` once it closed). */
  submitted: number;
  /** Its settlement's version in `settlementStream(solution)`; -1 before it, -2 recorded in another stream. */
  settledAt: number;
  retryOnce: boolean;
  /** Unresolved with its RETRY_ONCE policy owed (the state's `retryPending`). */
  pending: boolean;
  retried: boolean;
  /** Left the state's `rounds` (settled, or unresolved with nothing owed). */
  retired: boolean;
}

/** A finished round as GetRound reads it back (`archive.ts`). */
export const closedOf = (x: ListingEntry): ClosedRound => ({
  solution: x.solution,
  roundId: x.roundId,
  status: x.status === 'SETTLED' ? 'SETTLED' : 'UNRESOLVED',
  alerted: x.alerted,
  endBlock: x.endBlock,
  submitted: x.submitted,
  settledIn: settlementStream(x.solution),
  settledAt: x.settledAt,
});

/** The rounds of one solution in starting order, filtered and paged (ListRounds). */
export interface RoundListing extends LogFold {
  get(solution: string, roundId: string): Promise<ListingEntry | undefined>;
  /** The solution's rounds of `status` (all: undefined) in starting order, those after `seq` `after` (0: from the first), at most `size`; `more`: rounds after them. */
  page(solution: string, status: RoundStatus | undefined, after: number, size: number): Promise<{ entries: ListingEntry[]; more: boolean }>;
}

/** The round an event of voting's log changes in the listing, if any. */
function roundOf(e: RecordedEvent): { solution: string; roundId: string } | undefined {
  switch (e.type) {
    case 'RoundStarted':
    case 'VoteCast':
    case 'VotesCast':
    case 'RoundClosed':
    case 'RoundSettled':
    case 'RoundUnresolved':
    case 'RoundAlert': {
      const d = e.data as { solution?: unknown; roundId?: unknown } | null;
      return typeof d?.solution === 'string' && typeof d.roundId === 'string' ? { solution: d.solution, roundId: d.roundId } : undefined;
    }
    default:
      return undefined;
  }
}

/** Keys of the rounds a run of events changes: a round and, for a retry's start, the round it retries. */
function keysOf(events: readonly RecordedEvent[]): Map<string, { solution: string; roundId: string }> {
  const out = new Map<string, { solution: string; roundId: string }>();
  for (const e of events) {
    const r = roundOf(e);
    if (!r) continue;
    out.set(roundKey(r.solution, r.roundId), r);
    if (e.type === 'RoundStarted' && r.roundId.endsWith(RETRY_SUFFIX)) {
      const original = r.roundId.slice(0, -RETRY_SUFFIX.length);
      out.set(roundKey(r.solution, original), { solution: r.solution, roundId: original });
    }
    const retryOf = (e.data as { retryOf?: unknown } | null)?.retryOf;
    if (e.type === 'RoundStarted' && typeof retryOf === 'string') out.set(roundKey(r.solution, retryOf), { solution: r.solution, roundId: retryOf });
  }
  return out;
}

/** The state's `retire`: a round that is done leaves. */
function retire(x: ListingEntry | undefined): void {
  if (x && !x.retired && (x.status === 'SETTLED' || x.status === 'UNRESOLVED') && !x.pending && x.settledAt >= 0) x.retired = true;
}

/**
 * Folds one event into the listing's entries (`rows`: the entries the event may change, loaded),
 * by the state's rules (`domain/evolve.ts`, `evolve`): returns the entries it changed. `next`: the
 * next starting order.
 */
export function foldListing(rows: Map<string, ListingEntry>, e: RecordedEvent, next: () => number): ListingEntry[] {
  const ev = decodeVotingLog(e);
  if (!ev) return [];
  switch (ev.type) {
    case 'RoundStarted': {
      const d = ev.data;
      const x: ListingEntry = {
        solution: d.solution,
        roundId: d.roundId,
        seq: next(),
        status: 'ACTIVE',
        alerted: false,
        endBlock: d.endBlock,
        submitted: 0,
        settledAt: -1,
        retryOnce: d.unresolvedPolicy === 'RETRY_ONCE',
        pending: false,
        retried: false,
        retired: false,
      };
      rows.set(roundKey(d.solution, d.roundId), x);
      const changed = [x];
      if (d.roundId.endsWith(RETRY_SUFFIX)) {
        const o = rows.get(roundKey(d.solution, d.roundId.slice(0, -RETRY_SUFFIX.length)));
        if (o && !o.retired) {
          o.retried = true;
          changed.push(o);
        }
      }
      if (d.retryOf !== undefined) {
        const o = rows.get(roundKey(d.solution, d.retryOf));
        if (o && !o.retired) {
          o.pending = false;
          retire(o);
          changed.push(o);
        }
      }
      return changed;
    }
    case 'VoteCast': {
      const x = rows.get(roundKey(ev.data.solution, ev.data.roundId));
      if (!x || x.retired || x.status !== 'ACTIVE') return [];
      x.submitted++;
      return [x];
    }
    case 'VotesCast': {
      const x = rows.get(roundKey(ev.data.solution, ev.data.roundId));
      if (!x || x.retired || x.status !== 'ACTIVE') return [];
      x.submitted += ev.data.votes.length;
      return [x];
    }
    case 'RoundClosed': {
      const x = rows.get(roundKey(ev.data.solution, ev.data.roundId));
      if (!x || x.retired || x.status !== 'ACTIVE') return [];
      x.status = 'OFF_CHAIN_VOTE';
      return [x];
    }
    case 'RoundSettled':
    case 'RoundUnresolved': {
      const x = rows.get(roundKey(ev.data.solution, ev.data.roundId));
      if (!x || x.retired) return [];
      x.status = ev.type === 'RoundSettled' ? 'SETTLED' : 'UNRESOLVED';
      x.settledAt = e.streamId === settlementStream(x.solution) ? e.version : -2;
      if (ev.type === 'RoundUnresolved' && x.retryOnce && !x.alerted) x.pending = true;
      retire(x);
      return [x];
    }
    case 'RoundAlert': {
      const x = rows.get(roundKey(ev.data.solution, ev.data.roundId));
      if (!x || x.retired) return [];
      x.alerted = true;
      x.pending = false;
      retire(x);
      return [x];
    }
    default:
      return [];
  }
}

/** Finished rounds' entries kept by the SQL listing (GetRound of a finished round asks for one). */
const KEPT_ENTRIES = 1000;

/**
 * The listing in memory, folded from the whole log at its first use and then from where it stopped:
 * for a store without tables (KurrentDB). Grows with the rounds (≈ 0.2 KB each), beside the
 * decision state, never in a snapshot.
 */
export function memoryListing(store: EventStore): RoundListing {
  const rows = new Map<string, ListingEntry>();
  const bySolution = new Map<string, ListingEntry[]>();
  let seq = 0;
  const fold = memoryFold(store, (e) => {
    const r = e.type === 'RoundStarted' ? roundOf(e) : undefined;
    const before = r && rows.get(roundKey(r.solution, r.roundId));
    for (const x of foldListing(rows, e, () => ++seq)) {
      if (e.type !== 'RoundStarted' || x.roundId !== (e.data as { roundId: string }).roundId) continue;
      const l = bySolution.get(x.solution) ?? [];
      bySolution.set(x.solution, l);
      // A round started again (a log the store let through): at its new place only.
      if (before) l.splice(l.indexOf(before), 1);
      l.push(x);
    }
  });
  return {
    catchUp: fold.catchUp,
    get: async (solution, roundId) => rows.get(roundKey(solution, roundId)),
    async page(solution, status, after, size) {
      const all = (bySolution.get(solution) ?? []).filter((x) => x.seq > after && (status === undefined || x.status === status));
      return { entries: all.slice(0, size), more: size < all.length };
    },
  };
}

interface SqlRow {
  solution: string;
  round_id: string;
  seq: string | number;
  status: RoundStatus;
  alerted: boolean;
  end_block: string | number;
  submitted: number;
  settled_at: number;
  retry_once: boolean;
  pending: boolean;
  retried: boolean;
  retired: boolean;
}
const COLUMNS = 'solution, round_id, seq, status, alerted, end_block, submitted, settled_at, retry_once, pending, retried, retired';
const RECORD = `solution text, round_id text, seq bigint, status text, alerted boolean, end_block bigint, submitted integer,
  settled_at integer, retry_once boolean, pending boolean, retried boolean, retired boolean`;
const fromRow = (r: SqlRow): ListingEntry => ({
  solution: r.solution,
  roundId: r.round_id,
  seq: Number(r.seq),
  status: r.status,
  alerted: r.alerted,
  endBlock: Number(r.end_block),
  submitted: r.submitted,
  settledAt: r.settled_at,
  retryOnce: r.retry_once,
  pending: r.pending,
  retried: r.retried,
  retired: r.retired,
});
const toRow = (x: ListingEntry): SqlRow => ({
  solution: x.solution,
  round_id: x.roundId,
  seq: x.seq,
  status: x.status,
  alerted: x.alerted,
  end_block: x.endBlock,
  submitted: x.submitted,
  settled_at: x.settledAt,
  retry_once: x.retryOnce,
  pending: x.pending,
  retried: x.retried,
  retired: x.retired,
});

/** The listing's table and its mark (the log position folded, the last starting order), in the log's schema. */
export async function migrateListing(sql: SqlProjections): Promise<void> {
  const t = `${sql.projectionSchema}.voting_rounds`;
  await sql.projectionQuery(`CREATE TABLE IF NOT EXISTS ${t} (
    solution text NOT NULL, round_id text NOT NULL, seq bigint NOT NULL, status text NOT NULL, alerted boolean NOT NULL,
    end_block bigint NOT NULL, submitted integer NOT NULL, settled_at integer NOT NULL, retry_once boolean NOT NULL,
    pending boolean NOT NULL, retried boolean NOT NULL, retired boolean NOT NULL, PRIMARY KEY (solution, round_id))`);
  await sql.projectionQuery(`CREATE INDEX IF NOT EXISTS voting_rounds_order ON ${t} (solution, seq)`);
  await sql.projectionQuery(`CREATE INDEX IF NOT EXISTS voting_rounds_state ON ${t} (solution, status, seq)`);
  await createMark(sql, t, { seq: ['bigint', 0] });
}

/**
 * The listing as a table of the store (`<schema>.voting_rounds`), a projection of voting's log: it
 * folds the events after its mark (`<schema>.voting_rounds_mark`: the log position folded and the
 * last starting order) and writes the rounds they changed and the new mark in one transaction, so
 * it is idempotent and rebuilt from the log by emptying both (`rebuildListing`). Several processes
 * may fold it: each transaction locks the mark and does nothing if another moved it first. It is
 * folded before a query up to the position the state applied (`catchUp`; it may fold a little past
 * it, events committed and not applied yet: a page then lists by those), and in the background
 * (`followListing`).
 */
export function sqlListing(store: EventStore, sql: SqlProjections): RoundListing {
  const t = `${sql.projectionSchema}.voting_rounds`;
  const finished = new Map<string, ListingEntry>();
  const { catchUp, ready } = sqlFold<{ seq: string | number }>(store, sql, {
    mark: `${t}_mark`,
    migrate: () => migrateListing(sql),
    async apply(tx, events, cur) {
      const keys = [...keysOf(events).values()];
      const rows = new Map<string, ListingEntry>();
      if (keys.length > 0) {
        const found = await tx.query<SqlRow>(
          `SELECT ${COLUMNS.split(', ')
            .map((c) => `t.${c}`)
            .join(', ')} FROM ${t} t
           JOIN json_to_recordset($1::json) AS k(solution text, round_id text) USING (solution, round_id)`,
          [JSON.stringify(keys.map((k) => ({ solution: k.solution, round_id: k.roundId })))],
        );
        for (const r of found.rows) rows.set(roundKey(r.solution, r.round_id), fromRow(r));
      }
      let seq = Number(cur.seq);
      const changed = new Map<string, ListingEntry>();
      for (const e of events) for (const x of foldListing(rows, e, () => ++seq)) changed.set(roundKey(x.solution, x.roundId), x);
      if (changed.size > 0) {
        await tx.query(
          `INSERT INTO ${t} (${COLUMNS}) SELECT ${COLUMNS} FROM json_to_recordset($1::json) AS x(${RECORD})
           ON CONFLICT (solution, round_id) DO UPDATE SET ${COLUMNS.split(', ')
             .slice(2)
             .map((c) => `${c} = EXCLUDED.${c}`)
             .join(', ')}`,
          [JSON.stringify([...changed.values()].map(toRow))],
        );
      }
      return { seq };
    },
  });
  return {
    catchUp,
    async get(solution, roundId) {
      const key = roundKey(solution, roundId);
      const hit = finished.get(key);
      if (hit) return hit;
      await ready();
      const r = await sql.projectionQuery<SqlRow>(`SELECT ${COLUMNS} FROM ${t} WHERE solution = $1 AND round_id = $2`, [solution, roundId]);
      const x = r.rows[0] && fromRow(r.rows[0]);
      // A finished round's entry never changes: the last few kept.
      if (x?.retired) {
        finished.set(key, x);
        if (finished.size > KEPT_ENTRIES) finished.delete(finished.keys().next().value!);
      }
      return x;
    },
    async page(solution, status, after, size) {
      await ready();
      const r = await sql.projectionQuery<SqlRow>(
        `SELECT ${COLUMNS} FROM ${t} WHERE solution = $1 AND ($2::text IS NULL OR status = $2) AND seq > $3 ORDER BY seq LIMIT $4`,
        [solution, status ?? null, after, size + 1],
      );
      return { entries: r.rows.slice(0, size).map(fromRow), more: r.rows.length > size };
    },
  };
}

/** Empties the listing table and its mark: the next `catchUp` folds it again from the whole log. */
export const rebuildListing = (sql: SqlProjections): Promise<void> => emptyProjection(sql, 'voting_rounds', migrateListing, "position = '', seq = 0");

/**
 * The listing a store can hold: its table where it has SQL (PostgreSQL, PGlite), in memory otherwise
 * (KurrentDB). One per store in a process (the API and `followListing` share it).
 */
export const roundListing: (store: EventStore) => RoundListing = perStore(sqlListing, memoryListing);

/**
 * Keeps the listing near the log's end in the background: at most `everyMs` after an event is
 * applied, it folds what is new, so a query folds only the last moments (not, after a quiet hour of
 * votes, the whole hour). A failed fold is logged and tried again at the next event.
 */
export function followListing<S>(runtime: Runtime<S>, listing: RoundListing, log: Logger, everyMs = 1000): { stop(): Promise<void> } {
  return followFold(runtime, listing, log, 'voting listing', everyMs);
}
