import { decodeVotingLog, unhandled, withEntry } from '@ewx/contracts';
import type { RecordedEvent } from '@ewx/platform/domain';
import {
  ALERTED_BIT,
  CLOSED_EMPTY,
  FACTS,
  SETTLED_CODE,
  UNRESOLVED_CODE,
  addRound,
  emptySolutionRounds,
  initialVotingState,
  roundKey,
  settlementStream,
  type Round,
  type VotingState,
} from './reference-index-state.js';

/*
 * The fourth baseline of bench/memory.bench.ts: voting's fold before the state became flat in
 * finished rounds (commit faf4098, h/flat): a finished round left `rounds` but kept its id, four
 * numbers and its filter bits in its solution's index (`bySolution`). Bench only; not used by the service.
 */

/**
 * Bounded memory: a round that is no longer Active keeps only its summary. No rule reads a closed
 * round's snapshot or votes again (a late vote is refused; see `LateVote` for the one refusal that
 * depends on the snapshot), and the queries that show them read the round's own stream
 * (`roundFromEvents`). What stays: the count of votes and of the most frequent result, for the status.
 * The emptied snapshot and votes are one shared empty map (`CLOSED_EMPTY`), not two per round: an
 * empty Map of its own costs ≈ 0.2 KB of heap, half of what a closed round kept.
 */
function leaveOpenState(r: Round): void {
  if (r.submitted !== undefined) return;
  const counts = new Map<string, number>();
  let top = 0;
  for (const v of r.votes.values()) {
    const n = (counts.get(v) ?? 0) + 1;
    counts.set(v, n);
    if (n > top) top = n;
  }
  r.submitted = r.votes.size;
  r.closedTop = top;
  r.votes = CLOSED_EMPTY;
  r.snapshot = CLOSED_EMPTY;
}

/** Where a round is in its solution's index, searched from the newest (the round being settled is usually among the last). */
const indexOf = (s: VotingState, r: Round): number => s.bySolution.get(r.solution)?.ids.lastIndexOf(r.roundId) ?? -1;

/**
 * A settlement (RoundSettled / RoundUnresolved) recorded: where it is, so the round can be read
 * back once it leaves the state. Only a settlement in consensus's stream of the solution
 * (`settlementStream`, as the service records it) lets the round leave (-2 otherwise).
 */
function noteSettlement(s: VotingState, r: Round, e: RecordedEvent): void {
  const i = indexOf(s, r);
  if (i >= 0) s.bySolution.get(r.solution)!.facts[i * FACTS + 3] = e.streamId === settlementStream(r.solution) ? e.version : -2;
}

/**
 * A round that is done — settled, or unresolved with its policy no longer owed — leaves `rounds`
 * and keeps its place in its solution's index with its code, end block and submitted votes (see
 * `SolutionRounds`). Nothing decides on it again but "a round id is used once" and a late vote's
 * refusal, which read the index (`closedRound`).
 */
function retire(s: VotingState, key: string): void {
  const r = s.rounds.get(key);
  if (!r || (r.status !== 'SETTLED' && r.status !== 'UNRESOLVED') || s.retryPending.has(key)) return;
  const i = indexOf(s, r);
  const facts = s.bySolution.get(r.solution)?.facts;
  if (!facts || i < 0 || facts[i * FACTS + 3]! < 0) return;
  facts[i * FACTS] = (r.status === 'SETTLED' ? SETTLED_CODE : UNRESOLVED_CODE) | (r.alerted ? ALERTED_BIT : 0);
  facts[i * FACTS + 2] = r.submitted ?? r.votes.size;
  s.rounds.delete(key);
  s.active.delete(key);
}

/** Folds one recorded event (voting's own or one recorded from the inbox) into the state, in place. */
export const evolve = (s: VotingState, e: RecordedEvent): VotingState => fold(s, e, false);

/**
 * `evolve` whose finished rounds never leave `rounds` (the state before they did, but for the
 * index): folds a finished round read back from the log (`app/archive.ts`), and is the reference
 * for the tests that check those answers. Not the service's state.
 */
export const evolveKeepingRounds = (s: VotingState, e: RecordedEvent): VotingState => fold(s, e, true);

function fold(s: VotingState, e: RecordedEvent, keep: boolean): VotingState {
  const ev = decodeVotingLog(e);
  if (!ev) return s;
  switch (ev.type) {
    case 'BlockProduced':
      s.height = ev.data.height;
      break;
    // A run of blocks: the rounds that ended inside it are closed by the reaction (consensus cuts runs at round ends).
    case 'BlocksProduced':
      s.height = ev.data.to;
      break;
    case 'RewardPeriodScheduleChanged':
      s.schedule = withEntry(s.schedule, ev.data);
      break;
    case 'GroupRegistered':
      s.groups.set(ev.data.group, { owner: ev.data.owner, status: 'ACTIVE' });
      break;
    case 'GroupStatusChanged': {
      const g = s.groups.get(ev.data.group);
      if (g) g.status = ev.data.status;
      break;
    }
    case 'SolutionRegistered': {
      const d = ev.data;
      s.solutions.set(d.solution, { solution: d.solution, owner: d.owner, group: d.config.group, config: d.config, status: 'ACTIVE' });
      break;
    }
    case 'SolutionStatusChanged': {
      const x = s.solutions.get(ev.data.solution);
      if (x) x.status = ev.data.status;
      break;
    }
    case 'WorkerNominated': {
      let n = s.nominations.get(ev.data.solution);
      if (!n) {
        n = new Set();
        s.nominations.set(ev.data.solution, n);
      }
      n.add(ev.data.worker);
      break;
    }
    case 'WorkerUnnominated':
      s.nominations.get(ev.data.solution)?.delete(ev.data.worker);
      break;
    case 'OperatorSubscribed': {
      let g = s.subscriptions.get(ev.data.group);
      if (!g) {
        g = new Map();
        s.subscriptions.set(ev.data.group, g);
      }
      g.set(ev.data.operator, { activeFromPeriod: ev.data.activeFromPeriod });
      break;
    }
    // A top-up does not delay eligibility: the stake was already active. Only an unknown subscription is created.
    case 'StakeToppedUp': {
      let g = s.subscriptions.get(ev.data.group);
      if (!g) {
        g = new Map();
        s.subscriptions.set(ev.data.group, g);
      }
      if (!g.has(ev.data.operator)) g.set(ev.data.operator, { activeFromPeriod: ev.data.activeFromPeriod });
      break;
    }
    case 'OperatorUnsubscribed': {
      const x = s.subscriptions.get(ev.data.group)?.get(ev.data.operator);
      if (x) x.finalPeriod = ev.data.finalPeriod;
      break;
    }
    case 'StakeReleased':
      s.subscriptions.get(ev.data.group)?.delete(ev.data.operator);
      break;
    case 'WorkerConnected':
      s.workerOf.set(ev.data.operator, ev.data.worker);
      s.operatorOf.set(ev.data.worker, ev.data.operator);
      break;
    case 'WorkerDisconnected': {
      const d = ev.data;
      if (s.workerOf.get(d.operator) === d.worker) s.workerOf.delete(d.operator);
      if (s.operatorOf.get(d.worker) === d.operator) s.operatorOf.delete(d.worker);
      break;
    }
    case 'RoundStarted': {
      const d = ev.data;
      const key = roundKey(d.solution, d.roundId);
      // The solution's and group's names, and the starter when it is the registrar, are the solution
      // view's strings, not one copy per round.
      const sol = s.solutions.get(d.solution);
      s.rounds.set(key, {
        solution: sol?.solution ?? d.solution,
        roundId: d.roundId,
        group: sol?.group === d.group ? sol.group : d.group,
        starter: sol?.owner === d.starter ? sol.owner : d.starter,
        startBlock: d.startBlock,
        endBlock: d.endBlock,
        period: d.rewardPeriod,
        quorumPercent: d.quorumPercent,
        voteThresholdPercent: d.voteThresholdPercent,
        unresolvedPolicy: d.unresolvedPolicy,
        ...(d.retryOf !== undefined ? { retryOf: d.retryOf } : {}),
        eligible: d.eligible,
        snapshot: new Map(),
        votes: new Map(),
        status: 'ACTIVE',
        alerted: false,
      });
      s.active.add(key);
      let l = s.bySolution.get(d.solution);
      if (!l) {
        l = emptySolutionRounds();
        s.bySolution.set(d.solution, l);
      }
      addRound(l, d.roundId, d.endBlock);
      if (d.retryOf !== undefined) {
        const original = roundKey(d.solution, d.retryOf);
        s.retryPending.delete(original);
        if (!keep) retire(s, original);
      }
      break;
    }
    // A round's snapshot and votes are recorded while it is Active (both are written in its own stream before its close).
    case 'RoundSnapshot': {
      const r = s.rounds.get(roundKey(ev.data.solution, ev.data.roundId));
      if (r?.status === 'ACTIVE') for (const [w, o] of ev.data.workers) r.snapshot.set(w, o);
      break;
    }
    case 'VoteCast': {
      const r = s.rounds.get(roundKey(ev.data.solution, ev.data.roundId));
      if (r?.status === 'ACTIVE') r.votes.set(ev.data.worker, ev.data.result);
      break;
    }
    case 'VotesCast': {
      const r = s.rounds.get(roundKey(ev.data.solution, ev.data.roundId));
      if (r?.status === 'ACTIVE') for (const [worker, result] of ev.data.votes) r.votes.set(worker, result);
      break;
    }
    case 'RoundClosed': {
      const key = roundKey(ev.data.solution, ev.data.roundId);
      const r = s.rounds.get(key);
      if (r && r.status === 'ACTIVE') {
        r.status = 'OFF_CHAIN_VOTE';
        leaveOpenState(r);
      }
      s.active.delete(key);
      break;
    }
    case 'RoundSettled': {
      const d = ev.data;
      const r = s.rounds.get(roundKey(d.solution, d.roundId));
      if (r) {
        leaveOpenState(r);
        Object.assign(r, { status: 'SETTLED', result: d.result, top: d.tally.top, merkleRoot: d.merkleRoot });
        noteSettlement(s, r, e);
        if (!keep) retire(s, roundKey(d.solution, d.roundId));
      }
      break;
    }
    case 'RoundUnresolved': {
      const d = ev.data;
      const r = s.rounds.get(roundKey(d.solution, d.roundId));
      if (r) {
        leaveOpenState(r);
        Object.assign(r, { status: 'UNRESOLVED', reason: d.reason, top: d.tally.top, merkleRoot: d.merkleRoot });
        noteSettlement(s, r, e);
      }
      if (r?.unresolvedPolicy === 'RETRY_ONCE' && !r.alerted) s.retryPending.add(roundKey(d.solution, d.roundId));
      if (!keep) retire(s, roundKey(d.solution, d.roundId));
      break;
    }
    case 'RoundAlert': {
      const key = roundKey(ev.data.solution, ev.data.roundId);
      const r = s.rounds.get(key);
      if (r) r.alerted = true;
      s.retryPending.delete(key);
      if (!keep) retire(s, key);
      break;
    }
    default:
      unhandled(ev);
  }
  return s;
}

/**
 * A round as it stood while Active — its snapshot and votes in the order recorded — from the events
 * of its own stream (`roundStream`): what the queries about a closed round read, since its snapshot
 * and votes left the state at its close. The same fold as the state's up to the close.
 */
export function roundFromEvents(events: readonly RecordedEvent[]): Round | undefined {
  const s = initialVotingState();
  for (const e of events) if (e.type === 'RoundStarted' || e.type === 'RoundSnapshot' || e.type === 'VoteCast' || e.type === 'VotesCast') evolve(s, e);
  return s.rounds.values().next().value;
}
