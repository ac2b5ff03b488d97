import { decodeConsensusLog } from '@ewx/contracts';
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
import { roundKey, solutionStream, type ArchivedRound } from '../domain/decider.js';

/**
 * Where a decided round's attestations, decision and result chain entry are in its solution's
 * stream (`solution:<id>`): what GetSettlement, GetVoteProof and GetResultChain read once the round
 * left the decision state. A projection of consensus's log, folded by the state's own rules
 * (`domain/evolve.ts`: `attested`, the chain's entries); no decision reads it.
 */
export interface DecidedRow {
  readonly solution: string;
  readonly roundId: string;
  /** Versions of its first AttestationRecorded and of the last of its attestations and decision in its solution's stream; -1: none there yet. */
  from: number;
  to: number;
  /** Its result chain entry: index and version of its ResultChained in the solution's stream; -1: none. */
  chainIndex: number;
  chainVersion: number;
}

const TYPES = new Set(['AttestationRecorded', 'RoundSettled', 'RoundUnresolved', 'ResultChained']);

/** The round an event of consensus's log changes in the projection, if any (cheap: most events are votes). */
function roundOf(e: RecordedEvent): { solution: string; roundId: string } | undefined {
  if (!TYPES.has(e.type)) return undefined;
  const d = e.data as { solution?: unknown; roundId?: unknown } | null;
  return typeof d?.solution === 'string' && typeof d.roundId === 'string' ? { solution: d.solution, roundId: d.roundId } : undefined;
}

/**
 * Folds one event into the rows (`rows`: the rows the event may change, loaded), as the state folds
 * `attested` and the result chain: returns the row it changed.
 */
export function foldDecided(rows: Map<string, DecidedRow>, e: RecordedEvent): DecidedRow | undefined {
  if (!roundOf(e)) return undefined;
  const ev = decodeConsensusLog(e);
  if (!ev) return undefined;
  const row = (solution: string, roundId: string): DecidedRow => {
    const key = roundKey(solution, roundId);
    let x = rows.get(key);
    if (!x) {
      x = { solution, roundId, from: -1, to: -1, chainIndex: -1, chainVersion: -1 };
      rows.set(key, x);
    }
    return x;
  };
  switch (ev.type) {
    case 'AttestationRecorded': {
      const d = ev.data;
      if (e.streamId !== solutionStream(d.solution)) return undefined;
      const x = row(d.solution, d.roundId);
      if (x.from < 0) x.from = e.version;
      x.to = Math.max(x.to, e.version);
      return x;
    }
    case 'RoundSettled':
    case 'RoundUnresolved': {
      const d = ev.data;
      const x = rows.get(roundKey(d.solution, d.roundId));
      // Its decision follows the attestation that tipped it: read back with its attestations.
      if (!x || x.from < 0 || e.streamId !== solutionStream(d.solution)) return undefined;
      x.to = Math.max(x.to, e.version);
      return x;
    }
    case 'ResultChained': {
      const d = ev.data;
      const x = row(d.solution, d.roundId);
      x.chainIndex = d.index;
      x.chainVersion = e.version;
      return x;
    }
    default:
      return undefined;
  }
}

/** Consensus's decided rounds as queries read them once they left the state. */
export interface DecidedRounds extends LogFold {
  /** Where a round's attestations and decision are in its solution's stream, or undefined (none there). */
  where(solution: string, roundId: string): Promise<ArchivedRound | undefined>;
  /** The versions of the solution's result chain entries `offset` … `offset + count − 1` in its stream. */
  chain(solution: string, offset: number, count: number): Promise<number[]>;
}

/**
 * The projection in memory, folded from the whole log at its first use and then from where it
 * stopped: for a store without tables (KurrentDB). Grows with the decided rounds (a row each, and a
 * version per chain entry), beside the decision state, never in a snapshot.
 */
export function memoryDecided(store: EventStore): DecidedRounds {
  const rows = new Map<string, DecidedRow>();
  const chains = new Map<string, number[]>();
  const fold = memoryFold(store, (e) => {
    const x = foldDecided(rows, e);
    if (x && e.type === 'ResultChained') {
      const c = chains.get(x.solution) ?? [];
      chains.set(x.solution, c);
      c.push(x.chainVersion);
    }
  });
  return {
    catchUp: fold.catchUp,
    async where(solution, roundId) {
      const x = rows.get(roundKey(solution, roundId));
      return x && x.from >= 0 ? [x.from, x.to] : undefined;
    },
    chain: async (solution, offset, count) => (chains.get(solution) ?? []).slice(offset, offset + count),
  };
}

interface SqlRow {
  solution: string;
  round_id: string;
  from_version: string | number;
  to_version: string | number;
  chain_index: string | number;
  chain_version: string | number;
}
const COLUMNS = 'solution, round_id, from_version, to_version, chain_index, chain_version';
const RECORD = 'solution text, round_id text, from_version bigint, to_version bigint, chain_index bigint, chain_version bigint';
const fromRow = (r: SqlRow): DecidedRow => ({
  solution: r.solution,
  roundId: r.round_id,
  from: Number(r.from_version),
  to: Number(r.to_version),
  chainIndex: Number(r.chain_index),
  chainVersion: Number(r.chain_version),
});
const toRow = (x: DecidedRow): SqlRow => ({
  solution: x.solution,
  round_id: x.roundId,
  from_version: x.from,
  to_version: x.to,
  chain_index: x.chainIndex,
  chain_version: x.chainVersion,
});

/** The projection's table and its mark (the log position folded), in the log's schema. */
export async function migrateDecided(sql: SqlProjections): Promise<void> {
  const t = `${sql.projectionSchema}.consensus_rounds`;
  await sql.projectionQuery(`CREATE TABLE IF NOT EXISTS ${t} (
    solution text NOT NULL, round_id text NOT NULL, from_version bigint NOT NULL, to_version bigint NOT NULL,
    chain_index bigint NOT NULL, chain_version bigint NOT NULL, PRIMARY KEY (solution, round_id))`);
  await sql.projectionQuery(`CREATE INDEX IF NOT EXISTS consensus_rounds_chain ON ${t} (solution, chain_index) WHERE chain_index >= 0`);
  await createMark(sql, t);
}

/**
 * The projection as a table of the store (`<schema>.consensus_rounds`, its mark
 * `<schema>.consensus_rounds_mark`): rows and mark written in one transaction (idempotent, several
 * folders take turns on the mark's lock), rebuilt from the log by emptying both (`rebuildDecided`).
 */
export function sqlDecided(store: EventStore, sql: SqlProjections): DecidedRounds {
  const t = `${sql.projectionSchema}.consensus_rounds`;
  const { catchUp, ready } = sqlFold<Record<string, never>>(store, sql, {
    mark: `${t}_mark`,
    migrate: () => migrateDecided(sql),
    async apply(tx, events) {
      const keys = new Map<string, { solution: string; round_id: string }>();
      for (const e of events) {
        const r = roundOf(e);
        if (r) keys.set(roundKey(r.solution, r.roundId), { solution: r.solution, round_id: r.roundId });
      }
      if (keys.size === 0) return {};
      const rows = new Map<string, DecidedRow>();
      const found = await tx.query<SqlRow>(
        `SELECT t.solution, t.round_id, t.from_version, t.to_version, t.chain_index, t.chain_version FROM ${t} t
         JOIN json_to_recordset($1::json) AS k(solution text, round_id text) USING (solution, round_id)`,
        [JSON.stringify([...keys.values()])],
      );
      for (const r of found.rows) rows.set(roundKey(r.solution, r.round_id), fromRow(r));
      const changed = new Map<string, DecidedRow>();
      for (const e of events) {
        const x = foldDecided(rows, e);
        if (x) changed.set(roundKey(x.solution, x.roundId), x);
      }
      if (changed.size > 0) {
        await tx.query(
          `INSERT INTO ${t} (${COLUMNS}) SELECT ${COLUMNS} FROM json_to_recordset($1::json) AS x(${RECORD})
           ON CONFLICT (solution, round_id) DO UPDATE SET from_version = EXCLUDED.from_version, to_version = EXCLUDED.to_version,
             chain_index = EXCLUDED.chain_index, chain_version = EXCLUDED.chain_version`,
          [JSON.stringify([...changed.values()].map(toRow))],
        );
      }
      return {};
    },
  });
  return {
    catchUp,
    async where(solution, roundId) {
      await ready();
      const r = await sql.projectionQuery<SqlRow>(`SELECT ${COLUMNS} FROM ${t} WHERE solution = $1 AND round_id = $2`, [solution, roundId]);
      const x = r.rows[0] && fromRow(r.rows[0]);
      return x && x.from >= 0 ? [x.from, x.to] : undefined;
    },
    async chain(solution, offset, count) {
      if (count <= 0) return [];
      await ready();
      const r = await sql.projectionQuery<{ chain_version: string | number }>(
        `SELECT chain_version FROM ${t} WHERE solution = $1 AND chain_index >= 0 ORDER BY chain_index OFFSET $2 LIMIT $3`,
        [solution, offset, count],
      );
      return r.rows.map((x) => Number(x.chain_version));
    },
  };
}

/** Empties the projection's table and its mark: the next `catchUp` folds it again from the whole log. */
export const rebuildDecided = (sql: SqlProjections): Promise<void> => emptyProjection(sql, 'consensus_rounds', migrateDecided);

/**
 * The decided rounds a store can hold: its table where it has SQL (PostgreSQL, PGlite), in memory
 * otherwise (KurrentDB). One per store in a process (the API and `followDecided` share it).
 */
export const decidedRounds: (store: EventStore) => DecidedRounds = perStore(sqlDecided, memoryDecided);

/** Keeps the projection near the log's end in the background (at most `everyMs` after an event). */
export const followDecided = <S>(runtime: Runtime<S>, decided: DecidedRounds, log: Logger, everyMs = 1000): { stop(): Promise<void> } =>
  followFold(runtime, decided, log, 'consensus decided rounds', everyMs);
