/**
 * SQL giving one row per vote recorded in an events table — each VoteCast, and each vote of a
 * VotesCast (several votes appended together) — as (stream_id, solution, round_id, worker, result,
 * recorded_at). For tests, benchmarks and the load suite that count votes in the store.
 */
export const castVotesSql = (table: string): string =>
  `SELECT stream_id, data->>'solution' AS solution, data->>'roundId' AS round_id, data->>'worker' AS worker, data->>'result' AS result, recorded_at FROM ${table} WHERE type = 'VoteCast' ` +
  `UNION ALL SELECT e.stream_id, e.data->>'solution', e.data->>'roundId', v->>0, v->>1, e.recorded_at FROM ${table} e, json_array_elements(e.data->'votes') v WHERE e.type = 'VotesCast'`;
