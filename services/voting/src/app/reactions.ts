import { decodeVotingLog } from '@ewx/contracts';
import { BLOCK_PRODUCED, type Logger, type Runtime } from '@ewx/platform';
import { closeRound, dueRounds, reactToUnresolved, roundStream, type VotingState } from '../domain/decider.js';

/**
 * Voting's process manager: when a block is recorded, expire the due rounds (Active → OffChainVote);
 * when consensus marks a round unresolved, apply the solution's unresolved policy. Each reaction is
 * idempotent, and all of them run once after start-up, so a crash in between loses nothing.
 */
export function startVotingReactions(runtime: Runtime<VotingState>, log: Logger): { stop(): Promise<void> } {
  let work: Promise<unknown> = Promise.resolve();
  let closeQueued = false;
  const run = (what: string, fn: () => Promise<unknown>): void => {
    work = work.then(fn).catch((e: Error) => log.warn(`voting reaction failed: ${what}`, { error: e.message }));
  };
  const closeDue = (): void => {
    if (closeQueued) return;
    closeQueued = true;
    run('close due rounds', async () => {
      closeQueued = false;
      for (const r of dueRounds(runtime.state())) {
        await runtime.execute(roundStream(r.solution, r.roundId), (s) => closeRound(s, r.solution, r.roundId));
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
    if (e.type === BLOCK_PRODUCED) closeDue();
    else {
      const d = decodeVotingLog(e);
      if (d?.type === 'RoundUnresolved') unresolved(d.data.solution, d.data.roundId);
    }
  });
  closeDue();
  for (const r of runtime.state().rounds.values()) if (r.status === 'UNRESOLVED') unresolved(r.solution, r.roundId);
  return { async stop() { off(); await work; } };
}
