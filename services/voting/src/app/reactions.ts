import { decodeVotingLog } from '@ewx/contracts';
import { isBlockEvent, startProcessManager, type Logger, type Runtime } from '@ewx/platform';
import { dueCommands, roundStream, votingDecider, type VotingState } from '../domain/decider.js';

/**
 * Voting's process manager: when a block is recorded, expire the due rounds (Active → OffChainVote);
 * when consensus marks a round unresolved, apply the solution's unresolved policy. Each command is
 * idempotent, and a pass runs at start-up, so a crash in between loses nothing.
 */
export function startVotingReactions(runtime: Runtime<VotingState>, log: Logger): { stop(): Promise<void> } {
  return startProcessManager(runtime, {
    decider: votingDecider,
    policy: undefined,
    log,
    failure: 'voting reaction failed; retried on the next trigger',
    due: dueCommands,
    triggers: (e) => isBlockEvent(e) || e.type === 'RoundUnresolved',
    // Telemetry only: a round's close continues the trace of its last vote (or its start).
    causeOf: (e) => {
      const d = decodeVotingLog(e);
      return d?.type === 'VoteCast' || d?.type === 'VotesCast' || d?.type === 'RoundStarted' ? roundStream(d.data.solution, d.data.roundId) : undefined;
    },
    causeKeyOf: (c) => (c.type === 'CloseRound' ? roundStream(c.solution, c.roundId) : undefined),
  });
}
