import { decodeVotingLog, roundClosedV1, votingEvent, type RoundClosedV1Event } from '@ewx/contracts';
import type { EventData } from '@ewx/platform';
import { votingDecider } from '@ewx/voting';
import {
  closeRound,
  decideVotes,
  dueRounds,
  reactToUnresolved,
  roundKey,
  startRound,
  SYSTEM_STARTER,
  type PastRound,
  type PastRounds,
  type VotingState,
} from '@ewx/voting/domain/decider';
import { SubmitVoteRequest } from '@ewx/proto/voting';
import { canonical, fact, metaOf, type ServiceAudit } from '../runner.js';
import type { LogEvent } from '../types.js';
import type { SignatureJob } from '../verify.js';

export const SUBMIT_VOTE = '/ewx.v1.Voting/SubmitVote';

export interface ClosedRoundFact {
  position: bigint;
  votes: number;
}

/** A vote's signature check: the vote's data is the whole command, so the signed request is rebuilt from it. */
export function voteSignatureJob(e: LogEvent): SignatureJob | undefined {
  const ev = decodeVotingLog(e);
  const m = metaOf(e);
  if (ev?.type !== 'VoteCast' || m.signature === undefined || m.nonce === undefined || m.signer !== ev.data.worker) return undefined;
  const d = ev.data;
  const payload = votePayload(d.solution, d.roundId, Buffer.from(d.result, 'hex'));
  return { method: SUBMIT_VOTE, signer: d.worker, nonce: m.nonce, payload, signature: m.signature };
}

/**
 * The bytes of `SubmitVoteRequest{solution, round_id, result}` (auth unset) as
 * `SubmitVoteRequest.encode` writes them — fields 2, 3 and 4 in order, each left out when empty,
 * as tag, varint length and bytes — written straight into one buffer (the encoder's writer cost
 * more than the rest of building a vote's job). `verify.test.ts` compares both.
 */
export function votePayload(solution: string, roundId: string, result: Uint8Array): Uint8Array {
  if (typeof solution !== 'string' || typeof roundId !== 'string')
    return SubmitVoteRequest.encode({ auth: undefined, solution, roundId, result: Buffer.from(result) }).finish();
  const sl = Buffer.byteLength(solution, 'utf8');
  const rl = Buffer.byteLength(roundId, 'utf8');
  const field = (n: number): number => (n === 0 ? 0 : 1 + varintSize(n) + n);
  const out = Buffer.allocUnsafe(field(sl) + field(rl) + field(result.length));
  let at = 0;
  const head = (tag: number, n: number): void => {
    out[at++] = tag;
    let v = n;
    while (v > 0x7f) {
      out[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    out[at++] = v;
  };
  if (sl > 0) {
    head(18, sl);
    at += out.write(solution, at, 'utf8');
  }
  if (rl > 0) {
    head(26, rl);
    at += out.write(roundId, at, 'utf8');
  }
  if (result.length > 0) {
    head(34, result.length);
    out.set(result, at);
    at += result.length;
  }
  return out;
}

const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

/** [worker, result] pairs per chunk of a v1 RoundClosed. */
const V1_VOTES_CHUNK = 2000;

/**
 * The close as voting wrote it before votes were carried once (RoundClosed v1, in logs written
 * then): the recorded votes sorted by worker, in chunks. Only the audit of such logs needs it.
 */
function closeRoundV1(s: VotingState, solution: string, roundId: string): EventData[] {
  const closed = closeRound(s, solution, roundId);
  if (closed.length === 0) return [];
  const votes = [...s.rounds.get(roundKey(solution, roundId))!.votes].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const chunks = Math.max(1, Math.ceil(votes.length / V1_VOTES_CHUNK));
  return Array.from({ length: chunks }, (_, c): EventData => {
    const data: RoundClosedV1Event = {
      solution,
      roundId,
      height: s.height,
      submitted: votes.length,
      chunk: c,
      chunks,
      votes: votes.slice(c * V1_VOTES_CHUNK, (c + 1) * V1_VOTES_CHUNK),
    };
    return votingEvent({ type: 'RoundClosed', data });
  });
}

/**
 * Voting: every round start re-decided (the eligibility snapshot recomputed from the registry's
 * events in voting's log), every vote re-decided (eligibility, one vote per worker, the round
 * open, the nonce), every close and retry re-decided from the state before it.
 */
export function votingAudit(): ServiceAudit<VotingState> {
  // The rounds started so far in the log (the service's state keeps nothing of a finished round: a
  // decision about one takes the log's record of it, `PastRound`; the audit keeps that record itself).
  const started = new Map<string, PastRound>();
  const past: PastRounds = (solution, roundId) => started.get(roundKey(solution, roundId));
  return {
    service: 'voting',
    decider: votingDecider,
    own(e, s, ctx) {
      const m = metaOf(e);
      const ev = decodeVotingLog(e);
      switch (ev?.type) {
        case 'RoundStarted': {
          const d = ev.data;
          ctx.count('round-start');
          if (d.starter === SYSTEM_STARTER) {
            if (m.signer !== undefined) ctx.diverge('round-start', `a retry round signed by ${m.signer}`);
            if (d.retryOf === undefined) {
              ctx.diverge('round-start', `round ${d.roundId} started by the system names no round it retries`);
              return;
            }
            const r = reactToUnresolved(s, d.solution, d.retryOf);
            ctx.expect('round-start', r.events);
            return;
          }
          if (m.signer !== undefined && m.signer !== d.starter)
            ctx.diverge('round-start', `round ${d.roundId} names ${d.starter} as its starter but is signed by ${m.signer}`);
          const decided = startRound(s, d.solution, d.roundId, { kind: 'account', address: d.starter }, past);
          ctx.expect('round-start', decided.events);
          if (m.signer === undefined) {
            // Started by a worker's first vote: that vote follows in the same append.
            const next = ctx.peek(decided.events.length);
            const v = next && decodeVotingLog(next);
            if (v?.type !== 'VoteCast' || next!.streamId !== e.streamId || v.data.worker !== d.starter) {
              ctx.diverge(
                'round-start',
                `round ${d.roundId} is signed by nobody and not followed by its starter's vote (a round is started by its registrar's command or a worker's first vote)`,
              );
            }
          }
          return;
        }
        case 'VoteCast': {
          const d = ev.data;
          ctx.count('vote');
          if (m.signer !== d.worker || m.nonce === undefined) {
            ctx.diverge('vote', `a vote of ${d.worker} signed by ${m.signer ?? 'nobody'}`);
            return;
          }
          if (m.signature !== undefined) {
            // The job (the SubmitVote request encoded again) only when signatures are checked; the one built for the worker threads if there is one.
            const job = ctx.checkingSignatures ? (ctx.serviceSignatures()[0] ?? voteSignatureJob(e)) : undefined;
            const signature = m.signature;
            ctx.signatureCheck(job, () =>
              ctx.diverge('signature', `the vote's signature is not ${d.worker}'s over SubmitVote of this round and result (nonce ${m.nonce})`, {
                recorded: `result ${d.result}, signature ${signature}`,
              }),
            );
          }
          const { events, outcomes } = decideVotes(
            s,
            [{ solution: d.solution, roundId: d.roundId, worker: d.worker, result: d.result, nonce: BigInt(m.nonce) }],
            ctx.lastNonce,
            past,
          );
          const o = outcomes[0];
          if (o !== 'accepted') {
            ctx.diverge('vote', `the rules do not accept this vote: ${o === 'repeated' ? 'the worker already voted this result' : (o as Error).message}`, {
              recorded: canonical(e),
            });
            return;
          }
          ctx.expect(
            'vote',
            events.map((x): EventData => ({ type: x.type, data: x.data })),
          );
          return;
        }
        case 'RoundClosed': {
          const d = ev.data;
          ctx.count('round-close');
          if (!dueRounds(s).some((r) => r.solution === d.solution && r.roundId === d.roundId)) {
            ctx.diverge(
              'round-close',
              `round ${d.roundId} of ${d.solution} is closed at height ${s.height}, but it is not due (not active or its end block not reached)`,
            );
            return;
          }
          ctx.expect('round-close', roundClosedV1(d) ? closeRoundV1(s, d.solution, d.roundId) : closeRound(s, d.solution, d.roundId));
          return;
        }
        case 'RoundAlert': {
          const d = ev.data;
          ctx.count('round-alert');
          ctx.expect('round-alert', reactToUnresolved(s, d.solution, d.roundId).events);
          return;
        }
        default:
          ctx.diverge('rules', `${e.type} is not an event voting writes`);
      }
    },
    signatures: (e) => {
      const j = voteSignatureJob(e);
      return j ? [j] : [];
    },
    after(e, _s, ctx) {
      const ev = decodeVotingLog(e);
      if (ev?.type === 'RoundStarted' && !e.streamId.startsWith('inbox:'))
        started.set(roundKey(ev.data.solution, ev.data.roundId), { endBlock: ev.data.endBlock });
      if (ev?.type === 'RoundClosed' && !e.streamId.startsWith('inbox:')) {
        const d = ev.data;
        if ((roundClosedV1(d)?.chunk ?? 0) === 0)
          fact(ctx.cross, 'voting.closed', () => new Map<string, ClosedRoundFact>()).set(roundKey(d.solution, d.roundId), {
            position: e.position,
            votes: d.submitted,
          });
      }
    },
  };
}
