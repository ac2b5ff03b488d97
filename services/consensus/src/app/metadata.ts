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
  type Runtime,
  type SqlProjections,
} from '@ewx/platform';
import { foldVoteMetadata, metadataKey, type OperatorVoteMetadata, type VoteCounts } from '../domain/decider.js';

/** One operator's counts in a group's reward period, as GetVoteMetadata answers them. */
export type OperatorCounts = [operator: string, counts: OperatorVoteMetadata];

const byOperator = (rows: OperatorCounts[]): OperatorCounts[] => rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

/**
 * Consensus's vote metadata: per group, reward period and operator, the eligible rounds and correct
 * votes of its settled rounds (`foldVoteMetadata` over the VoteMetadata events of its log). A
 * projection of the log kept out of the decision state (it grows with every reward period); only
 * GetVoteMetadata reads it, no decision.
 */
export interface VoteMetadataRows extends LogFold {
  /** The operators counted in the group's period (only `operator`'s row if it is not ''), sorted by operator. */
  period(group: string, period: number, operator: string): Promise<OperatorCounts[]>;
}

/**
 * The projection in memory, folded from the whole log at its first use and then from where it
 * stopped: for a store without tables (KurrentDB). Grows with the periods, beside the decision
 * state, never in a snapshot.
 */
export function memoryVoteMetadata(store: EventStore): VoteMetadataRows {
  const counts: VoteCounts = new Map();
  const fold = memoryFold(store, (e) => void foldVoteMetadata(counts, e));
  return {
    catchUp: fold.catchUp,
    async period(group, period, operator) {
      const m = counts.get(metadataKey(group, period));
      if (!m) return [];
      const rows = [...m].filter(([op]) => operator === '' || op === operator).map(([op, c]): OperatorCounts => [op, { ...c }]);
      return byOperator(rows);
    },
  };
}

interface SqlRow {
  group_name: string;
  period: string | number;
  operator: string;
  eligible: string | number;
  correct: string | number;
}
const COLUMNS = 'group_name, period, operator, eligible, correct';
const RECORD = 'group_name text, period bigint, operator text, eligible bigint, correct bigint';

/** The projection's table and its mark (the log position folded), in the log's schema. */
export async function migrateVoteMetadata(sql: SqlProjections): Promise<void> {
  const t = `${sql.projectionSchema}.consensus_vote_metadata`;
  await sql.projectionQuery(`CREATE TABLE IF NOT EXISTS ${t} (
    group_name text NOT NULL, period bigint NOT NULL, operator text NOT NULL, eligible bigint NOT NULL, correct bigint NOT NULL,
    PRIMARY KEY (group_name, period, operator))`);
  await createMark(sql, t);
}

/**
 * The projection as a table of the store (`<schema>.consensus_vote_metadata`, its mark
 * `<schema>.consensus_vote_metadata_mark`): each run of events adds its counts to the rows in the
 * transaction that moves the mark (so a run is counted once, whoever folds it), rebuilt from the
 * log by emptying both (`rebuildVoteMetadata`).
 */
export function sqlVoteMetadata(store: EventStore, sql: SqlProjections): VoteMetadataRows {
  const t = `${sql.projectionSchema}.consensus_vote_metadata`;
  const { catchUp, ready } = sqlFold<Record<string, never>>(store, sql, {
    mark: `${t}_mark`,
    migrate: () => migrateVoteMetadata(sql),
    async apply(tx, events) {
      // The run's counts, added to the rows' (the fold of a run after the rows' is the sum of both).
      const counts: VoteCounts = new Map();
      const periods = new Map<string, { group: string; period: number }>();
      for (const e of events) {
        const p = foldVoteMetadata(counts, e);
        if (p) periods.set(metadataKey(p.group, p.period), p);
      }
      const rows: SqlRow[] = [];
      for (const [key, m] of counts) {
        const { group, period } = periods.get(key)!;
        for (const [operator, c] of m) rows.push({ group_name: group, period, operator, eligible: c.eligible, correct: c.correct });
      }
      if (rows.length === 0) return {};
      await tx.query(
        `INSERT INTO ${t} AS t (${COLUMNS}) SELECT ${COLUMNS} FROM json_to_recordset($1::json) AS x(${RECORD})
         ON CONFLICT (group_name, period, operator) DO UPDATE SET eligible = t.eligible + EXCLUDED.eligible, correct = t.correct + EXCLUDED.correct`,
        [JSON.stringify(rows)],
      );
      return {};
    },
  });
  return {
    catchUp,
    async period(group, period, operator) {
      await ready();
      const r = await sql.projectionQuery<SqlRow>(`SELECT ${COLUMNS} FROM ${t} WHERE group_name = $1 AND period = $2 AND ($3 = '' OR operator = $3)`, [
        group,
        period,
        operator,
      ]);
      // Sorted here, as the state's answers were (by UTF-16 code units, whatever the database's collation).
      return byOperator(r.rows.map((x): OperatorCounts => [x.operator, { eligible: Number(x.eligible), correct: Number(x.correct) }]));
    },
  };
}

/** Empties the projection's table and its mark: the next `catchUp` folds it again from the whole log. */
export const rebuildVoteMetadata = (sql: SqlProjections): Promise<void> => emptyProjection(sql, 'consensus_vote_metadata', migrateVoteMetadata);

/**
 * The vote metadata a store can hold: its table where it has SQL (PostgreSQL, PGlite), in memory
 * otherwise (KurrentDB). One per store in a process (the API and `followVoteMetadata` share it).
 */
export const voteMetadataRows: (store: EventStore) => VoteMetadataRows = perStore(sqlVoteMetadata, memoryVoteMetadata);

/** Keeps the projection near the log's end in the background (at most `everyMs` after an event). */
export const followVoteMetadata = <S>(runtime: Runtime<S>, rows: VoteMetadataRows, log: Logger, everyMs = 1000): { stop(): Promise<void> } =>
  followFold(runtime, rows, log, 'consensus vote metadata', everyMs);
