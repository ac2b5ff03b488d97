import { decodeVotingLog, MAX_VOTES_PER_EVENT, roundClosedV1, votingEvent, type RoundClosedV1Event, type VotesCastEvent } from '@ewx/contracts';
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
import { canonical, eventSigners, fact, isInbox, metaOf, type Ctx, type ServiceAudit } from '../runner.js';
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

/** One vote of a VotesCast with its signer's entry (`metadata.signers` at the same index). */
export interface CastVote {
  readonly index: number;
  readonly worker: string;
  readonly result: string;
  readonly nonce: string;
  readonly signature?: string;
}

/**
 * A VotesCast's votes, each with its signer, when the event is well formed; otherwise what is wrong
 * (each a rule it breaks): 1 to MAX_VOTES_PER_EVENT votes, as many signers in the metadata as votes,
 * signer i the worker of vote i, with a nonce (a decimal integer).
 */
export function votesCastShape(data: VotesCastEvent, metadata: unknown): { votes: CastVote[]; problems: string[] } {
  const problems: string[] = [];
  const votes: CastVote[] = [];
  const list: unknown = (data as { votes?: unknown } | null)?.votes;
  if (!Array.isArray(list)) return { votes, problems: ['VotesCast: `votes` is not a list'] };
  if (list.length === 0) problems.push(`VotesCast with no vote (a VotesCast holds 1 to ${MAX_VOTES_PER_EVENT} votes)`);
  if (list.length > MAX_VOTES_PER_EVENT)
    problems.push(`VotesCast with ${list.length} votes (a VotesCast holds at most MAX_VOTES_PER_EVENT = ${MAX_VOTES_PER_EVENT})`);
  const m = (metadata ?? {}) as { signers?: unknown };
  const raw: unknown[] = Array.isArray(m.signers) ? (m.signers as unknown[]) : [];
  if (!Array.isArray(m.signers)) problems.push('VotesCast without `metadata.signers` (one [worker, nonce, signature] per vote, in order)');
  else if (raw.length !== list.length)
    problems.push(`VotesCast with ${list.length} vote(s) and ${raw.length} signer(s) in metadata.signers (one signer per vote, in order)`);
  const signers = eventSigners(m);
  if (signers.length !== raw.length) problems.push('VotesCast: an entry of metadata.signers is not [worker, nonce, signature?] of texts');
  list.forEach((v: unknown, i: number) => {
    if (!Array.isArray(v) || typeof v[0] !== 'string' || typeof v[1] !== 'string') {
      problems.push(`VotesCast: vote ${i} is not [worker, result hex]`);
      return;
    }
    const sg = signers.length === raw.length ? signers[i] : undefined;
    if (sg === undefined) return;
    if (sg.signer !== v[0]) {
      problems.push(`VotesCast: vote ${i} is ${v[0]}'s but signer ${i} is ${sg.signer} (signer i signs vote i)`);
      return;
    }
    if (!/^[0-9]+$/.test(sg.nonce)) {
      problems.push(`VotesCast: vote ${i}'s nonce ${JSON.stringify(sg.nonce)} is not a decimal integer`);
      return;
    }
    votes.push({ index: i, worker: v[0], result: v[1], nonce: sg.nonce, ...(sg.signature !== undefined ? { signature: sg.signature } : {}) });
  });
  return { votes, problems };
}

/** The signed votes of a VotesCast whose signer is the vote's worker, in order (one signature job each). */
function signedVotesCast(data: VotesCastEvent, metadata: unknown): CastVote[] {
  const list: unknown = (data as { votes?: unknown } | null)?.votes;
  if (!Array.isArray(list)) return [];
  const signers = eventSigners((metadata ?? {}) as { signers?: unknown });
  const out: CastVote[] = [];
  list.forEach((v: unknown, i: number) => {
    const sg = signers[i];
    if (!Array.isArray(v) || typeof v[1] !== 'string' || sg?.signature === undefined || sg.signer !== v[0] || !/^[0-9]+$/.test(sg.nonce)) return;
    out.push({ index: i, worker: sg.signer, result: v[1], nonce: sg.nonce, signature: sg.signature });
  });
  return out;
}

/**
 * The vote signature checks of an event: a VoteCast's one, or one per signed vote of a VotesCast
 * (each vote of it is exactly a SubmitVote with the event's solution and round, its signer, nonce
 * and signature from `metadata.signers` at the vote's index).
 */
export function voteSignatureJobs(e: LogEvent): SignatureJob[] {
  if (e.type === 'VoteCast') {
    const j = voteSignatureJob(e);
    return j ? [j] : [];
  }
  const ev = e.type === 'VotesCast' ? decodeVotingLog(e) : undefined;
  if (ev?.type !== 'VotesCast') return [];
  const d = ev.data;
  return signedVotesCast(d, e.metadata).map((v) => ({
    method: SUBMIT_VOTE,
    signer: v.worker,
    nonce: v.nonce,
    payload: votePayload(d.solution, d.roundId, Buffer.from(v.result, 'hex')),
    signature: v.signature!,
  }));
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
 * A VotesCast's own checks, vote by vote: its shape (votesCastShape: each rule it breaks is a
 * divergence) and each signed vote's signature, exactly as a VoteCast's with the event's solution
 * and round. The votes when the event is well formed (then they are re-decided), else undefined.
 */
function checkVotesCast(e: LogEvent, d: VotesCastEvent, ctx: Ctx): CastVote[] | undefined {
  const { votes, problems } = votesCastShape(d, e.metadata);
  const list: unknown = (d as { votes?: unknown } | null)?.votes;
  for (let i = 0; i < (Array.isArray(list) ? list.length : 0); i++) ctx.count('vote');
  for (const p of problems)
    ctx.diverge('vote', p, { recorded: JSON.stringify({ votes: list, signers: (e.metadata as { signers?: unknown } | undefined)?.signers }) });
  const signed = signedVotesCast(d, e.metadata);
  if (signed.length > 0) {
    // The jobs built for the worker threads (one per signed vote, in order) when signatures are checked.
    let jobs = ctx.checkingSignatures ? ctx.serviceSignatures() : [];
    if (ctx.checkingSignatures && jobs.length !== signed.length) jobs = voteSignatureJobs(e);
    signed.forEach((v, k) => {
      ctx.signatureCheck(jobs[k], () =>
        ctx.diverge(
          'signature',
          `vote ${v.index} of this VotesCast: the signature is not ${v.worker}'s over SubmitVote of this round and result (nonce ${v.nonce})`,
          { recorded: `result ${v.result}, signature ${v.signature}` },
        ),
      );
    });
  }
  return problems.length === 0 ? votes : undefined;
}

/**
 * Voting: every round start re-decided (the eligibility snapshot recomputed from the registry's
 * events in voting's log), every vote re-decided (eligibility, one vote per worker, the round
 * open, the nonce; a VotesCast's votes together, as the append that wrote them), every close and
 * retry re-decided from the state before it.
 */
export function votingAudit(): ServiceAudit<VotingState> {
  // The rounds started so far in the log (the service's state keeps nothing of a finished round: a
  // decision about one takes the log's record of it, `PastRound`; the audit keeps that record itself).
  const started = new Map<string, PastRound>();
  const past: PastRounds = (solution, roundId) => started.get(roundKey(solution, roundId));
  /** The VotesCast whose votes `own` checked (the others are checked after they are applied). */
  let checked: LogEvent | undefined;
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
            // One vote is a VoteCast; several votes of one append a VotesCast, the starter's first.
            const firstVoter = v?.type === 'VoteCast' ? v.data.worker : v?.type === 'VotesCast' ? (v.data.votes as unknown[])[0] : undefined;
            const starterVoted = v?.type === 'VoteCast' ? firstVoter === d.starter : Array.isArray(firstVoter) && firstVoter[0] === d.starter;
            if (!starterVoted || next!.streamId !== e.streamId) {
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
        case 'VotesCast': {
          const d = ev.data;
          const votes = checkVotesCast(e, d, ctx);
          checked = e;
          if (votes === undefined) return;
          // One decision (one append): this event and, while each holds MAX_VOTES_PER_EVENT votes, the
          // next VotesCast of this round at this height (the rules cut the accepted votes of an append in
          // chunks of that size, in order). An append of exactly that many followed by another of the same
          // round at the same height reads the same: deciding both together gives the same events.
          const run: { at: LogEvent; votes: CastVote[] }[] = [{ at: e, votes }];
          for (let k = 1; run[run.length - 1]!.votes.length === MAX_VOTES_PER_EVENT; k++) {
            const next = ctx.peek(k);
            const nv = next && next.streamId === e.streamId ? decodeVotingLog(next) : undefined;
            if (nv?.type !== 'VotesCast' || nv.data.height !== d.height || nv.data.solution !== d.solution || nv.data.roundId !== d.roundId) break;
            const shape = votesCastShape(nv.data, next!.metadata);
            if (shape.problems.length > 0) break;
            run.push({ at: next!, votes: shape.votes });
          }
          const commands = run.flatMap((r) =>
            r.votes.map((v) => ({ solution: d.solution, roundId: d.roundId, worker: v.worker, result: v.result, nonce: BigInt(v.nonce) })),
          );
          const { events, outcomes } = decideVotes(s, commands, ctx.lastNonce, past);
          let n = 0;
          let refused = false;
          for (const r of run)
            for (const v of r.votes) {
              const o = outcomes[n++];
              if (o === 'accepted') continue;
              refused = true;
              ctx.diverge(
                'vote',
                `vote ${v.index} of this VotesCast (${v.worker}): the rules do not accept it: ${o === 'repeated' ? 'the worker already voted this result' : (o as Error).message}`,
                { recorded: JSON.stringify([v.worker, v.result]) },
                r.at,
              );
            }
          if (refused) return;
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
    signatures: voteSignatureJobs,
    after(e, _s, ctx) {
      const ev = decodeVotingLog(e);
      // A VotesCast another decision explained (the later chunks of one append): its votes are checked here.
      if (ev?.type === 'VotesCast' && checked !== e && !isInbox(e)) checkVotesCast(e, ev.data, ctx);
      checked = undefined;
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
