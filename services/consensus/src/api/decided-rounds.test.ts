import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  createRuntime,
  deserializeState,
  generateKeyPair,
  openPglite,
  pgliteEventStore,
  PROTO_ROOT,
  signBytes,
  silentLogger,
  snapshotsOf,
  snapshotVersion,
  sqlProjectionsOf,
  startGrpcServer,
  type Decider,
  type EventStore,
  type KeyPair,
  type Runtime,
  type RuntimeImage,
  type StartedServer,
  type Tally,
} from '@ewx/platform';
import { ConsensusClient } from '@ewx/proto/consensus';
import {
  attestationBytes,
  CHAIN_STREAM,
  consensusDecider,
  decide,
  evaluateRound,
  evolveKeepingRounds,
  roundKey,
  solutionStream,
  VALIDATORS_STREAM,
  type ConsensusState,
} from '../domain/decider.js';
import { decidedRounds, rebuildDecided } from '../app/decided.js';
import { votingFeed } from '../app/testing.js';
import { attestation, roundStartedData } from '../domain/testing.js';
import { consensusGrpc } from './grpc.js';

/** The fold before decided rounds left the state (and before their inbox marks were forgotten). */
const keeping: Decider<ConsensusState> = { initialState: consensusDecider.initialState, evolve: evolveKeepingRounds };
const VERSION = 5;
const snapshots = { every: 1_000_000, version: VERSION };

/** Unary call through the client: the answer, or the error's code and message. */
const call = <Q, A>(client: ConsensusClient, method: string, req: Q): Promise<unknown> =>
  new Promise((res) => {
    (client as unknown as Record<string, (r: Q, cb: (e: grpc.ServiceError | null, a?: A) => void) => void>)[method]!.call(client, req, (e, a) =>
      res(e ? { code: e.code, details: e.details } : a),
    );
  });

interface Served {
  rt: Runtime<ConsensusState>;
  server: StartedServer;
  client: ConsensusClient;
}
async function serve(store: EventStore, decider: Decider<ConsensusState>, admin: string, opts = {}): Promise<Served> {
  const rt = createRuntime('consensus', store, decider, silentLogger, opts);
  await rt.start();
  const server = await startGrpcServer([consensusGrpc(rt, admin, true, silentLogger)], '127.0.0.1', 0, ['ewx/v1/consensus.proto'], PROTO_ROOT);
  return { rt, server, client: new ConsensusClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure()) };
}
async function close(s: Served): Promise<void> {
  s.client.close();
  await s.server.stop();
  await s.rt.stop();
}

/**
 * Bounded memory through the API: a decided round that every validator of its set attested, its end
 * block passed, leaves the state (nothing stays: where it is in the log is in the projection
 * `app/decided.ts`); GetSettlement and GetVoteProof read it back from the
 * log. Every query about every round answers as a runtime on the same log whose fold keeps every
 * round (`evolveKeepingRounds`), also after a restart from the snapshot stored at the stop.
 */
describe('consensus API: decided rounds that left the state answer as when they were kept', () => {
  const admin = generateKeyPair();
  const keys = Array.from({ length: 4 }, () => generateKeyPair());
  const workers = Array.from({ length: 12 }, () => generateKeyPair().address);
  const operators = workers.map(() => generateKeyPair().address);
  const outsider = generateKeyPair().address;
  const SOL = 'sol1';
  let db: Awaited<ReturnType<typeof openPglite>>;
  let store: EventStore;
  let a: Served;
  const feed = votingFeed(() => a.rt);
  const fromVoting = (roundId: string, type: string, data: object) => feed(SOL, roundId, type, data);
  /** A round of the 12 workers, `voters` of them voting (every third 'bb'), closed unless `open`. */
  const round = async (roundId: string, endBlock: number, voters: number, open = false): Promise<void> => {
    await fromVoting(roundId, 'RoundStarted', roundStartedData(roundId, { solution: SOL, endBlock, period: 0, eligible: workers.length }));
    await fromVoting(roundId, 'RoundSnapshot', { chunk: 0, chunks: 1, workers: workers.map((w, i) => [w, operators[i]]) });
    for (let i = voters - 1; i >= 0; i--) await fromVoting(roundId, 'VoteCast', { worker: workers[i], result: i % 3 === 2 ? 'bb' : 'aa', height: 2 });
    if (!open) await fromVoting(roundId, 'RoundClosed', { height: endBlock, submitted: voters });
  };
  /** Validator `k` attests what the recorded votes give (or a forged tally), as its process would. */
  const attest = async (k: KeyPair, roundId: string, forge?: (t: Tally) => Tally): Promise<void> => {
    await a.rt.execute(solutionStream(SOL), (s) => decide(attestation(a.rt.state(), k, SOL, roundId, forge), s));
  };
  const blocks = (count: number) =>
    a.rt.execute(CHAIN_STREAM, (s) => decide({ type: 'ProduceBlocks', signer: admin.address, admin: admin.address, manual: true, count }, s));
  /** The rounds asked about ('nope': none); r8 is written by the attestation window's test. */
  const ROUNDS = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'nope'];

  /**
   * Every query about every round and worker, and the chain. (Vote counts are not compared here: both
   * runtimes would read the same vote-metadata projection table; vote-metadata.test.ts checks them.)
   */
  const answers = async (client: ConsensusClient): Promise<unknown[]> => {
    const out: unknown[] = [];
    for (const roundId of ROUNDS) {
      out.push(await call(client, 'getSettlement', { solution: SOL, roundId }));
      for (const worker of [...workers, outsider]) out.push(await call(client, 'getVoteProof', { solution: SOL, roundId, worker }));
    }
    out.push(await call(client, 'getSettlement', { solution: 'other', roundId: 'r1' }));
    out.push(await call(client, 'getResultChain', { solution: SOL }));
    out.push(await call(client, 'getResultChain', { solution: SOL, page: { pageSize: 1 } }));
    return out;
  };
  /** The answers of this runtime and of one whose fold keeps every round, on the same log. */
  const compare = async (served: Served, when: string): Promise<void> => {
    const k = await serve(store, keeping, admin.address);
    try {
      assert.deepEqual(await answers(served.client), await answers(k.client), when);
      assert.deepEqual(
        [...k.rt.state().rounds.keys()].sort(),
        ROUNDS.filter((r) => r !== 'nope')
          .map((r) => roundKey(SOL, r))
          .sort(),
        'the keeping fold holds every round',
      );
    } finally {
      await close(k);
    }
  };

  before(async () => {
    db = await openPglite();
    store = await pgliteEventStore('consensus_decided', db);
    a = await serve(store, consensusDecider, admin.address, { snapshots });
  });
  after(async () => {
    await close(a);
    await db.close();
  });

  test('settled, forged and late-attested, unresolved, owed, not yet ended and open rounds: the same answers; only the rounds no decision reads left the state', async () => {
    await a.rt.execute(VALIDATORS_STREAM, (s) => decide({ type: 'ConfigureValidators', validators: keys.map((k) => k.address) }, s));
    // r1: settled by three, the fourth late. r2: three settle a forged tally, the fourth dissents late.
    // r3: unresolved (no quorum), all four. r4: settled by three, the fourth owes its attestation.
    // r5: settled by all four, but it ends at block 100. r6: open. r7: one of the first three
    // attests otherwise, so the fourth decides it (its decision is its last event).
    await round('r1', 5, 10);
    await round('r2', 5, 9);
    await round('r3', 6, 3);
    await round('r4', 6, 12);
    await round('r5', 100, 8);
    await round('r6', 100, 4, true);
    await round('r7', 6, 11);
    for (const k of keys.slice(0, 3)) {
      await attest(k, 'r1');
      await attest(k, 'r2', (t) => ({ ...t, result: 'cc', top: t.top }));
      await attest(k, 'r3');
      await attest(k, 'r4');
      await attest(k, 'r5');
    }
    await attest(keys[0]!, 'r7');
    await attest(keys[1]!, 'r7', (t) => ({ ...t, top: t.top - 1 }));
    await attest(keys[2]!, 'r7');
    await blocks(3);
    for (const r of ['r1', 'r2', 'r3', 'r5', 'r7']) await attest(keys[3]!, r);
    assert.equal(a.rt.state().rounds.get(roundKey(SOL, 'r7'))!.status, 'SETTLED', 'r7 decided by the fourth attestation');
    const st = a.rt.state();
    assert.equal(
      st.rounds.get(roundKey(SOL, 'r2'))!.attestations.get(keys[3]!.address)!.dissent,
      true,
      'the late honest attestation dissents from the forged outcome',
    );
    assert.equal(st.rounds.size, 7, 'before their end blocks, nothing leaves');
    await compare(a, 'before any round left');
    await blocks(7);
    assert.deepEqual(
      [...a.rt.state().rounds.keys()].sort(),
      ['r4', 'r5', 'r6'].map((r) => roundKey(SOL, r)),
      'r1–r3 and r7 left the state',
    );
    const projection = decidedRounds(store);
    await projection.catchUp(a.rt.position());
    for (const r of ['r1', 'r2', 'r3', 'r7']) assert.ok(await projection.where(SOL, r), `the projection says where ${r} is in the log`);
    await compare(a, 'after r1–r3 and r7 left the state');
    // The owed attestation arrives: r4 leaves at the next block.
    await attest(keys[3]!, 'r4');
    await blocks(1);
    assert.deepEqual(
      [...a.rt.state().rounds.keys()].sort(),
      ['r5', 'r6'].map((r) => roundKey(SOL, r)),
    );
    await compare(a, 'after r4 left');
  });

  test('with an attestation window recorded: a round settled by three leaves at its close without the fourth, the same answers; the late attestation is then refused', async () => {
    await a.rt.execute(VALIDATORS_STREAM, (s) => decide({ type: 'ConfigureValidators', validators: keys.map((k) => k.address), attestationWindow: 3 }, s));
    const end = a.rt.state().height + 1;
    ROUNDS.push('r8');
    await round('r8', end, 10);
    for (const k of keys.slice(0, 3)) await attest(k, 'r8');
    assert.equal(a.rt.state().rounds.get(roundKey(SOL, 'r8'))!.attestationsClose, end + 3);
    await blocks(3);
    assert.ok(a.rt.state().rounds.has(roundKey(SOL, 'r8')), 'open until its close');
    await compare(a, 'r8 within its window');
    // The fourth's attestation, made while r8 is in the state, appended after its close.
    const honest = evaluateRound(a.rt.state().rounds.get(roundKey(SOL, 'r8'))!);
    const signature = signBytes(keys[3]!, attestationBytes(SOL, 'r8', honest.tally, honest.merkleRoot)).toString('hex');
    const late = { type: 'Attest', validator: keys[3]!.address, solution: SOL, roundId: 'r8', ...honest, signature } as const;
    await blocks(1);
    assert.deepEqual(
      [...a.rt.state().rounds.keys()].sort(),
      ['r5', 'r6'].map((r) => roundKey(SOL, r)),
      'r8 left at its close, the fourth never attested',
    );
    await compare(a, 'after r8 left at its close');
    await assert.rejects(
      a.rt.execute(solutionStream(SOL), (s) => decide(late, s)),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'FAILED_PRECONDITION');
        assert.match(e.message, /round r8 of solution sol1 .*attestation window closed/);
        return true;
      },
    );
  });

  test('after a restart from the snapshot stored at the stop: the same state as a full replay, the same answers; the maps hold no decided round', async () => {
    await close(a);
    const snap = await snapshotsOf(store)!.loadSnapshot(snapshotVersion(VERSION, consensusDecider.initialState()));
    const image = deserializeState<RuntimeImage<ConsensusState>>(snap!.data);
    const inbox = (m: Map<string, number>) => [...m.keys()].filter((k) => k.includes('round:')).sort();
    // r1–r4 are decided: their inbox marks are forgotten; r5 (decided, not yet ended) too; only the open r6 keeps them.
    assert.deepEqual(inbox(image.versions), [`inbox:voting:round:${SOL}:r6`]);
    assert.deepEqual(inbox(image.inboxSeen), [`voting|round:${SOL}:r6`]);
    assert.ok(inbox(image.inboxTypeSeen).every((k) => k.startsWith(`voting|round:${SOL}:r6|`)));
    a = await serve(store, consensusDecider, admin.address, { snapshots });
    const replay = createRuntime('consensus', store, consensusDecider, silentLogger);
    await replay.start();
    assert.deepEqual(a.rt.state(), replay.state(), 'the restored state is the full replay');
    await replay.stop();
    await compare(a, 'after the restart');
  });

  test('after a restart by a full replay (no snapshot) with the projection rebuilt from the log: the same state, the same answers', async () => {
    await close(a);
    const before = await serve(store, consensusDecider, admin.address, { snapshots });
    const state = before.rt.state();
    await close(before);
    await rebuildDecided(sqlProjectionsOf(store)!);
    // A new process: a store object of its own (a process that lived the rebuild folds again at its next event).
    a = await serve(await pgliteEventStore('consensus_decided', db), consensusDecider, admin.address);
    assert.deepEqual(a.rt.state(), state, 'the full replay is the state restored from the snapshot');
    await compare(a, 'after a full replay, the projection rebuilt');
  });
});
