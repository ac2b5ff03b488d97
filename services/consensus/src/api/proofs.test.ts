import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  createRuntime,
  generateKeyPair,
  openPglite,
  pgliteEventStore,
  PROTO_ROOT,
  signBytes,
  silentLogger,
  startGrpcServer,
  type Runtime,
  type StartedServer,
} from '@ewx/platform';
import { expectStatus, rpc } from '@ewx/platform/testing';
import { ConsensusClient, type VoteProof } from '@ewx/proto/consensus';
import {
  attestationBytes,
  consensusDecider,
  decide,
  evaluateRound,
  leafHash,
  merkleProof,
  rootFromProof,
  roundKey,
  solutionStream,
  VALIDATORS_STREAM,
  type ConsensusState,
} from '../domain/decider.js';
import { votingFeed } from '../app/testing.js';
import { roundStartedData } from '../domain/testing.js';
import { consensusGrpc } from './grpc.js';

/**
 * Bounded memory through the API: a decided round's votes and leaves left the state, and
 * GetVoteProof answers byte for byte what it answered from them — checked against proofs built
 * from the state before they were dropped and from the round's VoteCast events alone.
 */
describe('consensus API: proofs of decided rounds are computed from the log', () => {
  const validator = generateKeyPair();
  const workers = Array.from({ length: 40 }, () => generateKeyPair().address);
  const operators = workers.map(() => generateKeyPair().address);
  const outsider = generateKeyPair().address;
  const SOL = 'sol1';
  let db: Awaited<ReturnType<typeof openPglite>>;
  let rt: Runtime<ConsensusState>;
  let server: StartedServer;
  let client: ConsensusClient;
  const feed = votingFeed(() => rt);
  const fromVoting = (type: string, data: object) => feed(SOL, 'r', type, data);
  const serve = async (): Promise<void> => {
    rt = createRuntime('consensus', await pgliteEventStore('consensus_proofs', db), consensusDecider, silentLogger);
    await rt.start();
    server = await startGrpcServer([consensusGrpc(rt, validator.address, true, silentLogger)], '127.0.0.1', 0, ['ewx/v1/consensus.proto'], PROTO_ROOT);
    client = new ConsensusClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  };
  const stop = async (): Promise<void> => {
    client.close();
    await server.stop();
    await rt.stop();
  };
  before(async () => {
    db = await openPglite();
    await serve();
  });
  after(async () => {
    await stop();
    await db.close();
  });

  test('GetVoteProof of a settled round, after its votes left the state and after a restart: the bytes of the proof before', async () => {
    await rt.execute(VALIDATORS_STREAM, (s) => decide({ type: 'ConfigureValidators', validators: [validator.address] }, s));
    await fromVoting('RoundStarted', roundStartedData('r', { solution: SOL, period: 0, eligible: workers.length }));
    await fromVoting('RoundSnapshot', { solution: SOL, roundId: 'r', chunk: 0, chunks: 1, workers: workers.map((w, i) => [w, operators[i]]) });
    // 35 of 40 vote, in arrival order (not by worker); every fourth votes 'bb'.
    const voted = workers.slice(0, 35);
    for (const [i, w] of voted.entries())
      await fromVoting('VoteCast', { solution: SOL, roundId: 'r', worker: w, result: i % 4 === 3 ? 'bb' : 'aa', height: 5 });
    await fromVoting('RoundClosed', { solution: SOL, roundId: 'r', height: 11, submitted: voted.length });

    // The proofs as the state gave them before the round was decided (what GetVoteProof read then).
    const open = rt.state().rounds.get(roundKey(SOL, 'r'))!;
    const before = new Map(
      open.votes.map(([w, result], i): [string, VoteProof] => [
        w,
        {
          worker: w,
          result: Buffer.from(result, 'hex'),
          leaf: open.leaves[i]!.toString('hex'),
          steps: merkleProof(open.leaves, i).map((s) => ({ position: s.position, group: [...s.group] })),
          merkleRoot: evaluateRound(open).merkleRoot,
        },
      ]),
    );
    const { tally, merkleRoot } = evaluateRound(open);
    const signature = signBytes(validator, attestationBytes(SOL, 'r', tally, merkleRoot)).toString('hex');
    const attest = { type: 'Attest', validator: validator.address, solution: SOL, roundId: 'r', tally, merkleRoot, signature } as const;
    await rt.execute(solutionStream(SOL), (s) => decide(attest, s));
    const r = rt.state().rounds.get(roundKey(SOL, 'r'))!;
    assert.deepEqual([r.status, r.votesDropped, r.votes.length, r.leaves.length, r.snapshot.size], ['SETTLED', true, 0, 0, 0]);

    // Independently of the state: the leaves of the VoteCast events in the log, by worker.
    const casts = (await rt.store.readStream(`inbox:voting:round:${SOL}:r`))
      .filter((e) => e.type === 'VoteCast')
      .map((e) => e.data as { worker: string; result: string })
      .sort((a, b) => (a.worker < b.worker ? -1 : 1));
    const leaves = casts.map((c) => leafHash(c.worker, c.result));

    const check = async (): Promise<void> => {
      for (const w of voted) {
        const proof = await rpc(client, 'getVoteProof', { solution: SOL, roundId: 'r', worker: w });
        assert.deepEqual(proof, before.get(w), `the proof of ${w}`);
        const i = casts.findIndex((c) => c.worker === w);
        assert.equal(proof.leaf, leaves[i]!.toString('hex'));
        assert.deepEqual(
          proof.steps,
          merkleProof(leaves, i).map((s) => ({ position: s.position, group: [...s.group] })),
        );
        assert.equal(rootFromProof(proof.leaf, proof.steps), r.outcome!.merkleRoot);
      }
      assert.match(
        await expectStatus(rpc(client, 'getVoteProof', { solution: SOL, roundId: 'r', worker: workers[39]! }), grpc.status.NOT_FOUND),
        /^worker: vote of/,
      );
      assert.match(
        await expectStatus(rpc(client, 'getVoteProof', { solution: SOL, roundId: 'r', worker: outsider }), grpc.status.NOT_FOUND),
        /^worker: vote of/,
      );
    };
    await check();
    await stop();
    await serve();
    assert.equal(rt.state().rounds.get(roundKey(SOL, 'r'))!.votesDropped, true, 'the replay drops them too');
    await check();
  });
});
