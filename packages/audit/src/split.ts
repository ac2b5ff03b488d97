import pg from 'pg';
import {
  inboxGroupOf,
  INBOX_PREFIX,
  kafkaConfig,
  kafkaSecurityFrom,
  migrate,
  readEnv,
  partitionLeases,
  schemaFor,
  topicOf,
  type KafkaSecurity,
  type Logger,
  type SqlClient,
} from '@ewx/platform';
import { partitionOf, MAX_PARTITIONS } from '@ewx/voting/app/partitions';
import { resplitVoting } from './resplit.js';
import { copyPartitionEvents } from './split-copy.js';
import { inTransaction as inTransactionOf } from './transaction.js';

/**
 * Splits an unsplit voting log (VOTING_PARTITIONS=1, schema `ewx_<ns_>voting`) into P partition
 * logs (`ewx_<ns_>voting_p<k>`), as a voting started with VOTING_PARTITIONS=P expects them, with
 * voting stopped. docs/OPERATIONS.md "Scale voting out" is the operator's procedure.
 *
 * Partition k's log is the unsplit log with only the rounds of its solutions (`partitionOf`, the
 * router's hash) and every inbox copy (registry's, consensus's and rewards' events: every partition
 * records every input, so a partition log replays alone). Every copied event keeps its position,
 * stream, version, type, data (the JSON text as stored), metadata and time: each partition log is
 * the unsplit log with the other partitions' rounds left out, in the same order, so replaying it
 * folds its solutions' rounds as the unsplit log did, and positions need not be translated:
 * - the relay's checkpoint (and any other) is copied as it is: what the unsplit relay published is
 *   not published again, what it had not published yet is published by the partition's relay;
 * - a position the unsplit voting sent (Watch, GetStatus) `X` is the merged token `P<P>:X,…,X`;
 * - voting's events reach consumers with the same source (`voting`), stream and version as
 *   before, so their dedup (source stream + version) would drop any copy sent again.
 * Snapshots are not copied (a partition's state is not the unsplit state): each partition replays
 * its log once at its first start. With Kafka given, each partition's inbox consumer group starts
 * at voting's committed offsets (`handOverInboxOffsets`).
 *
 * What a consumer could get wrong is the order across the change of message key (`voting` before,
 * `voting_p<k>` after, possibly on another Kafka partition): a round's next event under the new key
 * must not overtake its previous one still unread under the old key (its inbox would take the
 * later version and drop the earlier as a duplicate). So the split refuses while any consumer
 * group of the namespace (`ewx-*`) has not read all of voting's topic; voting is stopped, so
 * nothing is added under the old key afterwards.
 *
 * Resumable: each partition log is written in one transaction, marked done in
 * `ewx_<ns_>voting.split_marks` with the unsplit log's end; a run after an interruption skips the
 * partitions done, and starts over if the unsplit log changed since (voting ran). Each transaction
 * takes the unsplit log's append lock and checks its end, so an append racing the split fails the
 * split instead of being left out. The last step, in one transaction, renames the unsplit tables
 * (`events` → `events_unsplit`, `checkpoints_unsplit`, `snapshots_unsplit`; kept for a roll-back)
 * and leaves empty ones in their place, as a partitioned deployment has; then it creates the lease
 * table with P partitions (so a start with another count is refused).
 *
 * A partitioned voting (a lease table of Q partitions) is split again into a multiple of Q by
 * `resplitVoting` (resplit.ts): the same filter, per old partition.
 */

/** A split refused because of the state found (exit 4 in the CLI): the message says what to do. */
export class SplitRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SplitRefused';
  }
}

export interface SplitOptions {
  readonly databaseUrl: string;
  /** EWX_NAMESPACE the services ran with ('' for none). */
  readonly namespace: string;
  /** The partition count to split into (VOTING_PARTITIONS afterwards): 2..64. */
  readonly partitions: number;
  /** To check that every consumer read all of voting's topic; undefined: not checked (`--skip-kafka-check`, e.g. no relay ever ran). */
  readonly kafka?: { readonly brokers: readonly string[]; readonly security?: KafkaSecurity; readonly log: Logger };
  /** Only read, and say what would be done. */
  readonly dryRun?: boolean;
  /** Events copied per statement (default 50,000 positions). */
  readonly chunk?: number;
  readonly onProgress?: (p: { partition: number; done: number; total: number }) => void;
}

export interface PartitionPlan {
  readonly partition: number;
  readonly schema: string;
  readonly solutions: readonly string[];
  readonly rounds: number;
  readonly ownEvents: number;
  /** Inbox copies: every one goes to every partition. */
  readonly inboxEvents: number;
  /**
   * `copy`: to write (`copied`: done by an earlier run for the same log end); `prune`: a partition
   * kept when a partitioned voting is split again, to lose the rounds that move (`pruned`: done).
   */
  readonly state: 'copy' | 'copied' | 'prune' | 'pruned';
}

export interface ConsumerLag {
  readonly group: string;
  /** Messages of voting's topic not yet read (committed) by the group. */
  readonly behind: number;
}

export interface SplitReport {
  /** `split`: done by this run; `already split`: an earlier run finished it; `dry run`: nothing written. */
  readonly outcome: 'split' | 'already split' | 'dry run';
  /** The partition count before: 1 (the unsplit log) or that of a partitioned voting split again. */
  readonly from: number;
  readonly source: {
    readonly schema: string;
    readonly events: number;
    /** The last position of the unsplit log. */
    readonly end: string;
    readonly inboxEvents: number;
    readonly relayCheckpoint: string | undefined;
  };
  readonly partitions: readonly PartitionPlan[];
  /** Consumer groups of voting's topic and how far behind each is; undefined when not checked. */
  readonly consumers: readonly ConsumerLag[] | undefined;
  /** Why a real run would refuse now (dry run), if it would. */
  readonly wouldRefuse?: string;
}

const OWN_STREAM = /^round:([a-z0-9][a-z0-9._-]{2,63}):/;
const OWN_STREAM_SQL = '^round:[a-z0-9][a-z0-9._-]{2,63}:';
const NOT_INBOX = `stream_id NOT LIKE '${INBOX_PREFIX}%'`;

/** The append lock of a log (sql.ts `lockKey`): an append to the unsplit log waits for the split's transaction, and the reverse. */
const lockKey = (schema: string): number => {
  let h = 0x811c9dc5;
  for (const c of schema) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193);
  return h | 0;
};

const categoryOf = (namespace: string, k?: number): string => `${namespace ? `${namespace}_` : ''}voting${k === undefined ? '' : `_p${k}`}`;

/** Consumer groups of the namespace (`ewx-*`) that have read voting's topic, and what each has not read yet. */
export async function votingConsumerLag(o: NonNullable<SplitOptions['kafka']>, namespace: string): Promise<ConsumerLag[]> {
  const { Kafka } = await import('kafkajs');
  const kafka = new Kafka(kafkaConfig({ brokers: o.brokers, clientId: 'ewx-voting-split', log: o.log, ...(o.security ? { security: o.security } : {}) }));
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topic = topicOf('voting', namespace);
    if (!(await admin.listTopics()).includes(topic)) return [];
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, { low: BigInt(p.low), high: BigInt(p.high) }]));
    const prefix = inboxGroupOf('', namespace);
    const out: ConsumerLag[] = [];
    for (const g of (await admin.listGroups()).groups.filter((x) => x.groupId.startsWith(prefix)).sort((a, b) => a.groupId.localeCompare(b.groupId))) {
      const offsets = (await admin.fetchOffsets({ groupId: g.groupId, topics: [topic] })).find((t) => t.topic === topic)?.partitions ?? [];
      if (offsets.every((p) => p.offset === '-1')) continue; // never read voting's topic
      let behind = 0n;
      for (const [partition, end] of ends) {
        const at = offsets.find((p) => p.partition === partition)?.offset;
        behind += end.high - (at === undefined || at === '-1' ? end.low : BigInt(at));
      }
      out.push({ group: g.groupId, behind: Number(behind) });
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}

/** `kafka` of SplitOptions from the brokers given and the environment's KAFKA_TLS* / KAFKA_SASL* settings (as the services read them). */
export function splitKafkaFrom(
  brokers: readonly string[],
  log: Logger,
  env: Record<string, string | undefined> = process.env,
): NonNullable<SplitOptions['kafka']> {
  return { brokers, log, security: kafkaSecurityFrom(readEnv(env)) };
}

/**
 * Where each new partition's inbox starts reading: the committed offsets of the consumer group whose
 * log it was copied from (`ewx-voting`, or `ewx-voting_p<j>` when partitions are split again), on
 * every topic that group read. Everything before them is in that log, so in the copy; what comes
 * after is delivered and deduplicated as usual. Without it, a new group starts at the earliest
 * retained offsets and drops what it already has (a one-time re-read). A group that has offsets
 * already (a previous run, or a partition started) is left as it is. Returns the groups set.
 */
export async function handOverInboxOffsets(
  o: NonNullable<SplitOptions['kafka']>,
  namespace: string,
  pairs: readonly { from: string; to: string }[],
): Promise<string[]> {
  const { Kafka } = await import('kafkajs');
  const kafka = new Kafka(kafkaConfig({ brokers: o.brokers, clientId: 'ewx-voting-split', log: o.log, ...(o.security ? { security: o.security } : {}) }));
  const admin = kafka.admin();
  await admin.connect();
  const set: string[] = [];
  try {
    for (const { from, to } of pairs) {
      const groupOf = (instance: string): string => inboxGroupOf(instance, namespace);
      const theirs = (await admin.fetchOffsets({ groupId: groupOf(from) })).filter((t) => t.partitions.some((p) => p.offset !== '-1'));
      if (theirs.length === 0) continue;
      const mine = await admin.fetchOffsets({ groupId: groupOf(to), topics: theirs.map((t) => t.topic) });
      if (mine.some((t) => t.partitions.some((p) => p.offset !== '-1'))) continue;
      for (const t of theirs)
        await admin.setOffsets({
          groupId: groupOf(to),
          topic: t.topic,
          partitions: t.partitions.filter((p) => p.offset !== '-1').map((p) => ({ partition: p.partition, offset: p.offset })),
        });
      set.push(groupOf(to));
    }
    return set;
  } finally {
    await admin.disconnect();
  }
}

interface Mark {
  readonly partition: number;
  readonly partitions: number;
  readonly sourceEnd: string;
}

export async function splitVoting(o: SplitOptions): Promise<SplitReport> {
  const P = o.partitions;
  if (!Number.isInteger(P) || P < 2 || P > MAX_PARTITIONS) throw new RangeError(`partitions: expected 2 to ${MAX_PARTITIONS}, got ${P}`);
  const S = schemaFor(categoryOf(o.namespace));
  const T = Array.from({ length: P }, (_, k) => schemaFor(categoryOf(o.namespace, k)));
  const pool = new pg.Pool({ connectionString: o.databaseUrl, max: 2 });
  pool.on('error', () => undefined);
  const q = async <R extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]> => (await pool.query<R>(text, params)).rows;
  const tableExists = async (schema: string, table: string): Promise<boolean> =>
    (await q(`SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2`, [schema, table])).length > 0;
  try {
    const marks: Mark[] = (await tableExists(S, 'split_marks'))
      ? (
          await q<{ partition: number; partitions: number; source_end: string }>(
            `SELECT partition, partitions, source_end::text AS source_end FROM ${S}.split_marks ORDER BY partition`,
          )
        ).map((r) => ({ partition: r.partition, partitions: r.partitions, sourceEnd: r.source_end }))
      : [];
    const finished = marks.find((m) => m.partition === -1);
    /** The consumer groups of voting's topic, and why the split is refused now if any is behind. */
    const lagCheck = async (): Promise<{ consumers: SplitReport['consumers']; refusal: string | undefined }> => {
      const consumers = o.kafka ? await votingConsumerLag(o.kafka, o.namespace) : undefined;
      const lagging = (consumers ?? []).filter((c) => c.behind > 0);
      const refusal =
        lagging.length > 0
          ? `consumers have not read all of voting's topic ${topicOf('voting', o.namespace)}: ${lagging.map((c) => `${c.group} ${c.behind} behind`).join(', ')}; with voting stopped they catch up (are those services running?) — run the split again then (their next events of a round would otherwise arrive under a new message key and could overtake the unread ones)`
          : undefined;
      return { consumers, refusal };
    };
    // Partitioned already (a lease table): split into more partitions (resplit.ts), unless this split is done.
    if (await tableExists(S, 'partition_leases')) {
      const rows = await q<{ partition: number }>(`SELECT partition FROM ${S}.partition_leases`);
      const done = finished?.partitions === P && rows.length === P && rows.every((r) => r.partition >= 0);
      if (!done)
        return await resplitVoting({
          o,
          pool,
          S,
          category: (k) => categoryOf(o.namespace, k),
          refuse: (m) => new SplitRefused(m),
          lag: lagCheck,
          fence: () => emptyAndFenced(sqlOf(pool), S, P),
          handOver: async (pairs) => (o.kafka ? handOverInboxOffsets(o.kafka, o.namespace, pairs) : undefined),
        });
    }
    if (finished) {
      if (finished.partitions !== P)
        throw new SplitRefused(
          `voting (schema ${S}) was already split into ${finished.partitions} partitions; start it with VOTING_PARTITIONS=${finished.partitions} (a split log cannot be split again by this command)`,
        );
      // Finished but perhaps interrupted before the lease table: made now (idempotent).
      if (!o.dryRun) await finish(sqlOf(pool), o.databaseUrl, S, P);
      return {
        outcome: 'already split',
        from: P,
        source: { schema: S, events: 0, end: finished.sourceEnd, inboxEvents: 0, relayCheckpoint: undefined },
        partitions: [],
        consumers: undefined,
      };
    }
    if (!(await tableExists(S, 'events')))
      throw new SplitRefused(`no voting log in schema ${S}: nothing to split (check --namespace / EWX_NAMESPACE and the database)`);
    for (const t of ['events_unsplit', 'checkpoints_unsplit', 'snapshots_unsplit'])
      if (await tableExists(S, t))
        throw new SplitRefused(`${S}.${t} exists but no split is recorded as finished: drop or rename it first (a previous split rolled back by hand?)`);
    if (marks.some((m) => m.partitions !== P))
      throw new SplitRefused(
        `a split of ${S} into ${marks[0]!.partitions} partitions was begun (marks in ${S}.split_marks); finish it with --partitions ${marks[0]!.partitions}, or drop its partition schemas and ${S}.split_marks to choose another count`,
      );

    // The unsplit log: its end, its own streams (rounds only, each in its solution's partition), its inbox.
    const [stats] = await q<{ n: string; end: string | null; inbox: string }>(
      `SELECT count(*)::text AS n, max(position)::text AS "end", count(*) FILTER (WHERE stream_id LIKE '${INBOX_PREFIX}%')::text AS inbox FROM ${S}.events`,
    );
    const end = stats!.end ?? '0';
    const odd = await q<{ stream_id: string }>(`SELECT stream_id FROM ${S}.events WHERE ${NOT_INBOX} AND stream_id !~ $1 LIMIT 1`, [OWN_STREAM_SQL]);
    if (odd.length > 0)
      throw new SplitRefused(
        `${S}.events holds stream ${JSON.stringify(odd[0]!.stream_id)}, neither an inbox copy nor a round (round:<solution>:<id>): its partition is unknown; not split`,
      );
    const perSolution = await q<{ solution: string; rounds: string; events: string }>(
      `SELECT split_part(stream_id, ':', 2) AS solution, count(DISTINCT stream_id)::text AS rounds, count(*)::text AS events
       FROM ${S}.events WHERE ${NOT_INBOX} GROUP BY 1 ORDER BY 1`,
    );
    for (const r of perSolution)
      if (!OWN_STREAM.test(`round:${r.solution}:`)) throw new SplitRefused(`solution ${JSON.stringify(r.solution)} in ${S}: not a solution name`);
    const relay = (await tableExists(S, 'checkpoints'))
      ? (await q<{ position: string }>(`SELECT position FROM ${S}.checkpoints WHERE name = 'relay'`))[0]?.position
      : undefined;

    const partitions: PartitionPlan[] = [];
    for (let k = 0; k < P; k++) {
      const mine = perSolution.filter((r) => partitionOf(r.solution, P) === k);
      const mark = marks.find((m) => m.partition === k);
      const copied = mark !== undefined && mark.sourceEnd === end;
      if (!mark && (await tableExists(T[k]!, 'events'))) {
        const [n] = await q<{ n: string }>(`SELECT count(*)::text AS n FROM ${T[k]}.events`);
        if (Number(n!.n) > 0)
          throw new SplitRefused(
            `partition log ${T[k]} already holds ${n!.n} events not written by this split (a partitioned voting ran on this namespace?): not overwritten; nothing split`,
          );
      }
      partitions.push({
        partition: k,
        schema: T[k]!,
        solutions: mine.map((r) => r.solution),
        rounds: mine.reduce((a, r) => a + Number(r.rounds), 0),
        ownEvents: mine.reduce((a, r) => a + Number(r.events), 0),
        inboxEvents: Number(stats!.inbox),
        state: copied ? 'copied' : 'copy',
      });
    }
    const { consumers, refusal } = await lagCheck();
    const source = { schema: S, events: Number(stats!.n), end, inboxEvents: Number(stats!.inbox), relayCheckpoint: relay };
    if (o.dryRun) return { outcome: 'dry run', from: 1, source, partitions, consumers, ...(refusal ? { wouldRefuse: refusal } : {}) };
    if (refusal) throw new SplitRefused(refusal);

    const sql = sqlOf(pool);
    const chunk = Math.max(1, o.chunk ?? 50_000);
    /** Inside a transaction: the unsplit log's append lock, and its end as it was when planned. */
    const lockSource = async (c: pg.PoolClient): Promise<void> => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [lockKey(S)]);
      const [now] = (await c.query<{ end: string | null }>(`SELECT max(position)::text AS "end" FROM ${S}.events`)).rows;
      if ((now!.end ?? '0') !== end)
        throw new SplitRefused(
          `voting's log ${S} changed during the split (its end moved from ${end} to ${now!.end}): voting is running; stop it (every process), then run the split again (it starts over)`,
        );
    };
    const inTransaction = <R>(fn: (c: pg.PoolClient) => Promise<R>): Promise<R> => inTransactionOf(pool, fn);
    await q(`CREATE TABLE IF NOT EXISTS ${S}.split_marks (
      partition integer PRIMARY KEY, partitions integer NOT NULL, source_end bigint NOT NULL, events bigint NOT NULL,
      done_at timestamptz NOT NULL DEFAULT now())`);
    for (const p of partitions) {
      if (p.state === 'copied') {
        o.onProgress?.({ partition: p.partition, done: p.ownEvents + p.inboxEvents, total: p.ownEvents + p.inboxEvents });
        continue;
      }
      const Tk = p.schema;
      await migrate(sql, Tk);
      await inTransaction(async (c) => {
        await lockSource(c);
        // Ours if anything (an earlier run of this split, for another end of the unsplit log): written again.
        for (const t of ['events', 'checkpoints', 'snapshots']) await c.query(`DELETE FROM ${Tk}.${t}`);
        await c.query(`DELETE FROM ${S}.split_marks WHERE partition = $1`, [p.partition]);
        // New events of the partition come after every copied position (and after the unsplit log's end).
        const total = p.ownEvents + p.inboxEvents;
        await copyPartitionEvents(c, {
          from: S,
          to: Tk,
          partition: p.partition,
          solutions: p.solutions,
          end,
          total,
          chunk,
          onProgress: (done) => o.onProgress?.({ partition: p.partition, done, total }),
        });
        if (await tableExistsIn(c, S, 'checkpoints'))
          await c.query(`INSERT INTO ${Tk}.checkpoints (name, position) SELECT name, position FROM ${S}.checkpoints`);
        await c.query(`INSERT INTO ${S}.split_marks (partition, partitions, source_end, events) VALUES ($1, $2, $3, $4)`, [p.partition, P, end, total]);
      });
    }
    // Each partition's inbox group starts where voting's stopped (a lost step only costs a re-read).
    if (o.kafka)
      await handOverInboxOffsets(
        o.kafka,
        o.namespace,
        partitions.map((p) => ({ from: 'voting', to: `voting_p${p.partition}` })),
      );
    // The unsplit tables kept under other names (a roll-back renames them back), empty ones in their place.
    await inTransaction(async (c) => {
      await lockSource(c);
      const done = (
        await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${S}.split_marks WHERE partition >= 0 AND partitions = $1 AND source_end = $2`, [P, end])
      ).rows[0]!.n;
      if (Number(done) !== P) throw new Error(`split: ${done} of ${P} partition logs written; run the split again`);
      for (const t of ['events', 'checkpoints', 'snapshots']) if (await tableExistsIn(c, S, t)) await c.query(`ALTER TABLE ${S}.${t} RENAME TO ${t}_unsplit`);
      // In the same transaction: never an unsplit schema without its (empty, fenced) tables.
      await emptyAndFenced(savepoints(c), S, P);
      await c.query(`INSERT INTO ${S}.split_marks (partition, partitions, source_end, events) VALUES (-1, $1, $2, $3)`, [P, end, stats!.n]);
    });
    await finish(sql, o.databaseUrl, S, P);
    return { outcome: 'split', from: 1, source, partitions, consumers };
  } finally {
    await pool.end();
  }
}

const tableExistsIn = async (c: pg.PoolClient, schema: string, table: string): Promise<boolean> =>
  (await c.query(`SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2`, [schema, table])).rows.length > 0;

/** Queries through the pool, for `migrate` (which needs no transaction). */
const sqlOf = (pool: pg.Pool): SqlClient => ({
  query: async (text, params) => pool.query(text, params) as never,
  transaction: () => Promise.reject(new Error('split: no transaction here')),
  close: async () => undefined,
});

/**
 * After the unsplit tables were renamed (and replaced, in that transaction): the lease table with
 * P partitions, as the first partitioned replica would make it (a start with another count is then
 * refused). Idempotent: a run after an interruption here does it again.
 */
async function finish(sql: SqlClient, url: string, schema: string, partitions: number): Promise<void> {
  await emptyAndFenced(sql, schema, partitions);
  const leases = await partitionLeases(url, schema, partitions);
  try {
    await leases.init();
  } finally {
    await leases.close();
  }
}

/**
 * Each statement in a savepoint: `migrate` tries a statement PostgreSQL may refuse (lz4
 * compression where it is not built in) and goes on; in a transaction that must not abort it.
 */
const savepoints = (c: pg.PoolClient): SqlClient => ({
  query: async (text, params) => {
    await c.query('SAVEPOINT split_step');
    try {
      const r = await c.query(text, params);
      await c.query('RELEASE SAVEPOINT split_step');
      return r as never;
    } catch (e) {
      await c.query('ROLLBACK TO SAVEPOINT split_step');
      throw e;
    }
  },
  transaction: () => Promise.reject(new Error('split: already in a transaction')),
  close: async () => undefined,
});

/** The unsplit log's tables, empty (as a partitioned deployment has them), with the fence. Idempotent. */
async function emptyAndFenced(sql: SqlClient, schema: string, partitions: number): Promise<void> {
  await migrate(sql, schema);
  // A fence: a voting started by mistake without VOTING_PARTITIONS (one process on the unsplit
  // log, now empty) fails at its first append with this message instead of writing rounds beside
  // the partitions. A partitioned voting never appends to the unsplit log.
  const why = `voting's log ${schema} was split into ${partitions} partition logs (ewx voting split): start voting with VOTING_PARTITIONS=${partitions}`;
  await sql.query(
    `CREATE OR REPLACE FUNCTION ${schema}.split_fence() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '${why.replace(/'/g, "''")}'; END $$`,
  );
  await sql.query(`DROP TRIGGER IF EXISTS split_fence ON ${schema}.events`);
  await sql.query(`CREATE TRIGGER split_fence BEFORE INSERT ON ${schema}.events FOR EACH STATEMENT EXECUTE FUNCTION ${schema}.split_fence()`);
}
