import { castVotes } from '@ewx/contracts';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRuntime, pgliteEventStore, silentLogger, type EventData, type Runtime } from '@ewx/platform';
import { roundKey, roundStream, startRound, votingDecider, type VotingState } from '../domain/decider.js';
import { REGISTRAR, block, ev, world, worker } from '../domain/testing.js';
import { voteBatcher } from './batcher.js';
import { startVotingReactions } from './reactions.js';

let seq = 0;
/** Records another service's event the way the inbox does. */
const ingest = (rt: Runtime<VotingState>, source: string, e: EventData) =>
  rt.ingest({ source, streamId: `${source}-${++seq}`, version: 0, position: String(seq), type: e.type, data: e.data });

let appends = 0;
async function setup(config = {}): Promise<Runtime<VotingState>> {
  const store = await pgliteEventStore('voting_app');
  const counting = {
    ...store,
    append: (...a: Parameters<typeof store.append>) => {
      appends++;
      return store.append(...a);
    },
  };
  const rt = createRuntime('voting', counting, votingDecider, silentLogger);
  await rt.start();
  for (const e of world(config, 20)) await ingest(rt, e.type === 'RewardPeriodScheduleChanged' ? 'rewards' : 'registry', e);
  await ingest(rt, 'consensus', block(10));
  return rt;
}

describe('voting application: group commit and reactions', () => {
  test('concurrent votes are group-committed: each gets its own answer, a refusal refuses only itself', async () => {
    const rt = await setup();
    await rt.execute(roundStream('s1', 'r'), (s) => startRound(s, 's1', 'r', { kind: 'account', address: REGISTRAR }).events);
    const b = voteBatcher(rt, silentLogger);
    const before = appends;
    const answers = await Promise.allSettled([
      ...Array.from({ length: 20 }, (_, i) => b.submit({ solution: 's1', roundId: 'r', worker: worker(i + 1), result: 'ab', nonce: 1n })),
      b.submit({ solution: 's1', roundId: 'r', worker: worker(99), result: 'ab', nonce: 1n }),
    ]);
    assert.equal(answers.filter((a) => a.status === 'fulfilled' && a.value === true).length, 20);
    assert.equal(((answers[20] as PromiseRejectedResult).reason as { code: string }).code, 'PERMISSION_DENIED');
    const recorded = (await rt.store.readStream(roundStream('s1', 'r'))).filter((e) => castVotes(e).length > 0);
    assert.deepEqual(
      recorded.map((e) => [e.type, castVotes(e).length]),
      [['VotesCast', 20]],
      '20 votes accepted together: one VotesCast',
    );
    assert.equal(appends - before, 1, '21 concurrent votes, one append');
    assert.equal(rt.state().rounds.get(roundKey('s1', 'r'))!.votes.size, 20);
    assert.equal(await b.submit({ solution: 's1', roundId: 'r', worker: worker(1), result: 'ab', nonce: 2n }), false, 'a repeat changes nothing');
    await rt.stop();
  });

  test('the recorded end block closes the round; an unresolved RETRY_ONCE round is retried', async () => {
    const rt = await setup({ unresolvedPolicy: 'RETRY_ONCE' });
    await rt.execute(roundStream('s1', 'r'), (s) => startRound(s, 's1', 'r', { kind: 'account', address: REGISTRAR }).events);
    const reactions = startVotingReactions(rt, silentLogger);
    await ingest(rt, 'consensus', block(20));
    for (let i = 0; i < 100 && rt.state().rounds.get(roundKey('s1', 'r'))!.status === 'ACTIVE'; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(rt.state().rounds.get(roundKey('s1', 'r'))!.status, 'OFF_CHAIN_VOTE');
    await ingest(
      rt,
      'consensus',
      ev('RoundUnresolved', {
        solution: 's1',
        roundId: 'r',
        group: 'g1',
        period: 0,
        reason: 'NO_QUORUM',
        tally: { eligible: 20, submitted: 0, top: 0, outcome: 'UNRESOLVED' },
        merkleRoot: '',
        attestors: [],
        dissenters: [],
      }),
    );
    for (let i = 0; i < 100 && !rt.state().rounds.has(roundKey('s1', 'r#retry')); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(rt.state().rounds.get(roundKey('s1', 'r#retry'))?.retryOf, 'r');
    await reactions.stop();
    await rt.stop();
  });
});
