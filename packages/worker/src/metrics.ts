import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { STATUSES, type WorkerStatus } from './ladder.js';

/** Why a vote was refused, from the gRPC status of the refusal. */
export const REFUSAL_REASONS: Readonly<Record<number, string>> = {
  3: 'invalid',
  5: 'not_found',
  6: 'conflicting_vote',
  7: 'not_eligible',
  9: 'precondition',
  16: 'unauthenticated',
};
export const refusalReason = (code: number): string => REFUSAL_REASONS[code] ?? `grpc_${code}`;

export interface WorkerMetrics {
  readonly registry: Registry;
  readonly votesSent: Counter<'solution'>;
  readonly votesAccepted: Counter<'solution'>;
  readonly votesRefused: Counter<'solution' | 'reason'>;
  readonly roundsMissed: Counter<'solution'>;
  readonly voteRetries: Counter<'solution'>;
  readonly handlerErrors: Counter<'solution'>;
  readonly ready: Gauge;
  readonly height: Gauge;
  setStatus(status: WorkerStatus): void;
}

/**
 * A registry of its own per runtime (several runtimes share one process in the demo and tests);
 * `processMetrics` adds Node's default process metrics (the CLI does, once per process).
 */
export function workerMetrics(processMetrics = false): WorkerMetrics {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry });
  const counter = <L extends string>(name: string, help: string, labelNames: L[]) => new Counter<L>({ name, help, labelNames, registers: [registry] });
  const status = new Gauge<'status'>({
    name: 'ewx_worker_status',
    help: "The worker's rung of the status ladder (1 for the current one)",
    labelNames: ['status'],
    registers: [registry],
  });
  const m: WorkerMetrics = {
    registry,
    votesSent: counter('ewx_worker_votes_sent_total', 'Votes sent (each attempt, retries included)', ['solution']),
    votesAccepted: counter('ewx_worker_votes_accepted_total', 'Votes the voting service accepted (a repeat of the same vote included)', ['solution']),
    votesRefused: counter('ewx_worker_votes_refused_total', 'Votes the voting service refused, by reason', ['solution', 'reason']),
    roundsMissed: counter('ewx_worker_rounds_missed_total', 'Rounds the worker should have voted in but whose deadline passed first', ['solution']),
    voteRetries: counter('ewx_worker_vote_retries_total', 'Vote attempts repeated after a transient error', ['solution']),
    handlerErrors: counter('ewx_worker_handler_errors_total', 'Rounds whose solution logic failed (no vote)', ['solution']),
    ready: new Gauge({ name: 'ewx_worker_ready', help: '1 when the worker is ready to vote', registers: [registry] }),
    height: new Gauge({ name: 'ewx_worker_height', help: 'The last block height the worker saw at voting', registers: [registry] }),
    setStatus(s) {
      for (const x of STATUSES) status.set({ status: x }, x === s ? 1 : 0);
      m.ready.set(s === 'ready' ? 1 : 0);
    },
  };
  m.setStatus('starting');
  return m;
}
