import {
  authenticate,
  enumField,
  grpcStatusOf,
  pagedByKey,
  invalid,
  nameField,
  notFound,
  pageAfterOf,
  tokenAfter,
  proven,
  serviceStatus,
  watchHandler,
  shown,
  statusMessage,
  unary,
  type GrpcService,
  type HeightSync,
  type Logger,
  type Runtime,
} from '@ewx/platform';
import {
  RoundState,
  StartRoundRequest,
  SubmitVoteRequest,
  UnresolvedReason,
  VotingService,
  type GetRoundRequest,
  type GetRoundSnapshotRequest,
  type ListRoundsRequest,
  type Round as RoundMsg,
  type SubmitVotesRequest,
  type VoteStatus,
} from '@ewx/proto/voting';
import { roundArchive } from '../app/archive.js';
import { voteBatcher } from '../app/batcher.js';
import { closedOf, roundListing, type ListingEntry, type RoundListing } from '../app/listing.js';
import { executeOnRound, pastRounds } from '../app/past.js';
import { authenticateWith, type Verifier } from '../app/verifier.js';
import { roundKey, startRound, validateRoundId, type Round, type VoteCommand, type VotingState } from '../domain/decider.js';

const M = '/ewx.v1.Voting/';
const STATE: Record<Round['status'], RoundState> = {
  ACTIVE: RoundState.ROUND_STATE_ACTIVE,
  OFF_CHAIN_VOTE: RoundState.ROUND_STATE_OFF_CHAIN_VOTE,
  SETTLED: RoundState.ROUND_STATE_SETTLED,
  UNRESOLVED: RoundState.ROUND_STATE_UNRESOLVED,
};

/** The reasons a tally leaves a round unresolved (contracts' Tally.reason), as the wire's enum. */
const REASON: Readonly<Record<string, UnresolvedReason>> = {
  NO_QUORUM: UnresolvedReason.UNRESOLVED_REASON_NO_QUORUM,
  NO_MAJORITY: UnresolvedReason.UNRESOLVED_REASON_NO_MAJORITY,
  TIE: UnresolvedReason.UNRESOLVED_REASON_TIE,
};

const STATUS_OF = new Map(Object.entries(STATE).map(([k, v]) => [v, k as Round['status']]));

const ROUND_STATES = Object.values(RoundState).filter((v): v is number => typeof v === 'number' && v >= 0);

function toMessage(r: Round): RoundMsg {
  const closed = r.status !== 'ACTIVE';
  let top = r.top ?? 0;
  if (closed && r.top === undefined) {
    if (r.closedTop !== undefined) top = r.closedTop;
    else {
      const counts = new Map<string, number>();
      for (const v of r.votes.values()) counts.set(v, (counts.get(v) ?? 0) + 1);
      top = Math.max(0, ...counts.values());
    }
  }
  return {
    solution: r.solution,
    roundId: r.roundId,
    group: r.group,
    state: STATE[r.status],
    starter: r.starter,
    startBlock: BigInt(r.startBlock),
    endBlock: BigInt(r.endBlock),
    period: r.period,
    rewardPeriod: r.period,
    quorumPercent: r.quorumPercent,
    voteThresholdPercent: r.voteThresholdPercent,
    unresolvedPolicy: r.unresolvedPolicy,
    retryOf: r.retryOf ?? '',
    tally: closed ? { eligible: r.eligible, submitted: r.submitted ?? r.votes.size, top } : undefined,
    result: Buffer.from(r.result ?? '', 'hex'),
    unresolvedReason: r.reason ?? '',
    merkleRoot: r.merkleRoot ?? '',
    alerted: r.alerted,
    eligible: r.eligible,
    reason: (r.reason === undefined ? undefined : REASON[r.reason]) ?? UnresolvedReason.UNRESOLVED_REASON_UNSPECIFIED,
  };
}

export function votingGrpc(
  runtime: Runtime<VotingState>,
  log: Logger,
  verifier: Verifier,
  heights?: HeightSync,
  opts: { keptRounds?: number; listing?: RoundListing } = {},
): GrpcService {
  const archive = roundArchive(runtime.store, opts.keptRounds);
  const past = pastRounds(runtime.store);
  const batcher = voteBatcher(runtime, log, archive, past);
  // The rounds per solution in starting order, and what a finished round keeps: a projection of the log (app/listing.ts).
  const listing = opts.listing ?? roundListing(runtime.store);
  const checked = async (req: SubmitVoteRequest): Promise<VoteCommand> => {
    const auth = await authenticateWith(verifier, M + 'SubmitVote', req, (m) => SubmitVoteRequest.encode(m).finish());
    nameField('solution', req.solution);
    validateRoundId(req.roundId, false);
    if (req.result.length < 1 || req.result.length > 64) throw invalid('result', `expected 1 to 64 bytes, got ${req.result.length}`);
    return {
      solution: req.solution,
      roundId: req.roundId,
      worker: auth.signer,
      result: Buffer.from(req.result).toString('hex'),
      nonce: auth.nonce,
      signature: Buffer.from(req.auth!.signature).toString('hex'),
    };
  };
  // A vote takes its place in the order of arrival before its signature is checked (see voteBatcher).
  const vote = (req: SubmitVoteRequest): Promise<boolean> => batcher.enqueue(checked(req));
  /** A round as the state holds it, or as it held it before it left (finished: read back from the log, see roundArchive). */
  const get = async (solution: string, roundId: string): Promise<Round> => {
    nameField('solution', solution);
    validateRoundId(roundId, false);
    const s = runtime.state();
    if (!s.solutions.has(solution)) throw notFound(`solution: solution ${solution}`);
    const r = s.rounds.get(roundKey(solution, roundId));
    if (r) return r;
    await listing.catchUp(runtime.position());
    const done = await listing.get(solution, roundId);
    if (!done?.retired) throw notFound(`round_id: round ${shown(roundId)} of solution ${solution}`);
    return archive.finished(closedOf(done));
  };
  /** A round of a listing's page: in the state, or finished (read back), or — the listing ahead of the state — read from its stream. */
  const listed = async (x: ListingEntry): Promise<Round> => {
    const r = runtime.state().rounds.get(roundKey(x.solution, x.roundId));
    if (r) return r;
    if (x.retired) return archive.finished(closedOf(x));
    const read = await archive.read(x.solution, x.roundId);
    if (!read) throw new Error(`round ${x.roundId} of solution ${x.solution} is listed but its stream has no RoundStarted`);
    return read;
  };
  return {
    name: 'ewx.v1.Voting',
    definition: VotingService,
    implementation: {
      getStatus: unary(M + 'GetStatus', log, serviceStatus(runtime)),
      watch: watchHandler(M + 'Watch', runtime, log),
      startRound: unary(M + 'StartRound', log, async (req: StartRoundRequest) => {
        const auth = authenticate(M + 'StartRound', req, (m) => StartRoundRequest.encode(m).finish());
        nameField('solution', req.solution);
        validateRoundId(req.roundId);
        await heights?.sync(runtime); // the wall-clock height first (app/heights.ts)
        // A round that left the state: the log's record of it says the id is used (app/past.ts).
        await executeOnRound(
          runtime,
          past,
          req.solution,
          req.roundId,
          (s, known) =>
            proven(auth, (st: VotingState) => startRound(st, req.solution, req.roundId, { kind: 'account', address: auth.signer }, known).events)(s),
          auth,
        );
        return toMessage(await get(req.solution, req.roundId));
      }),
      submitVote: unary(M + 'SubmitVote', log, async (req: SubmitVoteRequest) => ({ accepted: await vote(req) })),
      submitVotes: unary(M + 'SubmitVotes', log, async (req: SubmitVotesRequest) => {
        if (req.votes.length > 10_000) throw invalid('votes', 'at most 10000 per call');
        const results = await Promise.all(
          req.votes.map((v) =>
            vote(v).then(
              (accepted): VoteStatus => ({ code: 0, message: '', accepted }),
              (e): VoteStatus => ({ code: grpcStatusOf(e), message: statusMessage(e), accepted: false }),
            ),
          ),
        );
        return { results };
      }),
      getRound: unary(M + 'GetRound', log, async (req: GetRoundRequest) => toMessage(await get(req.solution, req.roundId))),
      getRoundSnapshot: unary(M + 'GetRoundSnapshot', log, async (req: GetRoundSnapshotRequest) => {
        const found = await get(req.solution, req.roundId);
        // A closed round's snapshot is read from its stream in the log (bounded memory).
        const r = found.status === 'ACTIVE' ? found : ((await archive.read(found.solution, found.roundId)) ?? found);
        const { items, next } = pagedByKey(r.snapshot.keys(), req.page, (k) => r.snapshot.has(k));
        return {
          workers: items.map((worker) => ({ worker, operator: r.snapshot.get(worker)! })),
          eligible: r.eligible,
          complete: r.snapshot.size >= r.eligible,
          page: { nextPageToken: next },
        };
      }),
      listRounds: unary(M + 'ListRounds', log, async (req: ListRoundsRequest) => {
        nameField('solution', req.solution);
        enumField('state', req.state, ROUND_STATES);
        const { after, size } = pageAfterOf(req.page);
        // The solution's rounds in starting order, filtered and paged by the listing; a round in the state is shown from it, a finished one read back.
        await listing.catchUp(runtime.position());
        const status = req.state === RoundState.ROUND_STATE_UNSPECIFIED ? undefined : STATUS_OF.get(req.state);
        const { entries, more } = await listing.page(req.solution, status, after, size);
        const page = await Promise.all(entries.map(listed));
        return { rounds: page.map(toMessage), page: { nextPageToken: more ? tokenAfter(entries[entries.length - 1]!.seq) : '' } };
      }),
    },
  };
}
