import { alreadyExists, denied, invalid, notFound, periodAt, precondition, quote, type EventData, type RoundSnapshotEvent, type RoundStartedEvent } from '@ewx/platform';
import { eligibleWorkers } from './eligibility.js';
import { roundKey, type VotingState } from './state.js';

/** Snapshot entries per RoundSnapshot event: ~150 bytes each keeps a chunk far below 512 KiB. */
export const SNAPSHOT_CHUNK = 2000;
export const RETRY_SUFFIX = '#retry';
export const SYSTEM_STARTER = 'system';

/** Who asks for the round: the registrar's command, a worker (command or first vote), or the retry policy. */
export type Starter = { readonly kind: 'account'; readonly address: string } | { readonly kind: 'retry'; readonly retryOf: string };

/** A round id chosen by a starter: 1..128 printable characters, not ending in the retry suffix. */
export function validateRoundId(roundId: string, chosen = true): void {
  const max = chosen ? 128 : 128 + RETRY_SUFFIX.length;
  if (roundId.length < 1 || roundId.length > max) throw invalid('round_id', `expected 1 to ${max} characters, got ${roundId.length}`);
  if (/[\u0000-\u001f\u007f]/.test(roundId)) throw invalid('round_id', 'control characters are not allowed');
  if (chosen && roundId.endsWith(RETRY_SUFFIX)) throw invalid('round_id', `the suffix ${RETRY_SUFFIX} is reserved for automatic retries`);
}

export interface StartedRound {
  readonly events: EventData[];
  readonly started: RoundStartedEvent;
  readonly snapshot: Map<string, string>;
}

/**
 * SPEC §4 start rules: the solution is active and not expired, its group is active, the starter is
 * allowed by `votingStartMethod`, and start + maxWaitingThreshold ≤ the last block of the current
 * reward period. The snapshot is taken now and travels in the round's events.
 */
export function startRound(s: VotingState, solution: string, roundId: string, starter: Starter): StartedRound {
  if (starter.kind === 'account') validateRoundId(roundId);
  const sol = s.solutions.get(solution);
  if (!sol) throw notFound(`solution ${quote(solution)}`);
  if (s.rounds.has(roundKey(solution, roundId))) throw alreadyExists(`round ${roundId} of solution ${solution}`);
  if (sol.status !== 'ACTIVE') throw precondition(`solution ${solution} is ${sol.status.toLowerCase()}: rounds start only while it is active`);
  const group = s.groups.get(sol.group);
  if (group && group.status !== 'ACTIVE') throw precondition(`group ${sol.group} is ${group.status.toLowerCase()}: no new rounds`);
  if (s.height > sol.config.expirationBlock) {
    throw precondition(`solution ${solution} expired at block ${sol.config.expirationBlock} (now ${s.height}): no round starts after it`);
  }
  const period = periodAt(s.schedule, s.height);
  if (!period) throw precondition(`no reward period contains block ${s.height} yet: rounds start once the period schedule is known`);
  const endBlock = s.height + sol.config.maxWaitingThreshold;
  if (endBlock > period.lastBlock) {
    throw precondition(`round would end at block ${endBlock} (start ${s.height} + maxWaitingThreshold ${sol.config.maxWaitingThreshold}), after the last block ${period.lastBlock} of reward period ${period.index}`);
  }
  const snapshot = eligibleWorkers(s, solution, sol.group, period.index, sol.config.nominationsEnabled);
  if (starter.kind === 'account' && starter.address !== sol.owner) {
    if (sol.config.votingStartMethod !== 'WORKER') throw denied(`round start: solution ${solution} starts rounds by REGISTRAR only, ${starter.address} is not its registrar`);
    if (!snapshot.has(starter.address)) throw denied(`round start: ${starter.address} is neither the registrar nor an eligible worker of solution ${solution}`);
  }
  const entries = [...snapshot];
  const chunks = Math.max(1, Math.ceil(entries.length / SNAPSHOT_CHUNK));
  const started: RoundStartedEvent = {
    solution, roundId, group: sol.group, starter: starter.kind === 'account' ? starter.address : SYSTEM_STARTER,
    startBlock: s.height, endBlock, period: period.index, quorumPercent: sol.config.quorumPercent,
    voteThresholdPercent: sol.config.voteThresholdPercent, unresolvedPolicy: sol.config.unresolvedPolicy,
    eligible: entries.length, snapshotChunks: chunks, ...(starter.kind === 'retry' ? { retryOf: starter.retryOf } : {}),
  };
  const events: EventData[] = [{ type: 'RoundStarted', data: started as never }];
  for (let c = 0; c < chunks; c++) {
    const chunk: RoundSnapshotEvent = { solution, roundId, chunk: c, chunks, workers: entries.slice(c * SNAPSHOT_CHUNK, (c + 1) * SNAPSHOT_CHUNK) };
    events.push({ type: 'RoundSnapshot', data: chunk as never });
  }
  return { events, started, snapshot };
}
