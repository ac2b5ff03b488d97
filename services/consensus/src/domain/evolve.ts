import { castVotes, decodeConsensusLog, roundClosedV1, unhandled } from '@ewx/contracts';
import type { RecordedEvent } from '@ewx/platform/domain';
import { extendMerkleTree, leafHash } from './merkle.js';
import { carryVoteCounts, voteCounts } from './tally.js';
import { evaluateRound } from './settle.js';
import {
  initialConsensusState,
  mayLeave,
  metadataKey,
  roundKey,
  solutionStream,
  type ConsensusState,
  type OperatorVoteMetadata,
  type ValidatedRound,
} from './state.js';

/**
 * The indexes of a round's votes in worker order. The snapshot is recorded sorted by worker and
 * every counted vote is a snapshot worker's, so walking the snapshot gives the order without a
 * sort; a snapshot found out of order (checked on the way) falls back to sorting.
 */
function byWorker(r: ValidatedRound): number[] {
  const at = new Map<string, number>();
  r.votes.forEach(([w], i) => {
    at.set(w, i);
  });
  const order: number[] = [];
  let previous: string | undefined;
  let sorted = true;
  for (const w of r.snapshot.keys()) {
    if (previous !== undefined && w <= previous) sorted = false;
    previous = w;
    const i = at.get(w);
    if (i !== undefined) order.push(i);
  }
  if (sorted && order.length === r.votes.length) return order;
  return r.votes
    .map((_, i) => i)
    .sort((a, b) => {
      const x = r.votes[a]![0],
        y = r.votes[b]![0];
      return x < y ? -1 : x > y ? 1 : 0;
    });
}

/**
 * Bounded memory: a decided round keeps its outcome, attestations, counts and the validators that
 * decided it; its snapshot, votes and leaves (the bulk, per vote) leave the state. No rule reads them
 * again: a late attestation needs only what the validator computes from them, kept as `evaluation`
 * when it is not the outcome itself. Proofs are computed from the round's events in the log.
 */
function dropVotes(r: ValidatedRound): void {
  if (r.votesDropped) return;
  const e = evaluateRound(r);
  if (JSON.stringify(e) !== JSON.stringify(r.outcome)) r.evaluation = e;
  r.snapshot = new Map();
  r.votes = [];
  r.leaves = [];
  r.votesDropped = true;
}

/** What a fold keeps of decided rounds: `rounds` (they stay in the state), `votes` (their snapshot, votes and leaves too). */
type Keep = 'none' | 'rounds' | 'votes';

/** Folds one recorded event (consensus' own or voting's, recorded from the inbox) into the state, in place. */
export const evolve = (s: ConsensusState, e: RecordedEvent): ConsensusState => fold(s, e, 'none');

/**
 * The same fold keeping every decided round's snapshot, votes and leaves: for tools that read the
 * whole log at once and look into old rounds (the audit's bundles and what-ifs), not for a service.
 */
export const evolveKeepingVotes = (s: ConsensusState, e: RecordedEvent): ConsensusState => fold(s, e, 'votes');

/**
 * The fold before decided rounds left the state: each keeps its outcome, attestations and counts in
 * `rounds` (its votes are dropped as by `evolve`). Tests compare the queries of both.
 */
export const evolveKeepingRounds = (s: ConsensusState, e: RecordedEvent): ConsensusState => fold(s, e, 'rounds');

/**
 * Rounds no decision reads again leave `rounds`, leaving nothing behind: where their attestations
 * and decision are in the log is in the decided-rounds projection (`app/decided.ts`), which the
 * queries read; no decision reads it.
 */
function leave(s: ConsensusState): void {
  for (const [key, r] of s.rounds) if (mayLeave(r, s.height)) s.rounds.delete(key);
}

/**
 * A round that left the state, as the state held it (outcome, attestations, counts; no votes), from
 * the events of its solution's stream between its first and last attestation (what a query shows:
 * status, outcome, attestations in their order, decidedBy).
 */
export function decidedFromEvents(solution: string, roundId: string, events: readonly RecordedEvent[]): ValidatedRound | undefined {
  const s = initialConsensusState();
  const key = roundKey(solution, roundId);
  s.rounds.set(key, { ...STUB, solution, roundId, snapshot: new Map(), votes: [], leaves: [], attestations: new Map() });
  for (const e of events) {
    const d = e.data as { solution?: unknown; roundId?: unknown } | null;
    if (d?.solution === solution && d.roundId === roundId) fold(s, e, 'votes');
  }
  const r = s.rounds.get(key)!;
  if (r.decidedBy === undefined) return undefined;
  // As the state held it: without its votes (a proof reads them from its inbox stream).
  r.snapshot = new Map();
  r.votes = [];
  r.leaves = [];
  r.votesDropped = true;
  return r;
}
const STUB: ValidatedRound = {
  solution: '',
  roundId: '',
  group: '',
  period: 0,
  endBlock: 0,
  quorumPercent: 0,
  voteThresholdPercent: 0,
  eligible: 0,
  snapshotChunks: 0,
  snapshotReceived: 0,
  snapshot: new Map(),
  voteChunks: 0,
  voteChunksReceived: 0,
  votesReceived: 0,
  votes: [],
  leaves: [],
  attestations: new Map(),
  status: 'OFF_CHAIN_VOTE',
};

/**
 * A round with its snapshot, votes (sorted by worker once closed) and leaves, from the events of its
 * inbox stream (`votingRoundInbox`): the fold the state made of them before the round was decided.
 * What an inclusion proof of a decided round is computed from.
 */
export function roundFromEvents(events: readonly RecordedEvent[]): ValidatedRound | undefined {
  const s = initialConsensusState();
  for (const e of events) fold(s, e, 'votes');
  return s.rounds.values().next().value;
}

function fold(s: ConsensusState, e: RecordedEvent, keep: Keep): ConsensusState {
  const ev = decodeConsensusLog(e);
  if (!ev) return s;
  switch (ev.type) {
    case 'BlockProduced':
      s.height = ev.data.height;
      if (keep === 'none') leave(s);
      break;
    case 'BlocksProduced':
      s.height = ev.data.to;
      if (keep === 'none') leave(s);
      break;
    case 'ValidatorSetConfigured':
      s.validators = [...ev.data.validators];
      if (ev.data.attestationWindow === undefined) delete s.attestationWindow;
      else s.attestationWindow = ev.data.attestationWindow;
      break;
    case 'RoundStarted': {
      const d = ev.data;
      const key = roundKey(d.solution, d.roundId);
      if (s.rounds.has(key)) break;
      s.rounds.set(key, {
        solution: d.solution,
        roundId: d.roundId,
        group: d.group,
        period: d.rewardPeriod,
        endBlock: d.endBlock,
        quorumPercent: d.quorumPercent,
        voteThresholdPercent: d.voteThresholdPercent,
        eligible: d.eligible,
        snapshotChunks: d.snapshotChunks,
        snapshotReceived: 0,
        snapshot: new Map(),
        voteChunks: 1,
        voteChunksReceived: 0,
        votesReceived: 0,
        votes: [],
        leaves: [],
        attestations: new Map(),
        status: 'ACTIVE',
      });
      break;
    }
    case 'RoundSnapshot': {
      const r = s.rounds.get(roundKey(ev.data.solution, ev.data.roundId));
      if (!r) break;
      for (const [w, o] of ev.data.workers) r.snapshot.set(w, o);
      r.snapshotReceived++;
      break;
    }
    case 'VoteCast':
    case 'VotesCast': {
      // The round's votes, carried once: recorded before its close, in the round's stream (one
      // vote a VoteCast, several appended together a VotesCast: the same votes, in order).
      const d = ev.data;
      const r = s.rounds.get(roundKey(d.solution, d.roundId));
      if (r?.status !== 'ACTIVE') break;
      for (const [worker, result] of castVotes(ev)) {
        r.votesReceived++;
        // A validator counts only votes of workers in the recorded snapshot (voting refuses the others;
        // this keeps the count independent of that check).
        if (!r.snapshot.has(worker)) continue;
        r.votes.push([worker, result]);
        r.leaves.push(leafHash(worker, result));
      }
      voteCounts(r.votes);
      break;
    }
    case 'RoundClosed': {
      const d = ev.data;
      const r = s.rounds.get(roundKey(d.solution, d.roundId));
      if (!r) break;
      const v1 = roundClosedV1(d);
      if (v1) {
        // A log written before votes were carried once: this chunk carries them, sorted by worker.
        for (const v of v1.votes) {
          if (!r.snapshot.has(v[0])) continue;
          r.votes.push([v[0], v[1]]);
          r.leaves.push(leafHash(v[0], v[1]));
        }
        r.voteChunks = v1.chunks;
        r.voteChunksReceived++;
      } else if (r.status === 'ACTIVE') {
        // The votes arrived as VoteCast events: sorted by worker now (the leaves with them), into new arrays.
        const order = byWorker(r);
        const arrived = r.votes;
        voteCounts(arrived);
        r.votes = order.map((i) => arrived[i]!);
        carryVoteCounts(arrived, r.votes);
        r.leaves = order.map((i) => r.leaves[i]!);
        r.submitted = d.submitted;
        r.voteChunksReceived = r.voteChunks;
      }
      // Count the results and fold the complete Merkle groups now, so settling costs only the right edge.
      voteCounts(r.votes);
      extendMerkleTree(r.leaves);
      if (r.status === 'ACTIVE') r.status = 'OFF_CHAIN_VOTE';
      break;
    }
    case 'AttestationRecorded': {
      const d = ev.data;
      const r = s.rounds.get(roundKey(d.solution, d.roundId));
      if (!r) break;
      r.attestations.set(d.validator, {
        validator: d.validator,
        tally: d.tally,
        merkleRoot: d.merkleRoot,
        signature: d.signature,
        dissent: d.dissent,
      });
      // Where its attestations are (its solution's stream), for when it leaves the state.
      if (e.streamId === solutionStream(d.solution)) r.attested = [r.attested?.[0] ?? e.version, Math.max(r.attested?.[1] ?? e.version, e.version)];
      break;
    }
    case 'RoundSettled':
    case 'RoundUnresolved': {
      const d = ev.data;
      const r = s.rounds.get(roundKey(d.solution, d.roundId));
      // v1 events carry no `validators`: the set that decided was the attestors and dissenters.
      if (r) {
        r.status = ev.type === 'RoundSettled' ? 'SETTLED' : 'UNRESOLVED';
        r.outcome = { tally: d.tally, merkleRoot: d.merkleRoot };
        r.decidedBy = d.validators ?? [...d.attestors, ...d.dissenters];
        // The height here is the one the decision was made at (it came with the attestation that tipped it).
        if (s.attestationWindow !== undefined) r.attestationsClose = Math.max(r.endBlock, s.height) + s.attestationWindow;
        // Its decision follows the attestation that tipped it: read back with its attestations.
        if (r.attested !== undefined && e.streamId === solutionStream(d.solution)) r.attested = [r.attested[0], Math.max(r.attested[1], e.version)];
        if (keep !== 'votes') dropVotes(r);
      }
      break;
    }
    case 'ResultChained': {
      const d = ev.data;
      let c = s.chains.get(d.solution);
      if (!c) {
        c = { length: 0, hash: '' };
        s.chains.set(d.solution, c);
      }
      c.length++;
      c.hash = d.hash;
      if (keep !== 'none') {
        c.entries ??= [];
        c.entries.push({ index: d.index, roundId: d.roundId, result: d.result, tally: d.tally, prevHash: d.prevHash, hash: d.hash });
      }
      break;
    }
    case 'VoteMetadata':
      // Folded out of the state: the vote-metadata projection (`app/metadata.ts`, `foldVoteMetadata`); no decision reads it.
      break;
    default:
      unhandled(ev);
  }
  return s;
}

/** `group|period` (`metadataKey`) → operator → eligible rounds and correct votes: what GetVoteMetadata answers. */
export type VoteCounts = Map<string, Map<string, OperatorVoteMetadata>>;

/**
 * Folds one event of consensus's log into the vote counts (`counts`): a VoteMetadata gives +1
 * eligible to each of its eligible operators and +1 correct to each of its correct ones. Returns
 * its group and reward period if it was one. Kept out of the decision state (no decision reads it): the projection
 * `app/metadata.ts` and the audit fold it from the log.
 */
export function foldVoteMetadata(counts: VoteCounts, e: RecordedEvent): { group: string; period: number } | undefined {
  if (e.type !== 'VoteMetadata') return undefined;
  const ev = decodeConsensusLog(e);
  if (ev?.type !== 'VoteMetadata') return undefined;
  const d = ev.data;
  const key = metadataKey(d.group, d.rewardPeriod);
  let m = counts.get(key);
  if (!m) {
    m = new Map();
    counts.set(key, m);
  }
  const get = (op: string): OperatorVoteMetadata => {
    let c = m.get(op);
    if (!c) {
      c = { eligible: 0, correct: 0 };
      m.set(op, c);
    }
    return c;
  };
  for (const op of d.eligibleOperators) get(op).eligible++;
  for (const op of d.correctOperators) get(op).correct++;
  return { group: d.group, period: d.rewardPeriod };
}
