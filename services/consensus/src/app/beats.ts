import { sqlProjectionsOf, type EventStore, type SqlProjections } from '@ewx/platform';

/** One validator's beat: what its block clock does, as of its last beat. */
export interface BeatRow {
  /** Its place in the validator set (0 produces; k > 0 stands by). One row per place. */
  readonly place: number;
  /** Its address (for operators: which key holds the place). */
  readonly validator: string;
  /** Whether its clock records blocks (place 0 until its stop, or a standby that took over). */
  readonly producing: boolean;
  /** The height its clock counted (the recorded height for a standby). */
  readonly counted: number;
}

export interface BeatView {
  /** The rows whose beat has not expired (this validator's own, just written, included). */
  readonly live: readonly BeatRow[];
  /** The highest height any place ever wrote (live or not): where a new producer counts on from. */
  readonly counted: number;
}

/**
 * Validator liveness outside the log: each consensus process of a validator set beats about once a
 * block time (services/consensus/src/app/clock.ts), and a standby takes over when no lower place's
 * live row says it produces, instead of when blocks stop appearing in the log. Every time is the
 * store's (PostgreSQL's `now()`): the processes need no synchronised clocks.
 */
export interface ClockBeats {
  /** Writes this place's row (alive for `ttlMs` more) and answers the rows still alive, its own included. */
  beat(b: BeatRow, ttlMs: number): Promise<BeatView>;
  close(): Promise<void>;
}

interface SqlBeat {
  place: number;
  validator: string;
  producing: boolean;
  counted: string | number;
  live: boolean;
}

/**
 * Beats as a table of the log's schema, `<schema>.consensus_clock_beats` (one row per place, made at
 * the first beat): PostgreSQL and PGlite. A row's `counted` only grows (the highest its place wrote);
 * `expires_at` is `now()` + the TTL of its last beat. The table is not part of the log and never
 * exported: dropping it costs nothing but one beat's worth of take-over information.
 */
export function sqlClockBeats(sql: SqlProjections): ClockBeats {
  const t = `${sql.projectionSchema}.consensus_clock_beats`;
  let made: Promise<void> | undefined;
  const migrate = (): Promise<void> =>
    (made ??= sql
      .projectionQuery(
        `CREATE TABLE IF NOT EXISTS ${t} (
          place integer PRIMARY KEY, validator text NOT NULL, producing boolean NOT NULL, counted bigint NOT NULL, expires_at timestamptz NOT NULL)`,
      )
      .then(
        () => undefined,
        (e: unknown) => {
          made = undefined; // tried again at the next beat
          throw e;
        },
      ));
  return {
    async beat(b, ttlMs) {
      await migrate();
      // One statement: the upsert's row comes from RETURNING (the statement's scan of the table sees it as it was before).
      const r = await sql.projectionQuery<SqlBeat>(
        `WITH up AS (
           INSERT INTO ${t} AS t (place, validator, producing, counted, expires_at)
           VALUES ($1, $2, $3, $4, now() + $5 * interval '1 millisecond')
           ON CONFLICT (place) DO UPDATE SET validator = EXCLUDED.validator, producing = EXCLUDED.producing,
             counted = GREATEST(t.counted, EXCLUDED.counted), expires_at = EXCLUDED.expires_at
           RETURNING place, validator, producing, counted, true AS live)
         SELECT place, validator, producing, counted, expires_at > now() AS live FROM ${t} WHERE place <> $1
         UNION ALL SELECT place, validator, producing, counted, live FROM up`,
        [b.place, b.validator, b.producing, b.counted, Math.ceil(ttlMs)],
      );
      return viewOf(r.rows.map((x) => ({ place: Number(x.place), validator: x.validator, producing: x.producing, counted: Number(x.counted), live: x.live })));
    },
    close: async () => undefined,
  };
}

const viewOf = (rows: readonly (BeatRow & { live: boolean })[]): BeatView => ({
  live: rows
    .filter((r) => r.live)
    .map(({ place, validator, producing, counted }) => ({ place, validator, producing, counted }))
    .sort((a, b) => a.place - b.place),
  counted: rows.reduce((m, r) => Math.max(m, r.counted), 0),
});

/** Beats in memory (tests): `now` is the shared clock of the processes (milliseconds). */
export function memoryClockBeats(now: () => number = Date.now): ClockBeats & { rows(): (BeatRow & { expiresAt: number })[] } {
  const rows = new Map<number, BeatRow & { expiresAt: number }>();
  return {
    async beat(b, ttlMs) {
      const old = rows.get(b.place);
      rows.set(b.place, { ...b, counted: Math.max(b.counted, old?.counted ?? 0), expiresAt: now() + ttlMs });
      const t = now();
      return viewOf([...rows.values()].map((r) => ({ ...r, live: r.expiresAt > t })));
    },
    rows: () => [...rows.values()].map((r) => ({ ...r })),
    close: async () => undefined,
  };
}

/** The beats a store can hold: its table where it has SQL (PostgreSQL, PGlite); none on KurrentDB (the log is the liveness then). */
export function clockBeatsOf(store: EventStore): { beats: ClockBeats; schema: string } | undefined {
  const sql = sqlProjectionsOf(store);
  return sql ? { beats: sqlClockBeats(sql), schema: sql.projectionSchema } : undefined;
}
