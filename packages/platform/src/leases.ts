import type { SqlExecutor } from './eventstore/sql.js';
import { pgClient } from './eventstore/postgres.js';
import { unavailable } from './errors.js';

/** One partition's lease as stored: `owner` null when free; `live` false once `expires_at` has passed (PostgreSQL's clock). */
export interface LeaseRow {
  readonly partition: number;
  readonly owner: string | null;
  readonly address: string | null;
  readonly epoch: number;
  readonly live: boolean;
}

/**
 * Leases on the partitions of one service's log, in PostgreSQL (tables `partition_leases` and
 * `partition_replicas` in the service's schema). Every time is PostgreSQL's `now()`, so replicas
 * need no synchronised clocks. A partition is taken by raising its `epoch`; every append to the
 * partition's log checks (owner, epoch) in its own transaction under a row share lock (`guard`), so
 * a former owner that was paused past its lease cannot append once another replica took it: the
 * take-over waits for an append in flight to commit, and any later append of the former owner fails.
 */
export interface PartitionLeases {
  /** Creates the tables and one row per partition; throws if the table holds another partition count. */
  init(): Promise<void>;
  /** This replica is alive for `ms` more (its address is what others forward to). */
  heartbeat(replica: string, address: string, ms: number): Promise<void>;
  /** Replicas whose heartbeat has not expired. */
  liveReplicas(): Promise<number>;
  /**
   * Takes partition `k` if it is free, its lease expired, or it is leased under `replica` itself
   * (a process restarted under a fixed id, e.g. a pod name, takes back its previous process's
   * leases at once; the caller never asks for one it holds): the new epoch, or undefined. The new
   * epoch fences any former holder, a still-running process of the same id included.
   */
  acquire(k: number, replica: string, address: string, ms: number): Promise<number | undefined>;
  /** Extends a held lease; false if it was taken over (then stop writing to it). */
  renew(k: number, replica: string, epoch: number, ms: number): Promise<boolean>;
  /** Frees a held lease (a clean stop or a rebalance), for another replica to take at once. */
  release(k: number, replica: string, epoch: number): Promise<void>;
  /** A replica leaves: its heartbeat row is removed. */
  leave(replica: string): Promise<void>;
  rows(): Promise<LeaseRow[]>;
  /** For the partition's event store (`SqlStoreOptions.guard`): refuses the append unless (owner, epoch) still hold the lease. */
  guard(k: number, replica: string, epoch: () => number | undefined): (tx: SqlExecutor) => Promise<void>;
  close(): Promise<void>;
}

export async function partitionLeases(url: string, schema: string, partitions: number): Promise<PartitionLeases> {
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`leases: schema ${JSON.stringify(schema)}: expected [a-z][a-z0-9_]*`);
  const { default: pgm } = await import('pg');
  const pool = new pgm.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  const sql = pgClient(pool);
  const L = `${schema}.partition_leases`;
  const R = `${schema}.partition_replicas`;
  const epochOf = (v: unknown): number => Number(v);
  return {
    async init() {
      await sql.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await sql.query(`CREATE TABLE IF NOT EXISTS ${L} (
        partition integer PRIMARY KEY, owner text, address text, epoch bigint NOT NULL DEFAULT 0, expires_at timestamptz)`);
      await sql.query(`CREATE TABLE IF NOT EXISTS ${R} (id text PRIMARY KEY, address text NOT NULL, expires_at timestamptz NOT NULL)`);
      const count = async (): Promise<{ n: number; top: number }> => {
        const r = await sql.query<{ n: string | number; top: number | null }>(`SELECT count(*) AS n, max(partition) AS top FROM ${L}`);
        return { n: Number(r.rows[0]!.n), top: Number(r.rows[0]!.top ?? -1) };
      };
      // The rows are made once, by the first replica of the deployment; later ones check the count.
      if ((await count()).n === 0)
        await sql.query(`INSERT INTO ${L} (partition) SELECT generate_series(0, $1::integer - 1) ON CONFLICT DO NOTHING`, [partitions]);
      const { n, top } = await count();
      // Row -1: `ewx voting split` is splitting the partitions into more (a start now would serve half-split logs).
      if ((await sql.query(`SELECT 1 FROM ${L} WHERE partition = -1`)).rows.length > 0)
        throw new Error(
          `leases: ${L} is marked by a split of the partitions in progress (ewx voting split): run it to its end, then start with the VOTING_PARTITIONS it split into`,
        );
      if (n !== partitions || top !== partitions - 1)
        throw new Error(
          `leases: ${L} holds ${n} partitions but ${partitions} are configured: the partition count of a deployment cannot change (a solution's partition is its hash modulo the count)`,
        );
    },
    async heartbeat(replica, address, ms) {
      await sql.query(
        `INSERT INTO ${R} (id, address, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
         ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address, expires_at = EXCLUDED.expires_at`,
        [replica, address, ms],
      );
    },
    async liveReplicas() {
      const r = await sql.query<{ n: string | number }>(`SELECT count(*) AS n FROM ${R} WHERE expires_at > now()`);
      return Number(r.rows[0]!.n);
    },
    async acquire(k, replica, address, ms) {
      const r = await sql.query<{ epoch: string | number }>(
        `UPDATE ${L} SET owner = $2, address = $3, epoch = epoch + 1, expires_at = now() + $4 * interval '1 millisecond'
         WHERE partition = $1 AND (owner IS NULL OR owner = $2 OR expires_at IS NULL OR expires_at <= now()) RETURNING epoch`,
        [k, replica, address, ms],
      );
      return r.rows.length === 0 ? undefined : epochOf(r.rows[0]!.epoch);
    },
    async renew(k, replica, epoch, ms) {
      const r = await sql.query(
        `UPDATE ${L} SET expires_at = now() + $4 * interval '1 millisecond' WHERE partition = $1 AND owner = $2 AND epoch = $3 RETURNING partition`,
        [k, replica, epoch, ms],
      );
      return r.rows.length > 0;
    },
    async release(k, replica, epoch) {
      await sql.query(`UPDATE ${L} SET owner = NULL, address = NULL, expires_at = NULL WHERE partition = $1 AND owner = $2 AND epoch = $3`, [
        k,
        replica,
        epoch,
      ]);
    },
    async leave(replica) {
      await sql.query(`DELETE FROM ${R} WHERE id = $1`, [replica]);
    },
    async rows() {
      const r = await sql.query<{ partition: number; owner: string | null; address: string | null; epoch: string | number; live: boolean | null }>(
        `SELECT partition, owner, address, epoch, (expires_at IS NOT NULL AND expires_at > now()) AS live FROM ${L} ORDER BY partition`,
      );
      return r.rows.map((x) => ({ partition: Number(x.partition), owner: x.owner, address: x.address, epoch: epochOf(x.epoch), live: x.live === true }));
    },
    guard(k, replica, epoch) {
      return async (tx) => {
        const e = epoch();
        if (e === undefined)
          throw unavailable(`partition ${k} is not held by replica ${replica} (its lease was lost or released): retry, the request is routed to its owner`);
        // FOR SHARE: a take-over (UPDATE of this row) waits until this append commits, and sees it.
        const r = await tx.query(`SELECT 1 FROM ${L} WHERE partition = $1 AND owner = $2 AND epoch = $3 FOR SHARE`, [k, replica, e]);
        if (r.rows.length === 0)
          throw unavailable(
            `partition ${k}: replica ${replica} lost its lease (epoch ${e}) to another replica; nothing was written: retry, the request is routed to the new owner`,
          );
      };
    },
    close: () => sql.close(),
  };
}
