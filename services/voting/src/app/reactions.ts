import { BLOCK_PRODUCED, traceCauses, type Logger, type RoundUnresolvedEvent, type Runtime } from '@ewx/platform';
import { closeRound, dueRounds, reactToUnresolved, roundStream, type VotingState } from '../domain/decider.js';

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
        const stream = roundStream(r.solution, r.roundId);
        await causes.follow(stream, () => runtime.execute(stream, (s) => closeRound(s, r.solution, r.roundId)));
      }
    });
  };
  const unresolved = (solution: string, roundId: string): void => {
    run(`unresolved policy of ${roundId}`, async () => {
      const target = reactToUnresolved(runtime.state(), solution, roundId).roundId;
      await runtime.execute(roundStream(solution, target), (s) => reactToUnresolved(s, solution, roundId).events);
    });
  };
  const off = runtime.onEvent((e) => {
    if (e.type === 'VoteCast' || e.type === 'RoundStarted') { const d = e.data as { solution: string; roundId: string }; causes.note(roundStream(d.solution, d.roundId)); }
    if (e.type === BLOCK_PRODUCED) closeDue();
    else if (e.type === 'RoundUnresolved') { const d = e.data as unknown as RoundUnresolvedEvent; unresolved(d.solution, d.roundId); }
  });
  closeDue();
  for (const r of runtime.state().rounds.values()) if (r.status === 'UNRESOLVED') unresolved(r.solution, r.roundId);
  return { async stop() { off(); await work; } };
}
