import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createRuntime, isDomainError, openPglite, pgliteEventStore, silentLogger, START, type EventData, type EventStore, type Runtime } from '@ewx/platform';
import { closeRound, decideVotes, roundKey, roundStream, startRound, votingDecider, type VotingState } from '../domain/decider.js';
import { REGISTRAR, block, ev, operators, schedule, solutionConfig, worker } from '../domain/testing.js';
import { executeOnRound, pastRounds, type PastRoundReader } from './past.js';

/**
 * The log's record of a round that left the state is read before deciding, outside the runtime's
 * lock: out of date by the time the decision is taken, it is read again — never a second start.
 */
describe("decisions about a round that left the state take the log's record of it, read again when it went stale", () => {
  let db: Awaited<ReturnType<typeof openPglite>>;
  let store: EventStore;
  let rt: Runtime<VotingState>;
  const versions = new Map<string, number>();
  const ingest = (source: string, streamId: string, e: EventData): Promise<boolean> => {
    const version = (versions.get(`${source}|${streamId}`) ?? -1) + 1;
    versions.set(`${source}|${streamId}`, version);
    return rt.ingest({ source, streamId, version, position: String(version), type: e.type, data: e.data });
  };
  const settle = (solution: string, roundId: string) =>
    ingest(
      'consensus',
      `solution:${solution}`,
      ev('RoundSettled', {
        solution,
        roundId,
        group: 'g1',
        period: 0,
        result: 'aa',
        tally: { eligible: 6, submitted: 0, top: 0, outcome: 'SETTLED', result: 'aa' },
        merkleRoot: 'ab'.repeat(32),
        attestors: [],
        dissenters: [],
      }),
    );
  const registrar = { kind: 'account', address: REGISTRAR } as const;
  const events = async () => (await store.readAll(START, 100_000)).length;
  /** A reader whose first answer is "never started" (stale), then the log's. */
  const staleOnce = (): PastRoundReader & { reads: number } => {
    const real = pastRounds(store);
    const r = {
      reads: 0,
      read: (solution: string, roundId: string) => (r.reads++ === 0 ? Promise.resolve(undefined) : real.read(solution, roundId)),
    };
    return r;
  };

  before(async () => {
    db = await openPglite();
    store = await pgliteEventStore('voting_past', db);
    rt = createRuntime('voting', store, votingDecider, silentLogger);
    await rt.start();
    for (const e of [
      schedule,
      ev('GroupRegistered', { group: 'g1', owner: REGISTRAR, config: {}, budget: '0', height: 1 }),
      ev('SolutionRegistered', { solution: 's1', owner: REGISTRAR, config: solutionConfig({ maxWaitingThreshold: 5 }), height: 1 }),
      ev('SolutionRegistered', {
        solution: 's2',
        owner: REGISTRAR,
        config: solutionConfig({ namespace: 's2', maxWaitingThreshold: 5, votingStartMethod: 'WORKER' }),
        height: 1,
      }),
      ...operators(6),
    ])
      await ingest('registry', 'registry', e);
    await ingest('consensus', 'blocks', block(10));
    for (const [solution, id] of [
      ['s1', 'done'],
      ['s2', 'w-done'],
      ['s1', 'leaving'],
    ] as const)
      await rt.execute(roundStream(solution, id), (s) => startRound(s, solution, id, registrar).events);
    await ingest('consensus', 'blocks', block(15));
    for (const [solution, id] of [
      ['s1', 'done'],
      ['s2', 'w-done'],
      ['s1', 'leaving'],
    ] as const)
      await rt.execute(roundStream(solution, id), (s) => closeRound(s, solution, id));
    await settle('s1', 'done');
    await settle('s2', 'w-done');
    assert.ok(!rt.state().rounds.has(roundKey('s1', 'done')) && !rt.state().rounds.has(roundKey('s2', 'w-done')), 'finished: out of the state');
  });
  after(async () => {
    await rt.stop();
    await db.close();
  });

  test('a start of a used id decided on a stale "never started": the store refuses the append, the record is read again, ALREADY_EXISTS with the message of a fresh read; nothing written', async () => {
    const n = await events();
    const reader = staleOnce();
    const start = (r: PastRoundReader) =>
      executeOnRound(rt, r, 's1', 'done', (s, known) => startRound(s, 's1', 'done', registrar, known).events).then(
        () => 'started',
        (e: unknown) => (isDomainError(e) ? `${e.code}: ${e.message}` : `not a domain error: ${(e as Error).message}`),
      );
    const fresh = await start(pastRounds(store));
    assert.equal(fresh, 'ALREADY_EXISTS: round_id: round done of solution s1 already exists');
    assert.equal(await start(reader), fresh);
    assert.equal(reader.reads, 2, 'read again after the refused append');
    assert.equal(await events(), n, 'nothing written');
  });

  test('a worker\'s vote on a finished round of a WORKER solution decided on a stale "never started": refused as late (expired), never a start; nothing written', async () => {
    const n = await events();
    const vote = (r: PastRoundReader) => {
      let outcome: unknown;
      return executeOnRound(rt, r, 's2', 'w-done', (s, known) => {
        const d = decideVotes(s, [{ solution: 's2', roundId: 'w-done', worker: worker(1), result: 'aa', nonce: 1n }], rt.lastNonce, known);
        outcome = d.outcomes[0];
        return d.events;
      }).then(() => (isDomainError(outcome) ? `${outcome.code}: ${outcome.message}` : String(outcome)));
    };
    const fresh = await vote(pastRounds(store));
    assert.equal(fresh, 'FAILED_PRECONDITION: round_id: round w-done of solution s2 expired at block 15: votes are closed');
    const reader = staleOnce();
    assert.equal(await vote(reader), fresh);
    assert.equal(reader.reads, 2);
    assert.equal(await events(), n, 'nothing written');
  });

  test('a round in the state when the decision was asked for, gone from it when it is taken: decided on its record, read then', async () => {
    const n = await events();
    const key = roundKey('s1', 'leaving');
    assert.ok(rt.state().rounds.has(key));
    // The round's settlement is recorded after executeOnRound looked at the state and before its decision runs.
    const settling: Runtime<VotingState> = Object.assign(Object.create(rt) as Runtime<VotingState>, {
      execute: async (...a: Parameters<Runtime<VotingState>['execute']>) => {
        if (rt.state().rounds.has(key)) await settle('s1', 'leaving');
        return rt.execute(...a);
      },
    });
    const answer = await executeOnRound(
      settling,
      pastRounds(store),
      's1',
      'leaving',
      (s, known) => startRound(s, 's1', 'leaving', registrar, known).events,
    ).then(
      () => 'started',
      (e: unknown) => (isDomainError(e) ? `${e.code}: ${e.message}` : String(e)),
    );
    assert.ok(!rt.state().rounds.has(key), 'it left the state');
    assert.equal(answer, 'ALREADY_EXISTS: round_id: round leaving of solution s1 already exists');
    assert.equal(await events(), n + 1, 'only the settlement written');
  });
});
