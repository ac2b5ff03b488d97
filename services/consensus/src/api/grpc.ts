import {
  addressField,
  authenticate,
  heightOf,
  nameField,
  notFound,
  optionalAddressField,
  paged,
  pageOf,
  proven,
  renamedField,
  serviceStatus,
  watchHandler,
  shown,
  textField,
  unary,
  type GrpcService,
  type Logger,
  type Runtime,
  keptReads,
  type EventStore,
  type LogPosition,
  type Tally,
} from '@ewx/platform';
import {
  ConsensusService,
  ProduceBlocksRequest,
  type GetResultChainRequest,
  type GetSettlementRequest,
  type GetVoteMetadataRequest,
  type GetVoteProofRequest,
  type RecordCountedBlocksRequest,
  type Tally as TallyMsg,
  TallyOutcome,
} from '@ewx/proto/consensus';
import { RoundState, UnresolvedReason } from '@ewx/proto/voting';
import { awaitEndedRounds, CHAIN_STREAM, type BlockClock, type CountedRecord, type SettleWait } from '../app/clock.js';
import { decidedRounds, type DecidedRounds } from '../app/decided.js';
import { voteMetadataRows, type VoteMetadataRows } from '../app/metadata.js';
import {
  checkProduceBlocks,
  decide,
  merkleProof,
  nextCut,
  roundFromEvents,
  roundKey,
  decidedFromEvents,
  solutionStream,
  votingRoundInbox,
  type ChainEntry,
  type ConsensusState,
  type ValidatedRound,
} from '../domain/decider.js';

const M = '/ewx.v1.Consensus/';
/** Decided rounds read back for proofs, kept: their events never change. */
const KEPT = 16;

/**
 * Decided rounds with their votes and leaves, folded from their inbox stream in the log (a decided
 * round keeps only its outcome in the state). Only for rounds the state has seen decided: every event
 * of the stream is then in the store. The last few are kept, so proofs of one round read it once.
 */
function roundArchive(store: EventStore): { read(solution: string, roundId: string): Promise<ValidatedRound | undefined> } {
  const kept = keptReads<ValidatedRound | undefined>(KEPT);
  return {
    read: (solution, roundId) => kept.read(roundKey(solution, roundId), () => store.readStream(votingRoundInbox(solution, roundId)).then(roundFromEvents)),
  };
}
/** Rounds that left the state read back (GetSettlement, GetVoteProof), kept: their events never change. */
export const KEPT_DECIDED = 1000;

/**
 * Rounds that left the state, as the state held them: their attestations and decision read back
 * from their solution's stream, one bounded read (`[from, to]`, from the decided-rounds projection
 * `app/decided.ts`, brought up to the state's position first); the last `KEPT_DECIDED` found kept
 * (a round not found is asked again next time: it may be decided later).
 */
function decidedArchive(
  store: EventStore,
  projection: DecidedRounds,
  position: () => LogPosition,
): { read(solution: string, roundId: string): Promise<ValidatedRound | undefined> } {
  const kept = keptReads<ValidatedRound>(KEPT_DECIDED);
  const unknown = new Error('not a decided round');
  return {
    async read(solution, roundId) {
      try {
        return await kept.read(roundKey(solution, roundId), async () => {
          await projection.catchUp(position());
          const at = await projection.where(solution, roundId);
          const back = at && decidedFromEvents(solution, roundId, await store.readStream(solutionStream(solution), at[0], at[1] - at[0] + 1));
          if (!back) throw unknown;
          return back;
        });
      } catch (e) {
        if (e === unknown) return undefined;
        throw e;
      }
    },
  };
}
/** The result chain entries recorded at versions `at` (ascending) of a solution's stream: one bounded read. */
async function chainEntries(store: EventStore, solution: string, at: readonly number[]): Promise<ChainEntry[]> {
  if (at.length === 0) return [];
  const events = await store.readStream(solutionStream(solution), at[0]!, at[at.length - 1]! - at[0]! + 1);
  const byVersion = new Map(events.map((e) => [e.version, e]));
  return at.map((v) => {
    const e = byVersion.get(v);
    if (e?.type !== 'ResultChained') throw new Error(`result chain of ${solution}: no ResultChained at version ${v} of its stream`);
    const d = e.data as unknown as ChainEntry;
    return { index: d.index, roundId: d.roundId, result: d.result, tally: d.tally, prevHash: d.prevHash, hash: d.hash };
  });
}
/** Round ids: 1..128 characters chosen by the starter, plus the `#retry` suffix of automatic retries. */
const MAX_ROUND_ID = 128 + '#retry'.length;

/** Consensus's round status in the lifecycle names voting uses (voting.proto RoundState). */
const ROUND_STATE: Record<ValidatedRound['status'], RoundState> = {
  ACTIVE: RoundState.ROUND_STATE_ACTIVE,
  OFF_CHAIN_VOTE: RoundState.ROUND_STATE_OFF_CHAIN_VOTE,
  SETTLED: RoundState.ROUND_STATE_SETTLED,
  UNRESOLVED: RoundState.ROUND_STATE_UNRESOLVED,
};
/** The deprecated `state` string keeps the words consensus answered with before the enum. */
const LEGACY_STATE: Record<ValidatedRound['status'], string> = { ACTIVE: 'OPEN', OFF_CHAIN_VOTE: 'CLOSED', SETTLED: 'SETTLED', UNRESOLVED: 'UNRESOLVED' };

const OUTCOME: Record<Tally['outcome'], TallyOutcome> = { SETTLED: TallyOutcome.TALLY_OUTCOME_SETTLED, UNRESOLVED: TallyOutcome.TALLY_OUTCOME_UNRESOLVED };
const REASON: Record<NonNullable<Tally['reason']>, UnresolvedReason> = {
  NO_QUORUM: UnresolvedReason.UNRESOLVED_REASON_NO_QUORUM,
  NO_MAJORITY: UnresolvedReason.UNRESOLVED_REASON_NO_MAJORITY,
  TIE: UnresolvedReason.UNRESOLVED_REASON_TIE,
};

const tallyMsg = (t: Tally): TallyMsg => ({
  eligible: t.eligible,
  submitted: t.submitted,
  top: t.top,
  outcome: t.outcome,
  result: Buffer.from(t.result ?? '', 'hex'),
  reason: t.reason ?? '',
  tallyOutcome: OUTCOME[t.outcome],
  unresolvedReason: t.reason ? REASON[t.reason] : UnresolvedReason.UNRESOLVED_REASON_UNSPECIFIED,
});

/**
 * RecordCountedBlocks as this process answers it: its block clock records what it counted and says
 * whether it produces; no clock (manual blocks, an observer) records nothing and answers the recorded
 * height — the network's with manual blocks (`producing`), possibly behind for an observer.
 */
export const recordCountedOf =
  (clock: () => BlockClock | undefined, runtime: Runtime<ConsensusState>, manual: boolean) =>
  async (atLeast = 0): Promise<CountedRecord & { producing: boolean }> => {
    const c = clock();
    if (c) return { ...(await c.recordCounted(atLeast)), producing: c.producing() };
    const height = runtime.state().height;
    return { height, recorded: 0, producing: manual, counted: height };
  };

/**
 * `recordCounted`: the block timer's RecordCountedBlocks and whether that timer produces now (no
 * timer — manual blocks, an observer — records nothing and answers the recorded height; with manual
 * blocks that height is the network's, so it answers `producing`). `projection`: where the rounds
 * that left the state and the result chains' entries are in the log (default: the store's,
 * `decidedRounds`), brought up to the state's position before each query that reads it; `metadata`:
 * the vote metadata per group, period and operator (default: the store's, `voteMetadataRows`), the
 * same; `counted`: the block timer's count while it produces, for GetStatus's counted_height.
 */
export function consensusGrpc(
  runtime: Runtime<ConsensusState>,
  admin: string,
  manual: boolean,
  log: Logger,
  settleWait: SettleWait = {},
  recordCounted: (atLeast?: number) => Promise<CountedRecord & { producing: boolean }> = recordCountedOf(() => undefined, runtime, manual),
  projection: DecidedRounds = decidedRounds(runtime.store),
  metadata: VoteMetadataRows = voteMetadataRows(runtime.store),
  counted: () => number | undefined = () => undefined,
): GrpcService {
  const archive = roundArchive(runtime.store);
  /** Rounds ProduceBlocks stopped waiting for (validators down): not waited for again. */
  const givenUp = new Set<string>();
  const decided = decidedArchive(runtime.store, projection, () => runtime.position());
  const round = async (solution: string, roundId: string): Promise<ValidatedRound> => {
    nameField('solution', solution);
    textField('round_id', roundId, 1, MAX_ROUND_ID);
    const st = runtime.state();
    const r = st.rounds.get(roundKey(solution, roundId));
    if (r) return r;
    // A round no decision reads any more left the state: read back from the log, where the
    // projection (folded at least as far as the state) says its attestations and decision are.
    const back = await decided.read(solution, roundId);
    if (back) return back;
    // Consensus knows rounds, not solutions: the pair names no round it has seen.
    throw notFound(`solution, round_id: round ${shown(roundId)} of solution ${solution}`);
  };
  return {
    name: 'ewx.v1.Consensus',
    definition: ConsensusService,
    implementation: {
      getStatus: unary(M + 'GetStatus', log, serviceStatus(runtime, counted)),
      watch: watchHandler(M + 'Watch', runtime, log),
      produceBlocks: unary(M + 'ProduceBlocks', log, async (req: ProduceBlocksRequest) => {
        const auth = authenticate(M + 'ProduceBlocks', req, (m) => ProduceBlocksRequest.encode(m).finish());
        const command = (count: number) => ({ type: 'ProduceBlocks', signer: auth.signer, admin, manual, count }) as const;
        checkProduceBlocks(command(req.count));
        // One event per run of blocks, cut at the end of each known round: before going past a
        // round's end, its outcome is awaited (awaitEndedRounds), so the other services see blocks,
        // closes and outcomes in the order one-by-one blocks gave them. The first run carries the
        // signature and nonce; the request was checked as a whole above.
        for (let done = 0; done < req.count; ) {
          await awaitEndedRounds(runtime, givenUp, log, settleWait);
          let n = 0;
          const run = (s: ConsensusState) => {
            n = nextCut(s, s.height, s.height + req.count - done) - s.height;
            return decide(command(n), s);
          };
          await runtime.execute(CHAIN_STREAM, done === 0 ? proven(auth, run) : run, done === 0 ? auth : undefined);
          done += n;
        }
        return { height: BigInt(runtime.state().height) };
      }),
      // Unsigned and harmless: only blocks whose time has passed are recorded, none when none is counted.
      // at_least: a service's own deadline (nothing is recorded while the count is below it).
      recordCountedBlocks: unary(M + 'RecordCountedBlocks', log, async (req: RecordCountedBlocksRequest) => {
        const r = await recordCounted(heightOf('at_least', req.atLeast));
        return { height: BigInt(r.height), recorded: BigInt(r.recorded), producing: r.producing, counted: BigInt(r.counted) };
      }),
      getVoteMetadata: unary(M + 'GetVoteMetadata', log, async (req: GetVoteMetadataRequest) => {
        nameField('group', req.group);
        optionalAddressField('operator', req.operator);
        const period = renamedField('reward_period', req.rewardPeriod, 'period', req.period, 0);
        // Not in the state: the projection, folded at least as far as the state, has the counts (sorted by operator).
        await metadata.catchUp(runtime.position());
        const { items, next } = paged(await metadata.period(req.group, period, req.operator), req.page);
        return { operators: items.map(([operator, c]) => ({ operator, eligibleRounds: c.eligible, correctVotes: c.correct })), page: { nextPageToken: next } };
      }),
      getResultChain: unary(M + 'GetResultChain', log, async (req: GetResultChainRequest) => {
        const chain = runtime.state().chains.get(nameField('solution', req.solution));
        // The entries are in the log, where the projection says (a fold that keeps everything has them in the state).
        let items: ChainEntry[];
        let next: string;
        if (chain?.entries) ({ items, next } = paged(chain.entries, req.page));
        else {
          // `paged` over the state's chain length: the projection may have folded past the state.
          const { offset, size } = pageOf(req.page);
          const length = chain?.length ?? 0;
          const count = Math.min(size, length - offset);
          next = offset + size < length ? String(offset + size) : '';
          if (count > 0) await projection.catchUp(runtime.position());
          items = await chainEntries(runtime.store, req.solution, count > 0 ? await projection.chain(req.solution, offset, count) : []);
        }
        return {
          entries: items.map((e) => ({
            index: e.index,
            roundId: e.roundId,
            result: Buffer.from(e.result, 'hex'),
            tally: tallyMsg(e.tally),
            prevHash: e.prevHash,
            hash: e.hash,
          })),
          page: { nextPageToken: next },
        };
      }),
      getVoteProof: unary(M + 'GetVoteProof', log, async (req: GetVoteProofRequest) => {
        const r = await round(req.solution, req.roundId);
        addressField('worker', req.worker);
        if (!r.outcome) throw notFound(`round_id: settlement of round ${req.roundId} (the proof is given once the round is settled or unresolved)`);
        // A decided round's votes and leaves left the state: they are folded again from its events in the log.
        const full = r.votesDropped ? ((await archive.read(r.solution, r.roundId)) ?? r) : r;
        const index = full.votes.findIndex(([w]) => w === req.worker);
        if (index < 0) throw notFound(`worker: vote of ${req.worker} in round ${req.roundId}`);
        const l = full.leaves;
        return {
          worker: req.worker,
          result: Buffer.from(full.votes[index]![1], 'hex'),
          leaf: l[index]!.toString('hex'),
          steps: merkleProof(l, index).map((s) => ({ position: s.position, group: [...s.group] })),
          merkleRoot: r.outcome.merkleRoot,
        };
      }),
      getNetwork: unary(M + 'GetNetwork', log, async () => {
        const st = runtime.state();
        const n = st.validators.length;
        return {
          admin,
          validators: [...st.validators],
          attestationsNeeded: n === 0 ? 0 : Math.floor((2 * n) / 3) + 1,
          height: BigInt(st.height),
          manualBlocks: manual,
        };
      }),
      getSettlement: unary(M + 'GetSettlement', log, async (req: GetSettlementRequest) => {
        const r = await round(req.solution, req.roundId);
        return {
          state: LEGACY_STATE[r.status],
          roundState: ROUND_STATE[r.status],
          tally: r.outcome ? tallyMsg(r.outcome.tally) : undefined,
          merkleRoot: r.outcome?.merkleRoot ?? '',
          attestations: [...r.attestations.values()].map((a) => ({
            validator: a.validator,
            tally: tallyMsg(a.tally),
            merkleRoot: a.merkleRoot,
            dissent: a.dissent,
            signature: a.signature,
          })),
          validators: [...runtime.state().validators],
        };
      }),
    },
  };
}
