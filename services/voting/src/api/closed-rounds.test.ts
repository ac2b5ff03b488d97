import { castVotes } from '@ewx/contracts';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  createRuntime,
  generateKeyPair,
  openPglite,
  pgliteEventStore,
  PROTO_ROOT,
  signCommand,
  silentLogger,
  startGrpcServer,
  type EventData,
  type KeyPair,
  type Runtime,
  type StartedServer,
} from '@ewx/platform';
import { expectStatus, rpc } from '@ewx/platform/testing';
import { RoundState, SubmitVoteRequest, VotingClient, type RoundSnapshot } from '@ewx/proto/voting';
import { inlineVerifier } from '../app/verifier.js';
import { closeRound, roundKey, roundStream, startRound, votingDecider, type VotingState } from '../domain/decider.js';
import { REGISTRAR, block, ev, schedule, solutionConfig } from '../domain/testing.js';
import { votingGrpc } from './grpc.js';

/**
 * Bounded memory through the API: a closed round's snapshot and votes left the state, and GetRound,
 * GetRoundSnapshot (paged) and late votes answer as they did when the state held them — checked
 * against the answers given while the round was open and against what the round's events say.
 */
describe('voting API: closed rounds are answered from the log', () => {
  const workers = Array.from({ length: 8 }, () => generateKeyPair());
  const operators = workers.map(() => generateKeyPair().address);
  const outsider = generateKeyPair();
  let db: Awaited<ReturnType<typeof openPglite>>;
  let rt: Runtime<VotingState>;
  let server: StartedServer;
  let client: VotingClient;
  let seq = 0;
  let nonce = 0n;
  const ingest = (source: string, e: EventData) =>
    rt.ingest({ source, streamId: `${source}-${++seq}`, version: 0, position: String(seq), type: e.type, data: e.data });
  const vote = (k: KeyPair, result: string) =>
    rpc(
      client,
      'submitVote',
      signCommand(k, '/ewx.v1.Voting/SubmitVote', { auth: undefined, solution: 'sol1', roundId: 'r', result: Buffer.from(result, 'hex') }, ++nonce, (m) =>
        SubmitVoteRequest.encode(m).finish(),
      ),
    );
  const pages = async (): Promise<RoundSnapshot[]> => {
    const out: RoundSnapshot[] = [];
    let token = '';
    do {
      const p = await rpc(client, 'getRoundSnapshot', { solution: 'sol1', roundId: 'r', page: { pageSize: 3, pageToken: token } });
      out.push(p);
      token = p.page!.nextPageToken;
    } while (token !== '');
    return out;
  };
  const serve = async (): Promise<void> => {
    rt = createRuntime('voting', await pgliteEventStore('voting_closed', db), votingDecider, silentLogger);
    await rt.start();
    server = await startGrpcServer([votingGrpc(rt, silentLogger, inlineVerifier)], '127.0.0.1', 0, ['ewx/v1/voting.proto'], PROTO_ROOT);
    client = new VotingClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  };
  const stop = async (): Promise<void> => {
    client.close();
    await server.stop();
    await rt.stop();
  };

  before(async () => {
    db = await openPglite();
    await serve();
    await ingest('rewards', schedule);
    await ingest('registry', ev('GroupRegistered', { group: 'g1', owner: REGISTRAR, config: {}, budget: '0', height: 1 }));
    await ingest('registry', ev('SolutionRegistered', { solution: 'sol1', owner: REGISTRAR, config: solutionConfig({ namespace: 'sol1' }), height: 1 }));
    for (const [i, w] of workers.entries()) {
      await ingest('registry', ev('OperatorSubscribed', { group: 'g1', operator: operators[i], stake: '1000', activeFromPeriod: 0, height: 1 }));
      await ingest('registry', ev('WorkerConnected', { operator: operators[i], worker: w.address, height: 1 }));
    }
    await ingest('consensus', block(10));
  });
  after(async () => {
    await stop();
    await db.close();
  });

  test('GetRound, GetRoundSnapshot and late votes after the close and after a restart: the answers of the open round and of its events', async () => {
    await rt.execute(roundStream('sol1', 'r'), (s) => startRound(s, 'sol1', 'r', { kind: 'account', address: REGISTRAR }).events);
    // Six of eight vote: four 'aa', two 'bb'.
    for (const [i, w] of workers.slice(0, 6).entries()) assert.equal((await vote(w, i < 4 ? 'aa' : 'bb')).accepted, true);
    const open = await pages();
    assert.equal(open.flatMap((p) => p.workers).length, 8);

    await ingest('consensus', block(20));
    await rt.execute(roundStream('sol1', 'r'), (s) => closeRound(s, 'sol1', 'r'));
    const r = rt.state().rounds.get(roundKey('sol1', 'r'))!;
    assert.deepEqual([r.status, r.snapshot.size, r.votes.size], ['OFF_CHAIN_VOTE', 0, 0], 'the closed round left the state');

    // What the round's events say.
    const events = await rt.store.readStream(roundStream('sol1', 'r'));
    const snapshot = events.filter((e) => e.type === 'RoundSnapshot').flatMap((e) => (e.data as { workers: [string, string][] }).workers);
    const results = events.flatMap(castVotes).map(([, result]) => result);
    const counts = new Map<string, number>();
    for (const x of results) counts.set(x, (counts.get(x) ?? 0) + 1);

    const check = async (state: RoundState): Promise<void> => {
      assert.deepEqual(await pages(), open, 'GetRoundSnapshot pages: the same as while the round was open');
      assert.deepEqual(
        open.flatMap((p) => p.workers.map((x) => [x.worker, x.operator])),
        snapshot,
      );
      const round = await rpc(client, 'getRound', { solution: 'sol1', roundId: 'r' });
      assert.equal(round.state, state);
      assert.deepEqual(round.tally, { eligible: 8, submitted: results.length, top: Math.max(...counts.values()) });
      assert.deepEqual(round.tally, { eligible: 8, submitted: 6, top: 4 });
      // Late votes: a retry, a worker of the snapshot that did not vote (both disconnected since), and an outsider.
      for (const w of [workers[0]!, workers[6]!, workers[7]!]) {
        const details = await expectStatus(vote(w, 'aa'), grpc.status.FAILED_PRECONDITION);
        assert.match(details, /round_id: round r of solution sol1 expired at block 20: votes are closed/);
      }
      assert.match(await expectStatus(vote(outsider, 'aa'), grpc.status.PERMISSION_DENIED), /is not a connected worker/);
    };
    await ingest('registry', ev('WorkerDisconnected', { operator: operators[0], worker: workers[0]!.address, height: 21 }));
    await ingest('registry', ev('WorkerDisconnected', { operator: operators[7], worker: workers[7]!.address, height: 21 }));
    await check(RoundState.ROUND_STATE_OFF_CHAIN_VOTE);
    await ingest(
      'consensus',
      ev('RoundSettled', {
        solution: 'sol1',
        roundId: 'r',
        group: 'g1',
        period: 0,
        result: 'aa',
        tally: { eligible: 8, submitted: 6, top: 4, outcome: 'SETTLED', result: 'aa' },
        merkleRoot: 'ff'.repeat(32),
        attestors: [],
        dissenters: [],
      }),
    );
    await check(RoundState.ROUND_STATE_SETTLED);
    // A restart replays the log into the same compact state and the same answers.
    await stop();
    await serve();
    assert.equal(rt.state().rounds.get(roundKey('sol1', 'r'))!.snapshot.size, 0);
    await check(RoundState.ROUND_STATE_SETTLED);
  });
});
