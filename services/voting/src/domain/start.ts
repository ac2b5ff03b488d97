import {
  alreadyExists,
  denied,
  invalid,
  noControlChars,
  notFound,
  periodAt,
  precondition,
  type EventData,
  type RoundSnapshotEvent,
  type RoundStartedEvent,
} from '@ewx/platform/domain';
import { votingEvent } from '@ewx/contracts';
import { eligibleWorkers } from './eligibility.js';
import { noPastRounds, roundUsed, type PastRounds, type VotingState } from './state.js';

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
  noControlChars('round_id', roundId);
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
 * reward period. The snapshot is taken now and travels in the round's events. `past`: the rounds
 * that left the state, as the log records them (a round id is used once; see `PastRound`).
 */
export function startRound(s: VotingState, solution: string, roundId: string, starter: Starter, past: PastRounds = noPastRounds): StartedRound {
  const account = starter.kind === 'account' ? starter.address : undefined;
  if (account !== undefined) {
    validateRoundId(roundId);
    // The role first: an account that is neither a registrar nor a worker learns nothing about what exists.
    if (![...s.groups.values()].some((g) => g.owner === account) && !s.operatorOf.has(account)) {
      throw denied(`auth.signer: only a solution's registrar or an eligible worker may start rounds; ${account} is neither a registrar nor a connected worker`);
    }
  }
  const sol = s.solutions.get(solution);
  if (!sol) throw notFound(`solution: solution ${solution}`);
  if (account !== undefined && account !== sol.owner && sol.config.votingStartMethod !== 'WORKER') {
    throw denied(`auth.signer: solution ${solution} starts rounds by REGISTRAR only; ${account} is not its registrar`);
  }
  // A round that is done left `rounds`: the log's record of it (`past`) says the id is used.
  if (roundUsed(s, solution, roundId, past)) throw alreadyExists(`round_id: round ${roundId} of solution ${solution}`);
  if (sol.status !== 'ACTIVE') throw precondition(`solution: solution ${solution} is ${sol.status.toLowerCase()}: rounds start only while it is active`);
  const group = s.groups.get(sol.group);
  if (group && group.status !== 'ACTIVE')
    throw precondition(`solution: the group ${sol.group} of solution ${solution} is ${group.status.toLowerCase()}: no new rounds`);
  if (s.height > sol.config.expirationBlock) {
    throw precondition(`solution: solution ${solution} expired at block ${sol.config.expirationBlock} (now ${s.height}): no round starts after it`);
  }
  const period = periodAt(s.schedule, s.height);
  if (!period) throw precondition(`solution: no reward period contains block ${s.height} yet: rounds start once the period schedule is known`);
  const endBlock = s.height + sol.config.maxWaitingThreshold;
  if (endBlock > period.lastBlock) {
    throw precondition(
      `solution: a round would end at block ${endBlock} (start ${s.height} + maxWaitingThreshold ${sol.config.maxWaitingThreshold}), after the last block ${period.lastBlock} of reward period ${period.index}`,
    );
  }
  const snapshot = eligibleWorkers(s, solution, sol.group, period.index, sol.config.nominationsEnabled);
  if (account !== undefined && account !== sol.owner && !snapshot.has(account)) {
    throw denied(`auth.signer: ${account} is neither the registrar nor an eligible worker of solution ${solution}`);
  }
  const entries = [...snapshot];
  const chunks = Math.max(1, Math.ceil(entries.length / SNAPSHOT_CHUNK));
  const started: RoundStartedEvent = {
    solution,
    roundId,
    group: sol.group,
    starter: starter.kind === 'account' ? starter.address : SYSTEM_STARTER,
    startBlock: s.height,
    endBlock,
    rewardPeriod: period.index,
    quorumPercent: sol.config.quorumPercent,
    voteThresholdPercent: sol.config.voteThresholdPercent,
    unresolvedPolicy: sol.config.unresolvedPolicy,
    eligible: entries.length,
    snapshotChunks: chunks,
    ...(starter.kind === 'retry' ? { retryOf: starter.retryOf } : {}),
  };
  const events: EventData[] = [votingEvent({ type: 'RoundStarted', data: started })];
  for (let c = 0; c < chunks; c++) {
    const chunk: RoundSnapshotEvent = { solution, roundId, chunk: c, chunks, workers: entries.slice(c * SNAPSHOT_CHUNK, (c + 1) * SNAPSHOT_CHUNK) };
    events.push(votingEvent({ type: 'RoundSnapshot', data: chunk }));
  }
  return { events, started, snapshot };
}
