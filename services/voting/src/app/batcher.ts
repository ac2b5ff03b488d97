import { traceCarrier, type Logger, type Runtime } from '@ewx/platform';
import { decideVotes, isLateVote, roundStream, type VoteCommand, type VotingState } from '../domain/decider.js';
import { roundArchive } from './archive.js';

/** Votes per append at most: one append of ≤ 2000 rows stays well inside a transaction's comfort. */
export const MAX_BATCH = 2000;

interface Pending {
  readonly cmd: VoteCommand;
  readonly trace?: Record<string, string>;
  resolve(accepted: boolean): void;
  reject(e: unknown): void;
}

/** Telemetry only: each vote's event records its own caller's trace, not the batch's first. */
const withCallerTraces = (items: readonly Pending[], events: ReturnType<typeof decideVotes>['events']): typeof events => {
  const traces = new Map(items.filter((i) => i.trace).map((i) => [`${i.cmd.worker}|${i.cmd.nonce}`, i.trace!]));
  if (traces.size === 0) return events;
  return events.map((e) => {
    const m = e.metadata as { signer?: string; nonce?: string } | undefined;
    const t = m && traces.get(`${m.signer}|${m.nonce}`);
    return t ? { ...e, metadata: { ...m, ...t } } : e;
  });
};

/**
 * Group commit: votes that arrive while an append is in flight are decided together, per round,
 * in one `execute` (one transaction, one fsync). Each vote still gets its own answer; a refused
 * vote refuses only itself. The order of votes within a round is the order of arrival.
 */
export function voteBatcher(runtime: Runtime<VotingState>, log: Logger, archive = roundArchive(runtime.store)): { submit(cmd: VoteCommand): Promise<boolean> } {
  const pending = new Map<string, Pending[]>();
  let flushing = false;

  const runBatch = async (stream: string, items: Pending[]): Promise<void> => {
    let outcomes: ReturnType<typeof decideVotes>['outcomes'] = [];
    try {
      await runtime.execute(stream, (s) => {
        const r = decideVotes(
          s,
          items.map((i) => i.cmd),
          runtime.lastNonce,
        );
        outcomes = r.outcomes;
        return withCallerTraces(items, r.events);
      });
    } catch (e) {
      log.warn('vote batch failed', { stream, votes: items.length, error: (e as Error).message });
      for (const i of items) i.reject(e);
      return;
    }
    // A late vote's refusal depends on the closed round's snapshot, which is read from the log (see LateVote).
    const late = outcomes.find(isLateVote);
    let snapshot: ReadonlyMap<string, string> | undefined;
    if (late) {
      try {
        snapshot = (await archive.read(late.solution, late.roundId))?.snapshot ?? new Map();
      } catch (e) {
        log.warn('vote batch: reading a closed round failed', { stream, error: (e as Error).message });
        for (const [n, i] of items.entries()) if (isLateVote(outcomes[n])) i.reject(e);
      }
    }
    items.forEach((item, n) => {
      const o = outcomes[n];
      if (o === 'accepted') item.resolve(true);
      else if (o === 'repeated') item.resolve(false);
      else if (isLateVote(o)) {
        if (snapshot) item.reject(o.refusal(snapshot.has(o.worker)));
      } else item.reject(o);
    });
  };

  const flush = async (): Promise<void> => {
    while (pending.size > 0) {
      const batches: [string, Pending[]][] = [];
      for (const [stream, items] of pending) {
        batches.push([stream, items.splice(0, MAX_BATCH)]);
        if (items.length === 0) pending.delete(stream);
      }
      await Promise.all(batches.map(([s, i]) => runBatch(s, i)));
    }
    flushing = false;
  };

  return {
    submit(cmd) {
      return new Promise<boolean>((resolve, reject) => {
        const stream = roundStream(cmd.solution, cmd.roundId);
        let q = pending.get(stream);
        if (!q) {
          q = [];
          pending.set(stream, q);
        }
        const trace = traceCarrier();
        q.push({ cmd, ...(trace ? { trace } : {}), resolve, reject });
        if (!flushing) {
          flushing = true;
          setImmediate(() => void flush());
        }
      });
    },
  };
}
