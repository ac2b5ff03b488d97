import { castVotes, voteSigners } from '@ewx/contracts';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRuntime, DomainError, pgliteEventStore, silentLogger, type EventData, type EventStore, type Runtime } from '@ewx/platform';
import { decideVotes, roundKey, roundStream, startRound, votingDecider, type VoteCommand, type VotingState } from '../domain/decider.js';
import { REGISTRAR, block, world, worker } from '../domain/testing.js';
import { voteBatcher } from './batcher.js';

/**
 * The pipelined batcher (votes take their place when they arrive, are decided once their checks
 * pass, in runs appended while the next checks run) against deciding the same votes one by one in
 * order of arrival: the same answers, the same log.
 */

let seq = 0;
const ingest = (rt: Runtime<VotingState>, source: string, e: EventData) =>
  rt.ingest({ source, streamId: `${source}-${++seq}`, version: 0, position: String(seq), type: e.type, data: e.data });

async function setup(store?: EventStore): Promise<Runtime<VotingState>> {
  const rt = createRuntime('voting', store ?? (await pgliteEventStore('voting_pipeline')), votingDecider, silentLogger);
  await rt.start();
  seq = 0;
  for (const e of world({}, 20)) await ingest(rt, e.type === 'RewardPeriodScheduleChanged' ? 'rewards' : 'registry', e);
  await ingest(rt, 'consensus', block(10));
  return rt;
}

/** Deterministic pseudo-random numbers (mulberry32). */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

type Answer = boolean | string;
const answerOf = (p: Promise<boolean>): Promise<Answer> =>
  p.then(
    (a) => a,
    (e: DomainError) => `${e.code}: ${e.message}`,
  );

/** One vote at a time, each its own decision and append: the reference. */
async function sequential(rt: Runtime<VotingState>, cmd: VoteCommand): Promise<Answer> {
  let outcome: ReturnType<typeof decideVotes>['outcomes'][number] | undefined;
  await rt.execute(roundStream(cmd.solution, cmd.roundId), (s) => {
    const r = decideVotes(s, [cmd], rt.lastNonce);
    outcome = r.outcomes[0];
    return r.events;
  });
  if (outcome === 'accepted') return true;
  if (outcome === 'repeated') return false;
  return `${(outcome as DomainError).code}: ${(outcome as DomainError).message}`;
}

/**
 * Each stream's events in order, a vote as `vote <worker> <result> <nonce>` whichever event carries it
 * (the reference writes one VoteCast per vote, group commit a VotesCast per append): the same
 * decisions, in the same order, whatever the grouping.
 */
const votesOf = async (rt: Runtime<VotingState>, streams: readonly string[]) =>
  Object.fromEntries(
    await Promise.all(
      streams.map(async (s) => [
        s,
        (await rt.store.readStream(s)).flatMap((e) => {
          const votes = castVotes(e);
          if (votes.length === 0) return [e.type];
          const signers = e.type === 'VotesCast' ? voteSigners(e.metadata) : [[votes[0]![0], (e.metadata as { nonce: string }).nonce]];
          return votes.map(([worker, result], i) => `vote ${worker} ${result} ${signers[i]![0] === worker ? signers[i]![1] : 'signer mismatch'}`);
        }),
      ]),
    ),
  );

const tick = (ms: number) => new Promise<void>((r) => (ms === 0 ? setImmediate(r) : setTimeout(r, ms)));

describe('voting: pipelined group commit', () => {
  test('property: answers and log equal deciding the votes one by one in order of arrival, whatever order the checks finish in', async () => {
    const piped = await setup();
    const reference = await setup();
    const streams: string[] = [];
    const nonces = new Map<number, bigint>();
    let checked = 0;
    for (let iteration = 0; iteration < 6; iteration++) {
      const random = prng(1000 + iteration);
      const rounds = [`a${iteration}`, `b${iteration}`];
      for (const rt of [piped, reference]) {
        for (const r of rounds) await rt.execute(roundStream('s1', r), (s) => startRound(s, 's1', r, { kind: 'account', address: REGISTRAR }).events);
        // Rounds last 10 blocks: the rounds of earlier iterations expire on the way.
        await ingest(rt, 'consensus', block(10 + 4 * (iteration + 1)));
      }
      streams.push(...rounds.map((r) => roundStream('s1', r)));
      const older = iteration > 2 ? [`a${iteration - 3}`] : [];
      const votes: { cmd: VoteCommand; refuse: boolean; delay: number }[] = Array.from({ length: 50 }, () => {
        const w = 1 + Math.floor(random() * 22); // 21 and 22 are no connected workers
        const last = nonces.get(w) ?? 0n;
        const step = [1n, 1n, 1n, 2n, 0n, -1n][Math.floor(random() * 6)]!;
        const nonce = last + step > 0n ? last + step : 1n;
        if (nonce > last) nonces.set(w, nonce);
        const roundId = [...rounds, ...older][Math.floor(random() * (rounds.length + older.length))]!;
        return {
          cmd: { solution: 's1', roundId, worker: worker(w), result: ['ab', 'ab', 'cd', 'zz'][Math.floor(random() * 4)]!, nonce },
          refuse: random() < 0.1,
          delay: [0, 0, 1, 3, 6][Math.floor(random() * 5)]!,
        };
      });
      const batcher = voteBatcher(piped, silentLogger);
      const refusal = new DomainError('UNAUTHENTICATED', 'auth.signature: not a valid ed25519 signature');
      // All at once, as a SubmitVotes; each vote's checks finish after its own delay.
      const got = await Promise.all(
        votes.map(({ cmd, refuse, delay }) => answerOf(batcher.enqueue(tick(delay).then(() => (refuse ? Promise.reject(refusal) : cmd))))),
      );
      const want: Answer[] = [];
      for (const { cmd, refuse } of votes) want.push(refuse ? `${refusal.code}: ${refusal.message}` : await sequential(reference, cmd));
      assert.deepEqual(got, want, `iteration ${iteration}`);
      checked += votes.length;
    }
    assert.deepEqual(await votesOf(piped, streams), await votesOf(reference, streams));
    for (let w = 1; w <= 22; w++) assert.equal(piped.lastNonce(worker(w)), reference.lastNonce(worker(w)), `nonce of worker ${w}`);
    assert.equal(checked, 300);
    await piped.stop();
    await reference.stop();
  });

  test('a vote whose check finishes last is still decided first: the first of two different votes by one worker wins', async () => {
    const rt = await setup();
    await rt.execute(roundStream('s1', 'r'), (s) => startRound(s, 's1', 'r', { kind: 'account', address: REGISTRAR }).events);
    const b = voteBatcher(rt, silentLogger);
    const first = answerOf(b.enqueue(tick(20).then(() => ({ solution: 's1', roundId: 'r', worker: worker(1), result: 'ab', nonce: 1n }))));
    const second = answerOf(b.enqueue(Promise.resolve({ solution: 's1', roundId: 'r', worker: worker(1), result: 'cd', nonce: 2n })));
    const third = answerOf(b.enqueue(Promise.resolve({ solution: 's1', roundId: 'r', worker: worker(2), result: 'cd', nonce: 1n })));
    assert.equal(await first, true);
    assert.match(String(await second), /^ALREADY_EXISTS: result: a vote by .* with a different result/);
    assert.equal(await third, true);
    const cast = (await rt.store.readStream(roundStream('s1', 'r'))).flatMap(castVotes).map(([w]) => w);
    assert.deepEqual(cast, [worker(1), worker(2)], 'appended in order of arrival');
    await rt.stop();
  });

  test('a failed append refuses its run and records nothing of it; the votes before stay, a retry is recorded once, a restart replays the same state', async () => {
    const store = await pgliteEventStore('voting_pipeline_crash');
    let failNext = false;
    const flaky: EventStore = {
      ...store,
      append: (...a: Parameters<EventStore['append']>) => {
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error('connection lost'));
        }
        return store.append(...a);
      },
    };
    const rt = await setup(flaky);
    await rt.execute(roundStream('s1', 'r'), (s) => startRound(s, 's1', 'r', { kind: 'account', address: REGISTRAR }).events);
    const b = voteBatcher(rt, silentLogger);
    const vote = (w: number, nonce = 1n): VoteCommand => ({ solution: 's1', roundId: 'r', worker: worker(w), result: 'ab', nonce });
    assert.deepEqual(await Promise.all([1, 2, 3].map((w) => b.submit(vote(w)))), [true, true, true]);
    failNext = true;
    const lost = await Promise.allSettled([4, 5, 6].map((w) => b.submit(vote(w))));
    assert.deepEqual(
      lost.map((r) => r.status === 'rejected' && (r.reason as Error).message),
      ['connection lost', 'connection lost', 'connection lost'],
    );
    // The client retries: recorded once; a second retry is a repeat.
    assert.deepEqual(await Promise.all([4, 5, 6].map((w) => b.submit(vote(w)))), [true, true, true]);
    assert.deepEqual(await Promise.all([4, 5, 6].map((w) => b.submit(vote(w, 2n)))), [false, false, false]);
    const cast = (await store.readStream(roundStream('s1', 'r'))).flatMap(castVotes).map(([w]) => w);
    assert.deepEqual(cast, [1, 2, 3, 4, 5, 6].map(worker));
    const replayed = createRuntime('voting', store, votingDecider, silentLogger);
    await replayed.start();
    assert.deepEqual(replayed.state().rounds.get(roundKey('s1', 'r'))!.votes, rt.state().rounds.get(roundKey('s1', 'r'))!.votes);
    assert.equal(rt.state().rounds.get(roundKey('s1', 'r'))!.votes.size, 6);
    for (let w = 1; w <= 6; w++) assert.equal(replayed.lastNonce(worker(w)), 1n);
    await replayed.stop();
    await rt.stop();
  });
});
