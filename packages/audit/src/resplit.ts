import type pg from 'pg';
import { INBOX_PREFIX, migrate, schemaFor } from '@ewx/platform';
import { partitionOf } from '@ewx/voting/app/partitions';
import type { PartitionPlan, SplitOptions, SplitReport } from './split.js';
import { copyPartitionEvents } from './split-copy.js';
import { inTransaction as inTransactionOf } from './transaction.js';

/**
 * A partitioned voting (VOTING_PARTITIONS=Q, lease table with Q rows) split into P = m·Q
 * partitions, with every replica stopped. Since FNV(s) mod P mod Q = FNV(s) mod Q when Q divides P,
 * new partition k takes its solutions from old partition k mod Q only, so it is that log with the
 * other new partitions' rounds left out — the same filter as the first split, per old partition:
 * - k ≥ Q (a new log): copied from old partition k mod Q (its rounds of solutions now in k and every
 *   inbox copy), each event at its position, its relay checkpoint as it is, new positions after
 *   that log's end;
 * - k < Q (kept): the rounds of the solutions that moved are deleted from it (after every copy is
 *   done), and its snapshots (their state had those rounds).
 * Starts are blocked while it runs: a sentinel row (partition -1) in the lease table makes every
 * replica's start refuse (the table holds neither Q nor P partitions); at the end the table holds P
 * rows. Resumable: copies and prunes are marked in `resplit_marks`; once a prune is done the copies
 * are never redone (their source lost the rounds they copied).
 */

const NOT_INBOX = `stream_id NOT LIKE '${INBOX_PREFIX}%'`;
const OWN_STREAM_SQL = '^round:[a-z0-9][a-z0-9._-]{2,63}:';
const lockKey = (schema: string): number => {
  let h = 0x811c9dc5;
  for (const c of schema) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
  return h | 0;
};

export interface ResplitContext {
  readonly o: SplitOptions;
  readonly pool: pg.Pool;
  /** Schema of the unsplit log (lease table, marks). */
  readonly S: string;
  readonly category: (k: number) => string;
  readonly refuse: (message: string) => Error;
  readonly lag: () => Promise<{ consumers: SplitReport['consumers']; refusal: string | undefined }>;
  /** handOverInboxOffsets for these runtime names (nothing without Kafka). */
  readonly handOver: (pairs: readonly { from: string; to: string }[]) => Promise<unknown>;
  /** The unsplit log's empty tables and fence, naming P (its message says which count to start with). */
  readonly fence: () => Promise<void>;
}

interface Mark {
  readonly partition: number;
  readonly kind: string;
  readonly end: string;
}

export async function resplitVoting(x: ResplitContext): Promise<SplitReport> {
  const { o, pool, S } = x;
  const P = o.partitions;
  const q = async <R extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]> => (await pool.query<R>(text, params)).rows;
  const tableExists = async (schema: string, table: string): Promise<boolean> =>
    (await q(`SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2`, [schema, table])).length > 0;
  const marks: Mark[] = (await tableExists(S, 'resplit_marks'))
    ? (
        await q<{ partition: number; kind: string; source_end: string; partitions: number }>(
          `SELECT partition, kind, source_end::text AS source_end, partitions FROM ${S}.resplit_marks WHERE partitions = $1`,
          [P],
        )
      ).map((r) => ({ partition: r.partition, kind: r.kind, end: r.source_end }))
    : [];
  // Splits begun and not finished (one at a time).
  const begun = (await tableExists(S, 'resplit_marks'))
    ? (
        await q<{ partitions: number }>(
          `SELECT partitions FROM ${S}.resplit_marks GROUP BY partitions HAVING bool_or(kind = 'begun') AND NOT bool_or(kind = 'done')`,
        )
      ).map((r) => r.partitions)
    : [];
  const leaseRows = await q<{ partition: number }>(`SELECT partition FROM ${S}.partition_leases ORDER BY partition`);
  const sentinel = leaseRows.some((r) => r.partition === -1);
  const rows = leaseRows.filter((r) => r.partition >= 0).length;
  if (marks.some((m) => m.kind === 'done') && rows === P && !sentinel)
    return {
      outcome: 'already split',
      from: P,
      source: { schema: S, events: 0, end: '0', inboxEvents: 0, relayCheckpoint: undefined },
      partitions: [],
      consumers: undefined,
    };
  if (begun.some((n) => n !== P) && sentinel)
    throw x.refuse(
      `a split of voting's partitions into ${begun.find((n) => n !== P)} was begun (marks in ${S}.resplit_marks): finish it with --partitions ${begun.find((n) => n !== P)}`,
    );
  // The partition count before: the lease table's (while a split runs, the marks say it).
  const Q = sentinel ? Number((await q<{ q: number }>(`SELECT max(old) AS q FROM ${S}.resplit_marks WHERE partitions = $1`, [P]))[0]?.q ?? rows) : rows;
  if (rows === P && !sentinel) throw x.refuse(`voting in schema ${S} already runs with ${P} partitions: nothing to split`);
  if (P <= Q || P % Q !== 0)
    throw x.refuse(
      `voting in schema ${S} runs with ${Q} partitions: it can be split into a multiple of ${Q} (${[2, 3, 4]
        .map((m) => m * Q)
        .filter((n) => n <= 64)
        .join(', ')}, …) only — a solution's new partition must come from one old partition (FNV mod ${P} mod ${Q} is not FNV mod ${Q})`,
    );
  const live = await q<{ n: string }>(
    `SELECT ((SELECT count(*) FROM ${S}.partition_leases WHERE owner IS NOT NULL AND expires_at > now()) +
             (SELECT count(*) FROM ${S}.partition_replicas WHERE expires_at > now()))::text AS n`,
  );
  if (Number(live[0]!.n) > 0)
    throw x.refuse(
      `voting replicas are running (live leases or heartbeats in ${S}.partition_leases / partition_replicas): stop every replica (a killed one's lease expires after VOTING_LEASE_MS), then run the split again`,
    );

  const T = (k: number): string => schemaFor(x.category(k));
  // Each old partition log: its end, its rounds by solution, its inbox.
  const old: { end: string; inbox: number; perSolution: { solution: string; rounds: number; events: number }[]; relay: string | undefined }[] = [];
  for (let j = 0; j < Q; j++) {
    if (!(await tableExists(T(j), 'events')))
      throw x.refuse(
        `partition log ${T(j)} does not exist (partition ${j} never started): start the replicas once so that every partition has its log, stop them, then split`,
      );
    const [st] = await q<{ end: string | null; inbox: string }>(
      `SELECT max(position)::text AS "end", count(*) FILTER (WHERE stream_id LIKE '${INBOX_PREFIX}%')::text AS inbox FROM ${T(j)}.events`,
    );
    const odd = await q<{ stream_id: string }>(`SELECT stream_id FROM ${T(j)}.events WHERE ${NOT_INBOX} AND stream_id !~ $1 LIMIT 1`, [OWN_STREAM_SQL]);
    if (odd.length > 0)
      throw x.refuse(
        `${T(j)}.events holds stream ${JSON.stringify(odd[0]!.stream_id)}, neither an inbox copy nor a round: its partition is unknown; not split`,
      );
    const per = await q<{ solution: string; rounds: string; events: string }>(
      `SELECT split_part(stream_id, ':', 2) AS solution, count(DISTINCT stream_id)::text AS rounds, count(*)::text AS events FROM ${T(j)}.events WHERE ${NOT_INBOX} GROUP BY 1 ORDER BY 1`,
    );
    const relay = (await q<{ position: string }>(`SELECT position FROM ${T(j)}.checkpoints WHERE name = 'relay'`))[0]?.position;
    old.push({
      end: st!.end ?? '0',
      inbox: Number(st!.inbox),
      perSolution: per.map((r) => ({ solution: r.solution, rounds: Number(r.rounds), events: Number(r.events) })),
      relay,
    });
  }
  const pruning = marks.some((m) => m.kind === 'prune');
  const partitions: PartitionPlan[] = [];
  for (let k = 0; k < P; k++) {
    const j = k % Q;
    const mine = old[j]!.perSolution.filter((r) => partitionOf(r.solution, P) === k);
    const mark = marks.find((m) => m.partition === k && m.kind === (k < Q ? 'prune' : 'copy'));
    // A copy is done if marked for its source's end, or if any prune happened (its source may have lost what it copied).
    const done = mark !== undefined && (k < Q || pruning || mark.end === old[j]!.end);
    if (k >= Q && !mark && (await tableExists(T(k), 'events'))) {
      const [n] = await q<{ n: string }>(`SELECT count(*)::text AS n FROM ${T(k)}.events`);
      if (Number(n!.n) > 0) throw x.refuse(`partition log ${T(k)} already holds ${n!.n} events not written by this split: not overwritten; nothing split`);
    }
    partitions.push({
      partition: k,
      schema: T(k),
      solutions: mine.map((r) => r.solution),
      rounds: mine.reduce((a, r) => a + r.rounds, 0),
      ownEvents: mine.reduce((a, r) => a + r.events, 0),
      inboxEvents: old[j]!.inbox,
      state: k < Q ? (done ? 'pruned' : 'prune') : done ? 'copied' : 'copy',
    });
  }
  const { consumers, refusal } = await x.lag();
  const source = {
    schema: `${T(0)}…${T(Q - 1)}`,
    events: old.reduce((a, l) => a + l.inbox + l.perSolution.reduce((b, r) => b + r.events, 0), 0),
    end: old.map((l) => l.end).join(','),
    inboxEvents: old.reduce((a, l) => a + l.inbox, 0),
    relayCheckpoint: old.map((l) => l.relay ?? '').join(','),
  };
  if (o.dryRun) return { outcome: 'dry run', from: Q, source, partitions, consumers, ...(refusal ? { wouldRefuse: refusal } : {}) };
  if (refusal) throw x.refuse(refusal);

  const inTransaction = <R>(fn: (c: pg.PoolClient) => Promise<R>): Promise<R> => inTransactionOf(pool, fn);
  /** Inside a transaction: old partition j's append lock, and its end as planned. */
  const lockOld = async (c: pg.PoolClient, j: number): Promise<void> => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [lockKey(T(j))]);
    const [now] = (await c.query<{ end: string | null }>(`SELECT max(position)::text AS "end" FROM ${T(j)}.events`)).rows;
    if ((now!.end ?? '0') !== old[j]!.end)
      throw x.refuse(
        `partition log ${T(j)} changed during the split (its end moved from ${old[j]!.end} to ${now!.end}): a replica is running; stop it, then run the split again`,
      );
  };
  await q(`CREATE TABLE IF NOT EXISTS ${S}.resplit_marks (
    partitions integer NOT NULL, partition integer NOT NULL, kind text NOT NULL, old integer NOT NULL, source_end bigint NOT NULL,
    done_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (partitions, partition, kind))`);
  // Starts blocked from here on (the lease table holds neither Q nor P partitions).
  await inTransaction(async (c) => {
    await c.query(`INSERT INTO ${S}.resplit_marks (partitions, partition, kind, old, source_end) VALUES ($1, -1, 'begun', $2, 0) ON CONFLICT DO NOTHING`, [
      P,
      Q,
    ]);
    await c.query(`INSERT INTO ${S}.partition_leases (partition) VALUES (-1) ON CONFLICT DO NOTHING`);
  });
  const chunk = Math.max(1, o.chunk ?? 50_000);
  const sql = {
    query: async (text: string, params?: unknown[]) => pool.query(text, params) as never,
    transaction: () => Promise.reject(new Error('unused')),
    close: async () => undefined,
  };
  for (const p of partitions.filter((x) => x.state === 'copy')) {
    const j = p.partition % Q;
    const Tk = p.schema;
    await migrate(sql, Tk);
    await inTransaction(async (c) => {
      await lockOld(c, j);
      for (const t of ['events', 'checkpoints', 'snapshots']) await c.query(`DELETE FROM ${Tk}.${t}`);
      await c.query(`DELETE FROM ${S}.resplit_marks WHERE partitions = $1 AND partition = $2 AND kind = 'copy'`, [P, p.partition]);
      const total = p.ownEvents + p.inboxEvents;
      await copyPartitionEvents(c, {
        from: T(j),
        to: Tk,
        partition: p.partition,
        solutions: p.solutions,
        end: old[j]!.end,
        total,
        chunk,
        onProgress: (done) => o.onProgress?.({ partition: p.partition, done, total }),
      });
      await c.query(`INSERT INTO ${Tk}.checkpoints (name, position) SELECT name, position FROM ${T(j)}.checkpoints`);
      await c.query(`INSERT INTO ${S}.resplit_marks (partitions, partition, kind, old, source_end) VALUES ($1, $2, 'copy', $3, $4)`, [
        P,
        p.partition,
        Q,
        old[j]!.end,
      ]);
    });
  }
  // Every new log written: the old ones lose the rounds that moved, their snapshots and their round listing.
  for (const p of partitions.filter((x) => x.state === 'prune')) {
    const k = p.partition;
    await inTransaction(async (c) => {
      await lockOld(c, k);
      const copies = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${S}.resplit_marks WHERE partitions = $1 AND kind = 'copy'`, [P]);
      if (Number(copies.rows[0]!.n) !== P - Q) throw new Error(`split: ${copies.rows[0]!.n} of ${P - Q} new partition logs written; run the split again`);
      await c.query('CREATE TEMP TABLE split_solutions (solution text PRIMARY KEY) ON COMMIT DROP');
      await c.query('INSERT INTO split_solutions SELECT unnest($1::text[])', [p.solutions]);
      await c.query(`DELETE FROM ${T(k)}.events WHERE ${NOT_INBOX} AND split_part(stream_id, ':', 2) NOT IN (SELECT solution FROM split_solutions)`);
      await c.query(`DELETE FROM ${T(k)}.snapshots`);
      // Voting's round listing (services/voting app/listing.ts) is a projection of the log that just
      // lost rounds: dropped, it is made again and folded from the pruned log at the replica's start.
      await c.query(`DROP TABLE IF EXISTS ${T(k)}.voting_rounds, ${T(k)}.voting_rounds_mark`);
      await c.query(`INSERT INTO ${S}.resplit_marks (partitions, partition, kind, old, source_end) VALUES ($1, $2, 'prune', $3, $4)`, [P, k, Q, old[k]!.end]);
      o.onProgress?.({ partition: k, done: p.ownEvents + p.inboxEvents, total: p.ownEvents + p.inboxEvents });
    });
  }
  // Each new partition's inbox group starts where its old partition's stopped.
  await x.handOver(partitions.filter((p) => p.partition >= Q).map((p) => ({ from: `voting_p${p.partition % Q}`, to: `voting_p${p.partition}` })));
  // The lease table with P partitions (the sentinel gone): replicas start with VOTING_PARTITIONS=P.
  await inTransaction(async (c) => {
    await c.query(`DELETE FROM ${S}.partition_leases`);
    await c.query(`INSERT INTO ${S}.partition_leases (partition) SELECT generate_series(0, $1::integer - 1)`, [P]);
    await c.query(`INSERT INTO ${S}.resplit_marks (partitions, partition, kind, old, source_end) VALUES ($1, -1, 'done', $2, 0) ON CONFLICT DO NOTHING`, [
      P,
      Q,
    ]);
  });
  await x.fence();
  return { outcome: 'split', from: Q, source, partitions, consumers };
}
