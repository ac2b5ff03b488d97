import {
  BLOCK_PRODUCED, type AttestationRecordedEvent, type BlockProduced, type RecordedEvent, type ResultChainedEvent, type RoundClosedEvent,
  type RoundSettledEvent, type RoundSnapshotEvent, type RoundStartedEvent, type RoundUnresolvedEvent, type ValidatorSetConfiguredEvent,
  type VoteMetadataEvent,
} from '@ewx/platform';
import { leafHash } from './merkle.js';
import { metadataKey, roundKey, type ConsensusState } from './state.js';

type Handler = (s: ConsensusState, data: never) => void;

const handlers: Record<string, Handler> = {
  [BLOCK_PRODUCED]: (s, d: BlockProduced) => { s.height = d.height; },
  ValidatorSetConfigured: (s, d: ValidatorSetConfiguredEvent) => { s.validators = [...d.validators]; },
  RoundStarted: (s, d: RoundStartedEvent) => {
    const key = roundKey(d.solution, d.roundId);
    if (s.rounds.has(key)) return;
    s.rounds.set(key, {
      solution: d.solution, roundId: d.roundId, group: d.group, period: d.period, quorumPercent: d.quorumPercent,
      voteThresholdPercent: d.voteThresholdPercent, eligible: d.eligible, snapshotChunks: d.snapshotChunks, snapshotReceived: 0,
      snapshot: new Map(), voteChunks: 1, voteChunksReceived: 0, votes: [], leaves: [], attestations: new Map(), status: 'OPEN',
    });
  },
  RoundSnapshot: (s, d: RoundSnapshotEvent) => {
    const r = s.rounds.get(roundKey(d.solution, d.roundId));
    if (!r) return;
    for (const [w, o] of d.workers) r.snapshot.set(w, o);
    r.snapshotReceived++;
  },
  RoundClosed: (s, d: RoundClosedEvent) => {
    const r = s.rounds.get(roundKey(d.solution, d.roundId));
    if (!r) return;
    // A validator counts only votes of workers in the recorded snapshot (voting refuses the others;
    // this keeps the count independent of that check).
    for (const v of d.votes) {
      if (!r.snapshot.has(v[0])) continue;
      r.votes.push([v[0], v[1]]);
      r.leaves.push(leafHash(v[0], v[1]));
    }
    r.voteChunks = d.chunks;
    r.voteChunksReceived++;
    if (r.status === 'OPEN') r.status = 'CLOSED';
  },
  AttestationRecorded: (s, d: AttestationRecordedEvent) => {
    s.rounds.get(roundKey(d.solution, d.roundId))?.attestations.set(d.validator, {
      validator: d.validator, tally: d.tally, merkleRoot: d.merkleRoot, signature: d.signature, dissent: d.dissent,
    });
  },
  RoundSettled: (s, d: RoundSettledEvent) => {
    const r = s.rounds.get(roundKey(d.solution, d.roundId));
    if (r) { r.status = 'SETTLED'; r.outcome = { tally: d.tally, merkleRoot: d.merkleRoot }; r.decidedBy = d.validators ?? [...d.attestors, ...d.dissenters]; }
  },
  RoundUnresolved: (s, d: RoundUnresolvedEvent) => {
    const r = s.rounds.get(roundKey(d.solution, d.roundId));
    if (r) { r.status = 'UNRESOLVED'; r.outcome = { tally: d.tally, merkleRoot: d.merkleRoot }; r.decidedBy = d.validators ?? [...d.attestors, ...d.dissenters]; }
  },
  ResultChained: (s, d: ResultChainedEvent) => {
    let c = s.chains.get(d.solution);
    if (!c) s.chains.set(d.solution, (c = []));
    c.push({ index: d.index, roundId: d.roundId, result: d.result, tally: d.tally, prevHash: d.prevHash, hash: d.hash });
  },
  VoteMetadata: (s, d: VoteMetadataEvent) => {
    const key = metadataKey(d.group, d.period);
    let m = s.metadata.get(key);
    if (!m) s.metadata.set(key, (m = new Map()));
    const get = (op: string) => { let c = m!.get(op); if (!c) m!.set(op, (c = { eligible: 0, correct: 0 })); return c; };
    for (const op of d.eligibleOperators) get(op).eligible++;
    for (const op of d.correctOperators) get(op).correct++;
  },
};

export function evolve(s: ConsensusState, e: RecordedEvent): ConsensusState {
  handlers[e.type]?.(s, e.data as never);
  return s;
}
