import type pg from 'pg';
import { INBOX_PREFIX } from '@ewx/platform';

/**
 * Inside a transaction: copies into the (emptied) log `to` the events of log `from` that a partition
 * keeps — the rounds of `solutions` and every inbox copy — at their positions, with their streams,
 * versions, data, metadata and times, in chunks of `chunk` positions up to `end`; then sets `to`'s
 * position sequence to `end`, so new events come after every copied one. Refused if it copied other
 * than `total` events. `onProgress` gets the count copied after each chunk.
 */
export async function copyPartitionEvents(
  c: pg.PoolClient,
  o: {
    from: string;
    to: string;
    partition: number;
    solutions: readonly string[];
    end: string;
    total: number;
    chunk: number;
    onProgress?: (done: number) => void;
  },
): Promise<void> {
  await c.query('CREATE TEMP TABLE split_solutions (solution text PRIMARY KEY) ON COMMIT DROP');
  await c.query('INSERT INTO split_solutions SELECT unnest($1::text[])', [o.solutions]);
  const endN = BigInt(o.end);
  let done = 0;
  for (let lo = 0n; lo < endN; lo += BigInt(o.chunk)) {
    const r = await c.query(
      `INSERT INTO ${o.to}.events (position, stream_id, version, type, data, metadata, recorded_at) OVERRIDING SYSTEM VALUE
       SELECT position, stream_id, version, type, data, metadata, recorded_at FROM ${o.from}.events
       WHERE position > $1 AND position <= $2
         AND (stream_id LIKE '${INBOX_PREFIX}%' OR split_part(stream_id, ':', 2) IN (SELECT solution FROM split_solutions))
       ORDER BY position`,
      [lo.toString(), (lo + BigInt(o.chunk)).toString()],
    );
    done += r.rowCount ?? 0;
    o.onProgress?.(done);
  }
  if (done !== o.total) throw new Error(`split: partition ${o.partition}: copied ${done} events, expected ${o.total}`);
  if (endN > 0n) await c.query(`SELECT setval(pg_get_serial_sequence('${o.to}.events', 'position'), $1)`, [o.end]);
}
