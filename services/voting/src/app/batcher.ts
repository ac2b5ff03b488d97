import { traceCarrier, type Logger, type Runtime } from '@ewx/platform';
import { decideVotes, isLateVote, roundStream, type VoteCommand, type VotingState } from '../domain/decider.js';
import { roundArchive } from './archive.js';
import { executeOnRound, pastRounds, type PastRoundReader } from './past.js';

/** Votes per run at most (a run: one append per round in it): an append of ≤ 2000 rows stays well inside a transaction's comfort. */
export const MAX_BATCH = 2000;

interface Pending {
  readonly cmd: VoteCommand;
  readonly trace?: Record<string, string>;
  resolve(accepted: boolean): void;
  reject(e: unknown): void;
}

/**
 * Telemetry only: a VoteCast records its own caller's trace, not the batch's first; a VotesCast
 * (several votes in one event) the trace of its first vote's caller.
 */
const withCallerTraces = (items: readonly Pending[], events: ReturnType<typeof decideVotes>['events']): typeof events => {
  const traces = new Map(items.filter((i) => i.trace).map((i) => [`${i.cmd.worker}|${i.cmd.nonce}`, i.trace!]));
  if (traces.size === 0) return events;
  return events.map((e) => {
    const m = e.metadata as { signer?: string; nonce?: string; signers?: string[][] } | undefined;
    const [signer, nonce] = m?.signers?.[0] ?? [m?.signer, m?.nonce];
    const t = m && traces.get(`${signer}|${nonce}`);
    return t ? { ...e, metadata: { ...m, ...t } } : e;
  });
};

/** A vote's place in the order of arrival; `cmd` once its checks (the signature first) passed. */
interface Slot extends Pending {
  /** Checks still running; then `cmd` is the vote, or it was refused before deciding (`dropped`). */
  done: boolean;
  dropped?: boolean;
  cmd: VoteCommand;
}

export interface VoteBatcher {
  /** A vote already checked. */
  submit(cmd: VoteCommand): Promise<boolean>;
  /**
   * A vote whose checks are still running (its signature on a verify thread): it takes its place
   * in the order of arrival now and is decided once `checked` resolves, in that place. A rejected
   * `checked` is the vote's answer at once (it never reaches the log).
   */
  enqueue(checked: Promise<VoteCommand>): Promise<boolean>;
}

/**
 * Group commit, pipelined: votes are decided in the order they arrived (`enqueue`), not the order
 * their signatures came back. Each append takes the longest run of checked votes at the head of the
 * queue (at most MAX_BATCH), decided per round in one `execute` (one transaction) each; while it is
 * in flight the signatures of the next votes are checked on the verify threads, and whatever is
 * checked when it returns goes in the next append. Each vote gets its own answer; a refused vote
 * refuses only itself. A run stops before a vote whose signer already votes in another round in
 * the same run, so the decisions are those of deciding the votes one by one in order of arrival (a
 * signer's nonces are checked across rounds).
 */
export function voteBatcher(
  runtime: Runtime<VotingState>,
  log: Logger,
  archive = roundArchive(runtime.store),
  past: PastRoundReader = pastRounds(runtime.store),
): VoteBatcher {
  const queue: Slot[] = [];
  let running = false;
  let scheduled = false;

  const runBatch = async (stream: string, items: readonly Pending[]): Promise<void> => {
    let outcomes: ReturnType<typeof decideVotes>['outcomes'] = [];
    const { solution, roundId } = items[0]!.cmd;
    try {
      // A round that left the state: the log's record of it makes a vote late, never a start (app/past.ts).
      await executeOnRound(runtime, past, solution, roundId, (s, known) => {
        const r = decideVotes(
          s,
          items.map((i) => i.cmd),
          runtime.lastNonce,
          known,
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

  /** The checked votes at the head of the queue, in order (see the run rule above). */
  const take = (): Slot[] => {
    const run: Slot[] = [];
    const roundOf = new Map<string, string>();
    let n = 0;
    for (; n < queue.length && run.length < MAX_BATCH; n++) {
      const slot = queue[n]!;
      if (!slot.done) break;
      if (slot.dropped) continue;
      const stream = roundStream(slot.cmd.solution, slot.cmd.roundId);
      const other = roundOf.get(slot.cmd.worker);
      if (other !== undefined && other !== stream) break;
      roundOf.set(slot.cmd.worker, stream);
      run.push(slot);
    }
    queue.splice(0, n);
    return run;
  };

  const drain = async (): Promise<void> => {
    scheduled = false;
    running = true;
    try {
      for (let run = take(); run.length > 0; run = take()) {
        const byRound = new Map<string, Slot[]>();
        for (const slot of run) {
          const stream = roundStream(slot.cmd.solution, slot.cmd.roundId);
          const items = byRound.get(stream);
          if (items) items.push(slot);
          else byRound.set(stream, [slot]);
        }
        // The runtime runs the rounds' executes one after the other, in this order.
        await Promise.all([...byRound].map(([stream, items]) => runBatch(stream, items)));
      }
    } finally {
      running = false;
    }
  };

  /** Votes just checked: the loop takes them after its append in flight, or now (next turn) when idle. */
  const kick = (): void => {
    if (running || scheduled) return;
    scheduled = true;
    setImmediate(() => void drain());
  };

  const enqueue = (checked: Promise<VoteCommand>): Promise<boolean> =>
    new Promise<boolean>((resolve, reject) => {
      const trace = traceCarrier();
      const slot: Slot = { done: false, cmd: undefined as unknown as VoteCommand, ...(trace ? { trace } : {}), resolve, reject };
      queue.push(slot);
      checked.then(
        (cmd) => {
          slot.cmd = cmd;
          slot.done = true;
          kick();
        },
        (e: unknown) => {
          // Refused before deciding (a bad signature or field): its place is left empty.
          slot.done = true;
          slot.dropped = true;
          reject(e);
          kick();
        },
      );
    });

  return { enqueue, submit: (cmd) => enqueue(Promise.resolve(cmd)) };
}
