import { authenticate, notFound, proven, paged, serviceStatus, unary, type GrpcService, type Logger, type Runtime, type Tally } from '@ewx/platform';
import {
  ConsensusService, ProduceBlocksRequest, type GetResultChainRequest, type GetSettlementRequest, type GetVoteMetadataRequest,
  type GetVoteProofRequest, type Tally as TallyMsg,
} from '@ewx/proto/consensus';
import { CHAIN_STREAM } from '../app/clock.js';
import { decide, merkleProof, metadataKey, roundKey, type ConsensusState, type ValidatedRound } from '../domain/decider.js';

const M = '/ewx.v1.Consensus/';

const tallyMsg = (t: Tally): TallyMsg => ({
  eligible: t.eligible, submitted: t.submitted, top: t.top, outcome: t.outcome, result: Buffer.from(t.result ?? '', 'hex'), reason: t.reason ?? '',
});

export function consensusGrpc(runtime: Runtime<ConsensusState>, admin: string, manual: boolean, log: Logger): GrpcService {
  const round = (solution: string, roundId: string): ValidatedRound => {
    const r = runtime.state().rounds.get(roundKey(solution, roundId));
    if (!r) throw notFound(`round ${roundId} of solution ${solution}`);
    return r;
  };
  return {
    name: 'ewx.v1.Consensus',
    definition: ConsensusService,
    implementation: {
      getStatus: unary(M + 'GetStatus', log, serviceStatus(runtime)),
      produceBlocks: unary(M + 'ProduceBlocks', log, async (req: ProduceBlocksRequest) => {
        const auth = authenticate(M + 'ProduceBlocks', req, (m) => ProduceBlocksRequest.encode(m).finish());
        await runtime.execute(CHAIN_STREAM, proven(auth, (s) => decide({ type: 'ProduceBlocks', signer: auth.signer, admin, manual, count: req.count }, s)), auth);
        return { height: BigInt(runtime.state().height) };
      }),
      getVoteMetadata: unary(M + 'GetVoteMetadata', log, async (req: GetVoteMetadataRequest) => {
        const m = runtime.state().metadata.get(metadataKey(req.group, req.period)) ?? new Map();
        const rows = [...m].filter(([op]) => req.operator === '' || op === req.operator).sort((a, b) => (a[0] < b[0] ? -1 : 1));
        const { items, next } = paged(rows, req.page);
        return { operators: items.map(([operator, c]) => ({ operator, eligibleRounds: c.eligible, correctVotes: c.correct })), page: { nextPageToken: next } };
      }),
      getResultChain: unary(M + 'GetResultChain', log, async (req: GetResultChainRequest) => {
        const { items, next } = paged(runtime.state().chains.get(req.solution) ?? [], req.page);
        return {
          entries: items.map((e) => ({ index: e.index, roundId: e.roundId, result: Buffer.from(e.result, 'hex'), tally: tallyMsg(e.tally), prevHash: e.prevHash, hash: e.hash })),
          page: { nextPageToken: next },
        };
      }),
      getVoteProof: unary(M + 'GetVoteProof', log, async (req: GetVoteProofRequest) => {
        const r = round(req.solution, req.roundId);
        if (!r.outcome) throw notFound(`settlement of round ${req.roundId} (the proof is given once the round is settled or unresolved)`);
        const index = r.votes.findIndex(([w]) => w === req.worker);
        if (index < 0) throw notFound(`vote of ${req.worker} in round ${req.roundId}`);
        const l = r.leaves;
        return {
          worker: req.worker, result: Buffer.from(r.votes[index]![1], 'hex'), leaf: l[index]!.toString('hex'),
          steps: merkleProof(l, index).map((s) => ({ position: s.position, group: [...s.group] })), merkleRoot: r.outcome.merkleRoot,
        };
      }),
      getSettlement: unary(M + 'GetSettlement', log, async (req: GetSettlementRequest) => {
        const r = round(req.solution, req.roundId);
        return {
          state: r.status, tally: r.outcome ? tallyMsg(r.outcome.tally) : undefined, merkleRoot: r.outcome?.merkleRoot ?? '',
          attestations: [...r.attestations.values()].map((a) => ({
            validator: a.validator, tally: tallyMsg(a.tally), merkleRoot: a.merkleRoot, dissent: a.dissent, signature: a.signature,
          })),
          validators: [...runtime.state().validators],
        };
      }),
    },
  };
}
