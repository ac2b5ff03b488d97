import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { generateKeyPair, signBytes, type EventData, type ResultChainedEvent, type RoundSettledEvent, type Tally, type VoteMetadataEvent } from '@ewx/platform';
import { attestationBytes, evaluateRound } from './settle.js';
import { isClosed, metadataKey, roundKey } from './state.js';
import { tallyText } from './tally.js';
import { attest, cast, consensus, ev, opened, operator as op, roundStarted, voteCountsOf, withValidators, worker as w, type ConsensusSpec } from './testing.js';

/** A closed round of 10 workers: 7 vote `aa`, 2 vote `bb`, 1 is silent (quorum 50 %, majority 60 %). */
function closedRound(
  s: ConsensusSpec,
  roundId = 'r1',
  results: (string | undefined)[] = ['aa', 'aa', 'aa', 'aa', 'aa', 'aa', 'aa', 'bb', 'bb', undefined],
): ConsensusSpec {
  const votes = results.map((r, i) => [w(i), r] as const).filter((v): v is readonly [string, string] => v[1] !== undefined);
  return s.given([
    ...opened(roundId, results.length),
    ev('RoundClosed', { solution: 's1', roundId, height: 11, submitted: votes.length, chunk: 0, chunks: 1, votes }),
  ]);
}

const types = (events: readonly EventData[]): string[] => events.map((e) => e.type);

describe('SPEC §5 validators settle with more than two thirds of the set', () => {
  test('a set of 3: the first two attestations record only; the third settles (2 of 3 is not more than two thirds)', () => {
    const { s, keys } = withValidators(3);
    closedRound(s);
    s.when(attest(s, keys[0]!))
      .then((a1) => assert.deepEqual(types(a1), ['AttestationRecorded']))
      .when(attest(s, keys[1]!))
      .then((a2) => assert.deepEqual(types(a2), ['AttestationRecorded']))
      .when(attest(s, keys[2]!))
      .then((a3) => {
        assert.deepEqual(types(a3), ['AttestationRecorded', 'RoundSettled', 'ResultChained', 'VoteMetadata']);
        const settled = a3[1]!.data as unknown as RoundSettledEvent;
        assert.equal(settled.result, 'aa');
        assert.deepEqual(settled.tally, { eligible: 10, submitted: 9, top: 7, outcome: 'SETTLED', result: 'aa' });
        assert.equal(settled.attestors.length, 3);
      });
  });

  test('a set of 4: three agreeing validators settle while the fourth is down', () => {
    const { s, keys } = withValidators(4);
    closedRound(s);
    s.after(attest(s, keys[0]!));
    s.after(attest(s, keys[1]!));
    s.when(attest(s, keys[2]!)).then((events) => assert.ok(types(events).includes('RoundSettled')));
  });

  test('a dissenting validator is recorded and named; the honest supermajority still settles', () => {
    const { s, keys } = withValidators(4);
    closedRound(s);
    const forged = (t: Tally): Tally => ({ ...t, result: 'bb' });
    s.after(attest(s, keys[3]!, 'r1', forged));
    s.after(attest(s, keys[0]!));
    s.after(attest(s, keys[1]!));
    s.when(attest(s, keys[2]!)).then((tip) => {
      const settled = tip.find((e) => e.type === 'RoundSettled')!.data as unknown as RoundSettledEvent;
      assert.deepEqual(settled.dissenters, [keys[3]!.address]);
      assert.equal(settled.result, 'aa');
    });
    const { s: s2, keys: k2 } = withValidators(3);
    closedRound(s2);
    for (const k of k2) s2.after(attest(s2, k));
    const late = generateKeyPair();
    s2.when(attest(s2, late)).thenThrows('PERMISSION_DENIED'); // not in the set
  });

  test('an attestation after settlement that disagrees is recorded as dissent', () => {
    const { s, keys } = withValidators(4);
    closedRound(s);
    for (const k of keys.slice(0, 3)) s.after(attest(s, k));
    s.when(attest(s, keys[3]!, 'r1', (t) => ({ ...t, top: 6 }))).then((late) => {
      assert.deepEqual(types(late), ['AttestationRecorded']);
      assert.equal((late[0]!.data as { dissent: boolean }).dissent, true);
    });
  });

  test('refused: a validator outside the set, a bad signature, a round not closed; attesting twice changes nothing', () => {
    const { s, keys } = withValidators(3);
    s.when({
      type: 'Attest',
      validator: keys[0]!.address,
      solution: 's1',
      roundId: 'r1',
      tally: { eligible: 0, submitted: 0, top: 0, outcome: 'UNRESOLVED' },
      merkleRoot: '',
      signature: '',
    }).thenThrows('FAILED_PRECONDITION');
    closedRound(s);
    s.when(attest(s, generateKeyPair())).thenThrows('PERMISSION_DENIED');
    const t = evaluateRound(s.state.rounds.get(roundKey('s1', 'r1'))!);
    const wrongSig = signBytes(keys[1]!, attestationBytes('s1', 'r1', t.tally, t.merkleRoot)).toString('hex');
    s.when({ type: 'Attest', validator: keys[0]!.address, solution: 's1', roundId: 'r1', ...t, signature: wrongSig }).thenThrows('PERMISSION_DENIED');
    s.after(attest(s, keys[0]!));
    s.when(attest(s, keys[0]!)).thenNothingChanged();
  });

  test('the validators count only votes of workers in the recorded snapshot, and E is the snapshot size', () => {
    const { s } = withValidators(1);
    closedRound(s);
    s.given([
      roundStarted('x', { voteThresholdPercent: 50, eligible: 2 }),
      ev('RoundSnapshot', {
        solution: 's1',
        roundId: 'x',
        chunk: 0,
        chunks: 1,
        workers: [
          [w(1), op(1)],
          [w(2), op(2)],
        ],
      }),
      ev('RoundClosed', {
        solution: 's1',
        roundId: 'x',
        height: 11,
        submitted: 3,
        chunk: 0,
        chunks: 1,
        votes: [
          [w(1), 'aa'],
          [w(2), 'bb'],
          [w(77), 'bb'],
        ],
      }),
    ]);
    const t = evaluateRound(s.state.rounds.get(roundKey('s1', 'x'))!).tally;
    assert.deepEqual([t.eligible, t.submitted, t.reason], [2, 2, 'TIE']);
  });

  test('an unresolved outcome: RoundUnresolved, no chain entry, no vote metadata', () => {
    const { s, keys } = withValidators(3);
    closedRound(s, 'r1', ['aa', 'bb', undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
    let last: readonly EventData[] = [];
    for (const k of keys) last = s.run(attest(s, k));
    assert.deepEqual(types(last), ['AttestationRecorded', 'RoundUnresolved']);
    assert.equal((last[1]!.data as { reason: string }).reason, 'NO_QUORUM');
    assert.equal(s.state.chains.get('s1'), undefined);
    assert.equal(voteCountsOf(s.log).size, 0);
    assert.ok(!('metadata' in s.state), 'no vote counts in the state');
  });

  test('a settlement records the set in force; a validator of a later set attests nothing about it', () => {
    const { s, keys } = withValidators(3);
    closedRound(s);
    let tip: readonly EventData[] = [];
    for (const k of keys) tip = s.run(attest(s, k));
    const settled = tip.find((e) => e.type === 'RoundSettled')!.data as unknown as RoundSettledEvent;
    assert.deepEqual(
      settled.validators,
      keys.map((k) => k.address),
    );
    // The set changes (a restart under a new key did this): the newcomer may attest new rounds only.
    const newcomer = generateKeyPair();
    s.after({ type: 'ConfigureValidators', validators: [newcomer.address] });
    assert.equal(s.state.rounds.get(roundKey('s1', 'r1'))!.decidedBy!.length, 3);
    s.when(attest(s, newcomer)).thenThrows('PERMISSION_DENIED', /decided by the validator set then in force/);
    closedRound(s, 'r2');
    s.when(attest(s, newcomer, 'r2')).then((next) => {
      const r2 = next.find((e) => e.type === 'RoundSettled')!.data as unknown as RoundSettledEvent;
      assert.deepEqual([r2.attestors, r2.validators], [[newcomer.address], [newcomer.address]]);
    });
  });
});

describe('SPEC §5 vote metadata and the result chain', () => {
  test('eligible +1 per operator in the snapshot, correct +1 per operator whose worker voted the result; unresolved counts for nobody', () => {
    const { s, keys } = withValidators(3);
    closedRound(s, 'r1');
    for (const k of keys) s.after(attest(s, k));
    closedRound(s, 'r2', ['bb', 'aa', 'cc', undefined, undefined, undefined, undefined, undefined, undefined, undefined]); // no quorum
    for (const k of keys) s.after(attest(s, k, 'r2'));
    closedRound(s, 'r3', ['aa', 'aa', 'aa', 'aa', 'aa', 'aa', 'aa', 'aa', 'bb', 'aa']);
    let tip: readonly EventData[] = [];
    for (const k of keys) tip = s.run(attest(s, k, 'r3'));
    const md = tip.find((e) => e.type === 'VoteMetadata')!.data as unknown as VoteMetadataEvent;
    assert.deepEqual([md.group, md.rewardPeriod, md.chunk, md.chunks, md.eligibleOperators.length, md.correctOperators.length], ['g1', 3, 0, 1, 10, 9]);
    const m = voteCountsOf(s.log).get(metadataKey('g1', 3))!;
    assert.ok(!('metadata' in s.state), 'the vote counts are folded from the log (a projection), not kept in the state');
    assert.deepEqual(m.get(op(0)), { eligible: 2, correct: 2 });
    assert.deepEqual(m.get(op(8)), { eligible: 2, correct: 0 }); // voted bb both times
    assert.deepEqual(m.get(op(9)), { eligible: 2, correct: 1 }); // silent in r1
  });

  test('each settled result extends the solution chain: hash = sha256(prev, round, result, tally)', () => {
    const { s, keys } = withValidators(1);
    closedRound(s, 'r1');
    s.after(attest(s, keys[0]!));
    closedRound(s, 'r2', ['bb', 'bb', 'bb', 'bb', 'bb', 'bb', 'aa', 'aa', 'aa', 'aa']);
    const tip = s.run(attest(s, keys[0]!, 'r2'));
    const chain = s.state.chains.get('s1')!;
    assert.equal(chain.length, 2);
    // The entries are in the log; the state keeps the length and the last hash.
    const entries = s.log.filter((x) => x.type === 'ResultChained').map((x) => x.data as unknown as ResultChainedEvent);
    assert.equal(entries[0]!.prevHash, '00'.repeat(32));
    assert.equal(entries[1]!.prevHash, entries[0]!.hash);
    assert.equal(chain.hash, entries[1]!.hash);
    const e = tip.find((x) => x.type === 'ResultChained')!.data as unknown as ResultChainedEvent;
    const recomputed = createHash('sha256')
      .update(`ewx/v1/result-chain\n${e.prevHash}\n${e.roundId}\n${e.result}\n${tallyText(e.tally)}`)
      .digest('hex');
    assert.equal(e.hash, recomputed);
    assert.equal(e.result, 'bb');
  });
});

describe('votes carried once: VoteCast events, then a RoundClosed (v2) with their count', () => {
  const results = ['aa', 'aa', 'aa', 'aa', 'aa', 'aa', 'aa', 'bb', 'bb', undefined];

  test('the same tally and Merkle root as the v1 close that carried the votes, whatever order they were recorded in', () => {
    const v1 = closedRound(consensus());
    const v2 = consensus().given(opened('r1', 10));
    // Recorded in arrival order, not by worker.
    for (const i of [8, 3, 0, 6, 1, 7, 5, 2, 4]) v2.given(cast('r1', i, results[i]!));
    assert.equal(isClosed(v2.state.rounds.get(roundKey('s1', 'r1'))!), false, 'open until the close');
    v2.given(ev('RoundClosed', { solution: 's1', roundId: 'r1', height: 11, submitted: 9 }));
    const r = v2.state.rounds.get(roundKey('s1', 'r1'))!;
    assert.ok(isClosed(r));
    assert.deepEqual(r.votes, v1.state.rounds.get(roundKey('s1', 'r1'))!.votes);
    assert.deepEqual(evaluateRound(r), evaluateRound(v1.state.rounds.get(roundKey('s1', 'r1'))!));
    assert.deepEqual(evaluateRound(r).tally, { eligible: 10, submitted: 9, top: 7, outcome: 'SETTLED', result: 'aa' });
  });

  test('the worker order does not depend on the snapshot being recorded in order', () => {
    const s = consensus().given(opened('r4', 0));
    s.given(
      ev('RoundSnapshot', {
        solution: 's1',
        roundId: 'r4',
        chunk: 0,
        chunks: 1,
        workers: [
          [w(3), op(3)],
          [w(1), op(1)],
          [w(2), op(2)],
        ],
      }),
    );
    s.given(cast('r4', 2, 'bb'), cast('r4', 3, 'cc'), cast('r4', 1, 'aa'), ev('RoundClosed', { solution: 's1', roundId: 'r4', height: 11, submitted: 3 }));
    assert.deepEqual(s.state.rounds.get(roundKey('s1', 'r4'))!.votes, [
      [w(1), 'aa'],
      [w(2), 'bb'],
      [w(3), 'cc'],
    ]);
  });

  test('a close that counts more votes than were recorded leaves the round not closed for the validators', () => {
    const s = consensus().given(opened('r2', 3), cast('r2', 0, 'aa'), ev('RoundClosed', { solution: 's1', roundId: 'r2', height: 11, submitted: 2 }));
    assert.equal(isClosed(s.state.rounds.get(roundKey('s1', 'r2'))!), false);
  });

  test('settles through attestations like a v1 round', () => {
    const { s, keys } = withValidators(1);
    s.given(opened('r3', 10));
    results.forEach((x, i) => {
      if (x) s.given(cast('r3', i, x));
    });
    s.given(ev('RoundClosed', { solution: 's1', roundId: 'r3', height: 11, submitted: 9 }));
    s.when(attest(s, keys[0]!, 'r3')).then((e) => assert.deepEqual(types(e), ['AttestationRecorded', 'RoundSettled', 'ResultChained', 'VoteMetadata']));
  });
});
