import { votingEvent } from '@ewx/contracts';
import { isDomainError, type EventData, type RoundAlertEvent } from '@ewx/platform/domain';
import { RETRY_SUFFIX, startRound } from './start.js';
import { roundKey, type VotingState } from './state.js';

/**
 * Unresolved policy (SPEC §5, decided here): with RETRY_ONCE an unresolved round is followed by a
 * round `<id>#retry` over the same data, started by the system when the rules of §4 allow it now;
 * if the retry is unresolved too, or cannot start, an alert is emitted. Idempotent.
 * Events go to the stream of the round named in the result (`retryRoundId` or the original).
 */
export function reactToUnresolved(s: VotingState, solution: string, roundId: string): { roundId: string; events: EventData[] } {
  const r = s.rounds.get(roundKey(solution, roundId));
  if (r?.status !== 'UNRESOLVED' || r.unresolvedPolicy !== 'RETRY_ONCE' || r.alerted) return { roundId, events: [] };
  const alert = (reason: string): { roundId: string; events: EventData[] } => {
    const data: RoundAlertEvent = { solution, roundId, reason };
    return { roundId, events: [votingEvent({ type: 'RoundAlert', data })] };
  };
  if (r.retryOf !== undefined) return alert(`the retry of round ${r.retryOf} is unresolved too (${r.reason ?? 'unresolved'})`);
  const retryId = roundId + RETRY_SUFFIX;
  // The retry's id is used once its RoundStarted is folded: `retried` (or the retry in the state).
  if (r.retried || s.rounds.has(roundKey(solution, retryId))) return { roundId: retryId, events: [] };
  try {
    return { roundId: retryId, events: startRound(s, solution, retryId, { kind: 'retry', retryOf: roundId }).events };
  } catch (e) {
    if (!isDomainError(e)) throw e;
    return alert(`round ${roundId} is unresolved and its retry cannot start: ${e.message}`);
  }
}
