import { decodeVotingLog } from '@ewx/contracts';
import { isBlockEvent, traceCauses, type Logger, type Runtime } from '@ewx/platform';
import { decide, dueRounds, streamOf, type VotingCommand, type VotingState } from '../domain/decider.js';

/**
 * Voting's process manager: when a block is recorded, expire the due rounds (Active → OffChainVote);
 * when consensus marks a round unresolved, apply the solution's unresolved policy. Each reaction is
 * idempotent, and all of them run once after start-up, so a crash in between loses nothing.
 */
export function startVotingReactions(runtime: Runtime<VotingState>, log: Logger): { stop(): Promise<void> } {
  let work: Promise<unknown> = Promise.resolve();
  let closeQueued = false;
  // Telemetry only: a round's close continues the trace of its last vote (see traceCauses).
  const causes = traceCauses();
  const run = (what: string, fn: () => Promise<unknown>): void => {
    work = work.then(fn).catch((e: Error) => log.warn(`voting reaction failed: ${what}`, { error: e.message }));
  };
  const closeDue = (): void => {
    if (closeQueued) return;
    closeQueued = true;
    run('close due rounds', async () => {
      closeQueued = false;
      for (const r of dueRounds(runtime.state())) {
        const c: VotingCommand = { type: 'CloseRound', solution: r.solution, roundId: r.roundId };
        const stream = streamOf(c, runtime.state());
        await causes.follow(stream, () => runtime.execute(stream, (s) => decide(c, s)));
      }
    });
  };
  const unresolved = (solution: string, roundId: string): void => {
    run(`unresolved policy of ${roundId}`, async () => {
      const c: VotingCommand = { type: 'ApplyUnresolvedPolicy', solution, roundId };
      await runtime.execute(streamOf(c, runtime.state()), (s) => decide(c, s));
    });
  };
  const off = runtime.onEvent((e) => {
    const d = decodeVotingLog(e);
    // Telemetry only: a round's close continues the trace of its last vote (or its start).
    if (d?.type === 'VoteCast' || d?.type === 'RoundStarted') causes.note(streamOf({ type: 'CloseRound', solution: d.data.solution, roundId: d.data.roundId }, runtime.state()));
    if (isBlockEvent(e)) closeDue();
    else if (d?.type === 'RoundUnresolved') unresolved(d.data.solution, d.data.roundId);
  });
  closeDue();
  for (const r of runtime.state().rounds.values()) if (r.status === 'UNRESOLVED') unresolved(r.solution, r.roundId);
  return { async stop() { off(); await work; } };
}
