import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createRuntime,
  deserializeState,
  firstDifference,
  generateKeyPair,
  openPglite,
  pgliteEventStore,
  signCommand,
  silentLogger,
  snapshotsOf,
  snapshotVersion,
  sqlProjectionsOf,
  START,
  type EventData,
  type EventStore,
  type KeyPair,
  type Runtime,
  type RuntimeImage,
} from '@ewx/platform';
import { RoundState, StartRoundRequest, SubmitVoteRequest } from '@ewx/proto/voting';
import { inlineVerifier } from '../app/verifier.js';
import { sqlListing } from '../app/listing.js';
import { keptRoundsListing } from '../testing/kept-listing.js';
import {
  closeRound,
  decide,
  evolve,
  evolveKeepingRounds,
  initialVotingState,
  roundKey,
  roundStream,
  streamOf,
  votingDecider,
  type VotingCommand,
  type VotingState,
} from '../domain/decider.js';
import { block, ev, schedule, solutionConfig } from '../domain/testing.js';
import { VOTING_STATE_VERSION } from '../index.js';
import { votingGrpc } from './grpc.js';

type Handler = (call: { request: unknown }, cb: (e: (Error & { code?: number; details?: string }) | null, r?: unknown) => void) => void;
/** A handler's answer: the message, or the status it refused with (code and message). */
const call = (impl: Record<string, unknown>, method: string, request: unknown): Promise<unknown> =>
  new Promise((resolve) => (impl[method] as Handler)({ request }, (e, r) => resolve(e ? { code: e.code, details: e.details ?? e.message } : { ok: r })));

const ROUNDS: Record<string, readonly string[]> = { sol1: ['r0', 'r1', 'r2', 'r2#retry', 'r3', 'r4', 'never'], sol2: ['w0', 'w1', 'never'] };
const STATES = [
  RoundState.ROUND_STATE_UNSPECIFIED,
  RoundState.ROUND_STATE_ACTIVE,
  RoundState.ROUND_STATE_OFF_CHAIN_VOTE,
  RoundState.ROUND_STATE_SETTLED,
  RoundState.ROUND_STATE_UNRESOLVED,
];

/** Every query answer about the rounds: GetRound of each, a page of each one's snapshot, and ListRounds per state filter and page size, every page. */
async function answers(impl: Record<string, unknown>): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const [solution, ids] of Object.entries(ROUNDS)) {
    for (const roundId of ids) {
      out[`${solution} ${roundId}`] = await call(impl, 'getRound', { solution, roundId });
      out[`${solution} ${roundId} snapshot`] = await call(impl, 'getRoundSnapshot', { solution, roundId, page: { pageSize: 2, pageToken: '1' } });
    }
    for (const state of STATES) {
      for (const pageSize of [0, 1, 2, 3]) {
        const pages: unknown[] = [];
        let pageToken = '';
        do {
          const p = (await call(impl, 'listRounds', { solution, state, page: { pageSize, pageToken } })) as { ok?: { page: { nextPageToken: string } } };
          pages.push(p);
          pageToken = p.ok?.page.nextPageToken ?? '';
        } while (pageToken !== '');
        out[`${solution} list ${state} ${pageSize}`] = pages;
      }
    }
  }
  return out;
}

/**
 * Voting's finished rounds (settled, or unresolved with nothing owed) leave the state; GetRound,
 * GetRoundSnapshot and ListRounds read them back from the log, and a reused round id or a late vote
 * is refused from the index that stays. Every answer is compared with that of a runtime on the same
 * log whose fold keeps every round (`evolveKeepingRounds`: the state before), and again after a
 * restart from the snapshot stored at the stop. PGlite, the gRPC handlers called in process.
 */
describe('finished rounds leave the state: the same answers as the state that kept them', () => {
  const registrar = generateKeyPair();
  const workers = Array.from({ length: 7 }, () => generateKeyPair());
  const operators = workers.map(() => generateKeyPair().address);
  const outsider = generateKeyPair();
  let db: Awaited<ReturnType<typeof openPglite>>;
  let store: EventStore;
  let reads = 0;
  let rt: Runtime<VotingState>;
  let impl: Record<string, unknown>;
  let reference: Runtime<VotingState>;
  let referenceImpl: Record<string, unknown>;
  let nonce = 0n;
  const versions = new Map<string, number>();
  /** An event of another service, recorded in voting's inbox as the consumer does (one stream per source stream). */
  const ingest = (source: string, streamId: string, e: EventData): Promise<boolean> => {
    const version = (versions.get(`${source}|${streamId}`) ?? -1) + 1;
    versions.set(`${source}|${streamId}`, version);
    return rt.ingest({ source, streamId, version, position: String(version), type: e.type, data: e.data });
  };
  const blockAt = (h: number) => ingest('consensus', 'blocks', block(h));
  const registryEvent = (e: EventData) => ingest('registry', 'registry', e);
  const settle = (solution: string, roundId: string, outcome: 'SETTLED' | 'UNRESOLVED', submitted: number, top: number) =>
    ingest(
      'consensus',
      `solution:${solution}`,
      outcome === 'SETTLED'
        ? ev('RoundSettled', {
            solution,
            roundId,
            group: 'g1',
            period: 0,
            result: 'aa',
            tally: { eligible: 6, submitted, top, outcome, result: 'aa' },
            merkleRoot: 'ab'.repeat(32),
            attestors: [],
            dissenters: [],
          })
        : ev('RoundUnresolved', { solution, roundId, reason: 'NO_QUORUM', tally: { eligible: 6, submitted, top, outcome }, merkleRoot: 'cd'.repeat(32) }),
    );
  const voteRequest = (k: KeyPair, solution: string, roundId: string, result = 'aa'): SubmitVoteRequest =>
    signCommand(k, '/ewx.v1.Voting/SubmitVote', { auth: undefined, solution, roundId, result: Buffer.from(result, 'hex') }, ++nonce, (m) =>
      SubmitVoteRequest.encode(m).finish(),
    );
  const startRequest = (solution: string, roundId: string): StartRoundRequest =>
    signCommand(registrar, '/ewx.v1.Voting/StartRound', { auth: undefined, solution, roundId }, ++nonce, (m) => StartRoundRequest.encode(m).finish());
  const command = (c: VotingCommand) => rt.execute(streamOf(c, rt.state()), (s) => decide(c, s));
  const close = (solution: string, roundId: string) => rt.execute(roundStream(solution, roundId), (s) => closeRound(s, solution, roundId));
  const accepted = async (r: Promise<unknown>): Promise<void> => {
    const a = (await r) as object;
    if (!('ok' in a)) assert.fail(`refused: ${JSON.stringify(a)}`);
  };

  const boot = async (): Promise<void> => {
    rt = createRuntime('voting', store, votingDecider, silentLogger, { snapshots: { every: 1_000_000, version: VOTING_STATE_VERSION } });
    await rt.start();
    // Two finished rounds kept: most answers read the log.
    impl = votingGrpc(rt, silentLogger, inlineVerifier, undefined, { keptRounds: 2 }).implementation as Record<string, unknown>;
  };
  const synced = () => reference.catchUp();

  before(async () => {
    db = await openPglite();
    const inner = await pgliteEventStore('voting_finished', db);
    store = Object.assign(Object.create(inner) as EventStore, {
      readStream: (id: string, from?: number, max?: number) => {
        if (!id.startsWith('inbox:registry')) reads++;
        return inner.readStream(id, from, max);
      },
    });
    await boot();
    reference = createRuntime('voting', store, { ...votingDecider, evolve: evolveKeepingRounds }, silentLogger);
    await reference.start();
    referenceImpl = votingGrpc(reference, silentLogger, inlineVerifier, undefined, { listing: keptRoundsListing(reference) }).implementation as Record<
      string,
      unknown
    >;

    await ingest('rewards', 'calendar', schedule);
    await registryEvent(ev('GroupRegistered', { group: 'g1', owner: registrar.address, config: {}, budget: '0', height: 1 }));
    const config = { maxWaitingThreshold: 5, expirationBlock: 1000 };
    await registryEvent(
      ev('SolutionRegistered', {
        solution: 'sol1',
        owner: registrar.address,
        config: solutionConfig({ ...config, namespace: 'sol1', unresolvedPolicy: 'RETRY_ONCE' }),
        height: 1,
      }),
    );
    await registryEvent(
      ev('SolutionRegistered', {
        solution: 'sol2',
        owner: registrar.address,
        config: solutionConfig({ ...config, namespace: 'sol2', votingStartMethod: 'WORKER' }),
        height: 1,
      }),
    );
    for (const [i, w] of workers.slice(0, 6).entries()) {
      await registryEvent(ev('OperatorSubscribed', { group: 'g1', operator: operators[i], stake: '1000', activeFromPeriod: 0, height: 1 }));
      await registryEvent(ev('WorkerConnected', { operator: operators[i], worker: w.address, height: 1 }));
    }
    await blockAt(10);
    // sol1, started by its registrar: r0 and r1 settle, r2 is unresolved (no votes) and retried, its retry unresolved too (an alert), r3 waits for consensus, r4 stays open.
    for (const id of ['r0', 'r1', 'r2', 'r3']) await accepted(call(impl, 'startRound', startRequest('sol1', id)));
    for (const [i, w] of workers.slice(0, 4).entries()) await accepted(call(impl, 'submitVote', voteRequest(w, 'sol1', 'r0', i === 3 ? 'bb' : 'aa')));
    for (const w of workers.slice(0, 5)) await accepted(call(impl, 'submitVote', voteRequest(w, 'sol1', 'r1')));
    for (const w of workers.slice(4, 6)) await accepted(call(impl, 'submitVote', voteRequest(w, 'sol1', 'r3')));
    // sol2, started by a worker's first vote.
    for (const w of workers.slice(1, 4)) await accepted(call(impl, 'submitVote', voteRequest(w, 'sol2', 'w0')));
    await blockAt(15);
    for (const id of ['r0', 'r1', 'r2', 'r3']) await close('sol1', id);
    await close('sol2', 'w0');
    await settle('sol1', 'r0', 'SETTLED', 4, 3);
    await settle('sol2', 'w0', 'SETTLED', 3, 3);
    await settle('sol1', 'r1', 'SETTLED', 5, 5);
    await settle('sol1', 'r2', 'UNRESOLVED', 0, 0);
    await command({ type: 'ApplyUnresolvedPolicy', solution: 'sol1', roundId: 'r2' });
    await blockAt(20);
    await close('sol1', 'r2#retry');
    await settle('sol1', 'r2#retry', 'UNRESOLVED', 0, 0);
    await command({ type: 'ApplyUnresolvedPolicy', solution: 'sol1', roundId: 'r2#retry' });
    await accepted(call(impl, 'startRound', startRequest('sol1', 'r4')));
    await accepted(call(impl, 'submitVote', voteRequest(workers[0]!, 'sol1', 'r4')));
    await accepted(call(impl, 'submitVote', voteRequest(workers[5]!, 'sol2', 'w1')));
    // After the starts: worker 3 disconnects (in the snapshots: its late vote needs them, read from the log), worker 6 connects (in none).
    await registryEvent(ev('WorkerDisconnected', { operator: operators[3], worker: workers[3]!.address, height: 21 }));
    await registryEvent(ev('OperatorSubscribed', { group: 'g1', operator: operators[6], stake: '1000', activeFromPeriod: 0, height: 21 }));
    await registryEvent(ev('WorkerConnected', { operator: operators[6], worker: workers[6]!.address, height: 21 }));
    await synced();
  });
  after(async () => {
    await reference.stop();
    await rt.stop();
    await db.close();
  });

  test('given the rounds finished, only the unfinished stay in the state; the reference keeps them all', async () => {
    const key = (id: string, solution = 'sol1') => roundKey(solution, id);
    assert.deepEqual(
      [...rt.state().rounds.keys()].sort(),
      [key('r3'), key('r4'), key('w1', 'sol2')].sort(),
      'r0, r1 settled, r2 retried, r2#retry alerted, w0 settled: out',
    );
    assert.equal(reference.state().rounds.size, 8);
    assert.equal(reference.state().rounds.get(key('r2#retry'))!.alerted, true);
    // The starting order is the listing projection's (a table of the store), not the state's.
    const listing = sqlListing(store, sqlProjectionsOf(store)!);
    await listing.catchUp(rt.position());
    const { entries } = await listing.page('sol1', undefined, 0, 100);
    assert.deepEqual(
      entries.map((x) => x.roundId),
      ['r0', 'r1', 'r2', 'r3', 'r2#retry', 'r4'],
    );
  });

  test('GetRound, GetRoundSnapshot and ListRounds (every state filter, page size and page) answer as the state that kept every round', async () => {
    const readsBefore = reads;
    const mine = (await answers(impl)) as Record<string, { ok?: { state?: number; alerted?: boolean } }>;
    assert.deepEqual(mine, await answers(referenceImpl));
    assert.ok(reads > readsBefore, 'finished rounds were read back from the log');
    // What the answers say, as a check that they are about what happened.
    assert.deepEqual(
      ['r0', 'r1', 'r2', 'r2#retry', 'r3', 'r4'].map((id) => mine[`sol1 ${id}`]!.ok!.state),
      [
        RoundState.ROUND_STATE_SETTLED,
        RoundState.ROUND_STATE_SETTLED,
        RoundState.ROUND_STATE_UNRESOLVED,
        RoundState.ROUND_STATE_UNRESOLVED,
        RoundState.ROUND_STATE_OFF_CHAIN_VOTE,
        RoundState.ROUND_STATE_ACTIVE,
      ],
    );
    assert.equal(mine['sol1 r2#retry']!.ok!.alerted, true);
    assert.deepEqual(mine['sol1 r0']!.ok, (mine['sol1 list 3 0'] as unknown as { ok: { rounds: unknown[] } }[])[0]!.ok.rounds[0]);
  });

  /** Late votes and starts of used round ids, each answered by the service and by the reference. */
  async function refusals(): Promise<unknown[]> {
    const out: unknown[] = [];
    const voters = [workers[1]!, workers[3]!, workers[6]!, outsider];
    for (const [solution, roundId] of [
      ['sol1', 'r0'],
      ['sol1', 'r2'],
      ['sol1', 'r2#retry'],
      ['sol1', 'r3'],
      ['sol2', 'w0'],
    ] as const) {
      for (const k of voters) {
        const req = voteRequest(k, solution, roundId);
        await synced();
        const [a, b] = [await call(impl, 'submitVote', req), await call(referenceImpl, 'submitVote', req)];
        assert.deepEqual(a, b, `late vote by ${k.address} on ${roundId}`);
        assert.ok('code' in (a as object), `a late vote is refused: ${JSON.stringify(a)}`);
        out.push(a);
      }
      if (roundId.endsWith('#retry')) continue;
      const req = startRequest(solution, roundId);
      const [a, b] = [await call(impl, 'startRound', req), await call(referenceImpl, 'startRound', req)];
      assert.deepEqual(a, b, `start of the used id ${roundId}`);
      assert.deepEqual(a, { code: 6, details: `round_id: round ${roundId} of solution ${solution} already exists` }, 'ALREADY_EXISTS');
      out.push(a);
    }
    return out;
  }

  test('a late vote on a finished round and a start of a used round id are refused as the state that kept every round refuses them; nothing is written', async () => {
    const before = (await store.readAll(START, 100_000)).length;
    const answered = (await refusals()) as { code: number; details: string }[];
    assert.equal((await store.readAll(START, 100_000)).length, before, 'no event written');
    // Connected or in the snapshot: expired; the outsider (and the worker connected after the start, on none of the finished rounds' snapshots, is connected): as the rule says.
    assert.match(answered[0]!.details, /round_id: round r0 of solution sol1 expired at block 15: votes are closed/);
    assert.match(answered[1]!.details, /round_id: round r0 of solution sol1 expired at block 15/, 'disconnected, in the snapshot read from the log');
    assert.match(answered[3]!.details, /is not a connected worker/);
    assert.ok(
      answered.some((a) => /round w0 of solution sol2 expired at block 15/.test(a.details)),
      "a worker's vote on a finished round of a WORKER solution does not start it again",
    );
  });

  test('given a restart from the snapshot stored at the stop, the state equals the full replay and every answer is unchanged', async () => {
    const before = await answers(impl);
    const refused = await refusals();
    const position = rt.position();
    await rt.stop();
    const snap = await snapshotsOf(store)!.loadSnapshot(snapshotVersion(VOTING_STATE_VERSION, initialVotingState()));
    assert.equal(snap?.position, position, 'a snapshot of this version at the last position');
    // Beside the state, the runtime forgot the finished rounds' streams (Decider.finishedStreams); the others' versions stay.
    const image = deserializeState<RuntimeImage<VotingState>>(snap!.data);
    const rounds = (m: Map<string, number>) => [...new Set([...m.keys()].filter((k) => k.startsWith('round:')).map((k) => k.split('|')[0]))].sort();
    const live = [roundStream('sol1', 'r3'), roundStream('sol1', 'r4'), roundStream('sol2', 'w1')].sort();
    assert.deepEqual(rounds(image.versions), live);
    assert.deepEqual(rounds(image.typeVersions), live);
    await boot();
    assert.equal(rt.position(), position);
    const replayed = initialVotingState();
    for (const e of await store.readAll(START, 100_000)) evolve(replayed, e);
    assert.equal(firstDifference(rt.state(), replayed), undefined, 'the restored state is the replayed one');
    const readsBefore = reads;
    assert.deepEqual(await answers(impl), before);
    assert.ok(reads > readsBefore, 'the restarted service read the finished rounds from the log');
    await synced();
    assert.deepEqual(await answers(impl), await answers(referenceImpl));
    const events = (await store.readAll(START, 100_000)).length;
    assert.deepEqual(await refusals(), refused);
    assert.equal((await store.readAll(START, 100_000)).length, events, 'no event written');
  });

  test('given a restart by a full replay of the log (no snapshot loaded), StartRound of every used id is ALREADY_EXISTS with the same message, late votes are refused as before, and nothing is written', async () => {
    const refused = await refusals();
    const events = (await store.readAll(START, 100_000)).length;
    await rt.stop();
    rt = createRuntime('voting', store, votingDecider, silentLogger, { snapshots: { every: 0, version: VOTING_STATE_VERSION } });
    await rt.start();
    impl = votingGrpc(rt, silentLogger, inlineVerifier, undefined, { keptRounds: 2 }).implementation as Record<string, unknown>;
    const replayed = initialVotingState();
    for (const e of await store.readAll(START, 100_000)) evolve(replayed, e);
    assert.equal(firstDifference(rt.state(), replayed), undefined, 'the replayed state');
    assert.equal(rt.state().rounds.size, 3, 'the finished rounds are not in it');
    assert.deepEqual(await refusals(), refused);
    assert.equal((await store.readAll(START, 100_000)).length, events, 'no event written');
  });

  test('given a round on one page of the active rounds closes before the next page is asked, the next page starts after it: no active round is skipped', async () => {
    for (const id of ['p1', 'p2', 'p3']) await accepted(call(impl, 'startRound', startRequest('sol1', id)));
    const active = async (pageToken: string) =>
      (
        (await call(impl, 'listRounds', { solution: 'sol1', state: RoundState.ROUND_STATE_ACTIVE, page: { pageSize: 1, pageToken } })) as {
          ok: { rounds: { roundId: string }[]; page: { nextPageToken: string } };
        }
      ).ok;
    const first = await active('');
    assert.deepEqual(
      first.rounds.map((r) => r.roundId),
      ['r4'],
    );
    // r4 leaves the active rounds between the two pages (an offset would now pass over p1).
    await close('sol1', 'r4');
    const seen: string[] = [];
    for (let token = first.page.nextPageToken; token !== ''; ) {
      const p = await active(token);
      seen.push(...p.rounds.map((r) => r.roundId));
      token = p.page.nextPageToken;
    }
    assert.deepEqual(seen, ['p1', 'p2', 'p3']);
    const bad = (await call(impl, 'listRounds', { solution: 'sol1', state: RoundState.ROUND_STATE_ACTIVE, page: { pageSize: 1, pageToken: '1' } })) as {
      code?: number;
      details?: string;
    };
    assert.deepEqual([bad.code, bad.details], [3, 'page.page_token: expected a token from a previous response']);
  });
});
