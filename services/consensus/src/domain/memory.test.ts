import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as v8 from 'node:v8';
import { generateKeyPair, type AttestationRecordedEvent, type KeyPair, type RecordedEvent, type Tally } from '@ewx/platform';
import { spec } from '@ewx/platform/testing';
import { decide, streamOf as streamOfCommand } from './decider.js';
import { evolve, evolveKeepingRounds, roundFromEvents } from './evolve.js';
import { leafHash, merkleProof, merkleRoot } from './merkle.js';
import { evaluateRound } from './settle.js';
import { initialConsensusState, roundKey, type ConsensusState } from './state.js';
import { attest, cast, ev, opened, voteCountsOf, withValidators, type ConsensusSpec } from './testing.js';

const VOTING = new Set(['RoundStarted', 'RoundSnapshot', 'VoteCast', 'RoundClosed']);

/** Round `roundId` of `n` workers, each voting (in reverse worker order) 'aa' but every third 'bb', then closed. */
function closedRound(s: ConsensusSpec, roundId: string, n: number): void {
  s.given(
    opened(roundId, n),
    Array.from({ length: n }, (_, k) => n - 1 - k).map((i) => cast(roundId, i, i % 3 === 2 ? 'bb' : 'aa')),
    ev('RoundClosed', { solution: 's1', roundId, height: 11, submitted: n }),
  );
}

const streamOf = (s: ConsensusSpec, roundId: string): RecordedEvent[] =>
  s.log.filter((e) => VOTING.has(e.type) && (e.data as { roundId?: string }).roundId === roundId);

describe('bounded memory: a decided round leaves the decision state', () => {
  test('the serialized state after 10 settled rounds of 1,000 votes is that after 1 plus a small summary per round', () => {
    const V = 1000;
    const { s, keys } = withValidators(1);
    const base = v8.serialize(s.state).length;
    const settle = (id: string): void => {
      closedRound(s, id, V);
      s.after(attest(s, keys[0]!, id));
    };
    closedRound(s, 'r0', V);
    const open = v8.serialize(s.state).length;
    s.after(attest(s, keys[0]!, 'r0'));
    const one = v8.serialize(s.state).length;
    for (let i = 1; i < 10; i++) settle(`r${i}`);
    const ten = v8.serialize(s.state).length;
    const perRound = (ten - one) / 9;
    console.log(
      `serialized state: base ${base} B, 1 round closed ${open} B, 1 settled ${one} B, 10 settled ${ten} B; ${perRound.toFixed(0)} B per settled round`,
    );
    assert.ok(open - base > 100 * V, `a closed round holds its snapshot, votes and leaves (${open - base} B for ${V} votes)`);
    assert.ok(perRound < 3000, `a settled round keeps its outcome, attestations, chain entry and counts: ${perRound} B each`);
    const r = s.state.rounds.get(roundKey('s1', 'r9'))!;
    assert.deepEqual([r.status, r.votesDropped, r.snapshot.size, r.votes.length, r.leaves.length, r.evaluation], ['SETTLED', true, 0, 0, 0, undefined]);
    assert.equal(s.state.chains.get('s1')!.length, 10);
  });

  test("a decided round's votes and leaves are folded back from its events, the same as before they were dropped: the same proofs", () => {
    const { s, keys } = withValidators(1);
    closedRound(s, 'r', 50);
    const before = s.state.rounds.get(roundKey('s1', 'r'))!;
    const votes = structuredClone(before.votes);
    const leaves = before.leaves.map((l) => l.toString('hex'));
    const proofs = votes.map((_, i) => merkleProof(before.leaves, i));
    s.after(attest(s, keys[0]!, 'r'));
    assert.equal(s.state.rounds.get(roundKey('s1', 'r'))!.votes.length, 0);
    const back = roundFromEvents(streamOf(s, 'r'))!;
    assert.deepEqual(back.votes, votes);
    assert.deepEqual(
      back.leaves.map((l) => l.toString('hex')),
      leaves,
    );
    assert.deepEqual(
      votes.map((_, i) => merkleProof(back.leaves, i)),
      proofs,
    );
    // And independently of the fold: leaves of the votes sorted by worker.
    const sorted = [...votes].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    assert.equal(merkleRoot(sorted.map(([x, y]) => leafHash(x, y))), s.state.rounds.get(roundKey('s1', 'r'))!.outcome!.merkleRoot);
  });

  test('a validator that attests after the round was decided signs what the votes give: the same attestation as before they were dropped', () => {
    // 4 validators: 3 settle; the 4th attests late.
    const { s, keys } = withValidators(4);
    closedRound(s, 'r', 30);
    const late = attest(s, keys[3]!, 'r');
    for (const k of keys.slice(0, 3)) s.after(attest(s, k, 'r'));
    assert.equal(s.state.rounds.get(roundKey('s1', 'r'))!.votesDropped, true);
    assert.deepEqual(attest(s, keys[3]!, 'r'), late);
    s.when(late).then((events) => {
      assert.deepEqual(
        events.map((e) => e.type),
        ['AttestationRecorded'],
      );
      assert.equal((events[0]!.data as unknown as AttestationRecordedEvent).dissent, false);
    });
  });

  test('when the validators settled an outcome other than the votes give, the honest evaluation is kept: a late honest validator dissents', () => {
    const { s, keys } = withValidators(4);
    closedRound(s, 'r', 30);
    const honest = evaluateRound(s.state.rounds.get(roundKey('s1', 'r'))!);
    const late = attest(s, keys[3]!, 'r');
    const forge = (t: Tally): Tally => ({ ...t, top: t.top - 1 });
    for (const k of keys.slice(0, 3)) s.after(attest(s, k, 'r', forge));
    const r = s.state.rounds.get(roundKey('s1', 'r'))!;
    assert.equal(r.outcome!.tally.top, honest.tally.top - 1);
    assert.deepEqual(r.evaluation, honest);
    assert.deepEqual(evaluateRound(r), honest);
    assert.deepEqual(attest(s, keys[3]!, 'r'), late);
    s.when(late).then((events) => assert.equal((events[0]!.data as unknown as AttestationRecordedEvent).dissent, true));
  });
});

describe('bounded memory: a decided round that owes nothing leaves the state at the next block', () => {
  /** `n` rounds of 20 votes settled by one validator, each followed by a block past its end; the serialised state after each. */
  function settleAndPass(fold: typeof evolve, n: number): { sizes: number[]; state: ConsensusState; log: ConsensusSpec['log'] } {
    const key = generateKeyPair();
    const s = spec({ initialState: initialConsensusState, evolve: fold, decide, streamOf: streamOfCommand }).after({
      type: 'ConfigureValidators',
      validators: [key.address],
    });
    const sizes: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = `r${i}`;
      closedRound(s, id, 20);
      s.after(attest(s, key, id));
      s.given(ev('BlockProduced', { height: 11 + i }));
      sizes.push(v8.serialize(s.state).length);
    }
    return { sizes, state: s.state, log: s.log };
  }

  test('40 settled rounds: the state does not grow per round (where its attestations and chain entry are is in a projection), the fold before keeps its outcome and attestations', () => {
    const now = settleAndPass(evolve, 40);
    const before = settleAndPass(evolveKeepingRounds, 40);
    const per = (x: number[]) => (x[39]! - x[9]!) / 30;
    console.log(
      `serialised per settled round, rounds 10 to 40: ${per(now.sizes).toFixed(0)} B; the fold before (evolveKeepingRounds): ${per(before.sizes).toFixed(0)} B`,
    );
    assert.equal(now.state.rounds.size, 0, 'every round left the state');
    assert.equal(now.state.chains.get('s1')!.length, 40);
    assert.ok(per(now.sizes) < 48, `nothing per round (a height's and a length's digits): ${per(now.sizes)} B`);
    assert.ok(per(before.sizes) > 10 * per(now.sizes), `the fold before keeps the outcome, attestation and chain entry: ${per(before.sizes)} B`);
    // The same decisions: the chain (length, last hash) and the vote counts.
    assert.deepEqual([now.state.chains.get('s1')!.length, now.state.chains.get('s1')!.hash], [40, before.state.chains.get('s1')!.hash]);
    assert.deepEqual(voteCountsOf(now.log), voteCountsOf(before.log));
  });

  test('flat: 2,000 decided rounds serialise to the bytes of 1,000, and of 10 give or take the widths of the numbers', () => {
    const N = 2000;
    const { sizes, state } = settleAndPass(evolve, N);
    console.log(`serialised state after 10 decided rounds ${sizes[9]} B, after 1,000 ${sizes[999]} B, after ${N} ${sizes[N - 1]} B`);
    assert.equal(state.rounds.size, 0);
    assert.equal(state.chains.get('s1')!.length, N);
    // From 1,000 to 2,000 every number (height, chain length) keeps its varint width: the same bytes.
    assert.equal(sizes[N - 1], sizes[999], 'nothing per decided round');
    // From 10: a byte more for the height and the chain length, nothing else (the operators' vote counts are not in the state: app/metadata.ts).
    assert.ok(sizes[N - 1]! - sizes[9]! <= 2, `${sizes[N - 1]} B after ${N} rounds against ${sizes[9]} B after 10`);
  });
});

describe('bounded memory while a validator stays down: the attestation window', () => {
  const W = 10;
  /** 4 validators, the window recorded with the set (or not: the rule before it); the 4th never attests. */
  function downSpec(fold: typeof evolve, window: number | undefined): { s: ConsensusSpec; keys: KeyPair[] } {
    const keys = Array.from({ length: 4 }, () => generateKeyPair());
    const s = spec({ initialState: initialConsensusState, evolve: fold, decide, streamOf: streamOfCommand }).after({
      type: 'ConfigureValidators',
      validators: keys.map((k) => k.address),
      ...(window === undefined ? {} : { attestationWindow: window }),
    });
    return { s, keys };
  }
  /** `n` rounds of 20 votes settled by 3 of 4 validators, each followed by a block; the serialised state after each. */
  function settleByThree(fold: typeof evolve, window: number | undefined, n: number): { sizes: number[]; state: ConsensusState; log: ConsensusSpec['log'] } {
    const { s, keys } = downSpec(fold, window);
    const sizes: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = `r${i}`;
      closedRound(s, id, 20);
      for (const k of keys.slice(0, 3)) s.after(attest(s, k, id));
      s.given(ev('BlockProduced', { height: 11 + i }));
      sizes.push(v8.serialize(s.state).length);
    }
    return { sizes, state: s.state, log: s.log };
  }

  test('one validator of 4 never attests: 2,000 rounds decided serialise to the bytes of 1,500 (the window holds the rounds of the last W blocks); without a window every one stays', () => {
    const N = 2000;
    const now = settleByThree(evolve, W, N);
    const before = settleByThree(evolve, undefined, 200);
    const per = (x: number[], from: number, to: number) => (x[to - 1]! - x[from - 1]!) / (to - from);
    console.log(
      `one validator down, serialised: after 100 rounds ${now.sizes[99]} B, 1,500 ${now.sizes[1499]} B, ${N} ${now.sizes[N - 1]} B with a window of ${W} blocks; ` +
        `without a window (the rule before) ${per(before.sizes, 100, 200).toFixed(0)} B more per round`,
    );
    // Round i is decided at height 10 + i and closes at 10 + i + W; the last block is 10 + N.
    assert.equal(now.state.rounds.size, W - 1, `only the rounds decided in the last ${W} blocks stay`);
    assert.equal(now.state.chains.get('s1')!.length, N);
    // From 1,500 to 2,000 the ids and stream versions of the rounds kept, the heights and the chain length keep their widths: the same bytes.
    assert.equal(now.sizes[N - 1], now.sizes[1499], 'nothing per decided round');
    assert.equal(before.state.rounds.size, 200, 'without a window every round owed an attestation stays');
    assert.ok(per(before.sizes, 100, 200) > 300, `the rule before: each round stays whole (${per(before.sizes, 100, 200)} B)`);
    // The same decisions either way: chain and vote counts of the first 200 rounds.
    const first = settleByThree(evolve, W, 200);
    assert.equal(first.state.chains.get('s1')!.hash, before.state.chains.get('s1')!.hash);
    assert.deepEqual(voteCountsOf(first.log), voteCountsOf(before.log));
  });

  test('within the window a late attestation is recorded (agreeing or dissenting); from the closing block it is refused, naming the round and the block', () => {
    // Decided at height 0 with end block 11: attestations close at 11 + W.
    const { s, keys } = downSpec(evolve, W);
    closedRound(s, 'r', 30);
    closedRound(s, 'f', 30);
    const lateR = attest(s, keys[3]!, 'r');
    const lateF = attest(s, keys[3]!, 'f');
    for (const k of keys.slice(0, 3))
      s.after(
        attest(s, k, 'r'),
        attest(s, k, 'f', (t) => ({ ...t, top: t.top - 1 })),
      );
    assert.equal(s.state.rounds.get(roundKey('s1', 'r'))!.attestationsClose, 11 + W);
    s.given(ev('BlocksProduced', { from: 1, to: 11 + W - 1 }));
    s.when(lateR).then((events) => {
      assert.deepEqual(
        events.map((e) => [e.type, (e.data as unknown as AttestationRecordedEvent).dissent]),
        [['AttestationRecorded', false]],
      );
    });
    assert.equal(s.state.rounds.get(roundKey('s1', 'r'))!.attestations.size, 4);
    s.given(ev('BlockProduced', { height: 11 + W }));
    assert.equal(s.state.rounds.has(roundKey('s1', 'r')), false, 'every validator attested: it left');
    assert.equal(s.state.rounds.has(roundKey('s1', 'f')), false, 'its window closed: it left, the 4th never attested');
    s.when(lateF).thenThrows('FAILED_PRECONDITION', /round f of solution s1 .*attestation window closed/);

    // A fold that keeps decided rounds (the audit's tools) refuses it naming the closing block.
    const kept = downSpec(evolveKeepingRounds, W);
    closedRound(kept.s, 'f', 30);
    const late = attest(kept.s, kept.keys[3]!, 'f');
    for (const k of kept.keys.slice(0, 3)) kept.s.after(attest(kept.s, k, 'f', (t) => ({ ...t, top: t.top - 1 })));
    kept.s.given(ev('BlocksProduced', { from: 1, to: 11 + W - 1 }));
    kept.s
      .when(late)
      .then((events) => assert.equal((events[0]!.data as unknown as AttestationRecordedEvent).dissent, true, 'a dissent within the window is recorded'));
    const again = downSpec(evolveKeepingRounds, W);
    closedRound(again.s, 'f', 30);
    const tooLate = attest(again.s, again.keys[3]!, 'f');
    for (const k of again.keys.slice(0, 3)) again.s.after(attest(again.s, k, 'f'));
    again.s.given(ev('BlocksProduced', { from: 1, to: 11 + W }));
    again.s.when(tooLate).thenThrows('FAILED_PRECONDITION', new RegExp(`attestations for round f of solution s1 closed at block ${11 + W}`));
  });

  test('the window counts from the decision when it came after the end; a round decided before the window was recorded keeps the rule before (old logs replay the same)', () => {
    const { s, keys } = downSpec(evolve, undefined);
    closedRound(s, 'old', 20);
    for (const k of keys.slice(0, 3)) s.after(attest(s, k, 'old'));
    s.after({ type: 'ConfigureValidators', validators: keys.map((k) => k.address), attestationWindow: W });
    assert.equal(s.state.attestationWindow, W);
    s.given(ev('BlocksProduced', { from: 1, to: 30 }));
    closedRound(s, 'new', 20);
    for (const k of keys.slice(0, 3)) s.after(attest(s, k, 'new'));
    assert.equal(s.state.rounds.get(roundKey('s1', 'new'))!.attestationsClose, 30 + W, 'decided at 30, after its end block 11');
    s.given(ev('BlocksProduced', { from: 31, to: 30 + W }));
    assert.deepEqual(
      [...s.state.rounds.values()].map((r) => r.roundId),
      ['old'],
      'the round decided before the window waits for the 4th',
    );
    assert.equal(s.state.rounds.get(roundKey('s1', 'old'))!.attestationsClose, undefined);
  });

  test('the window is recorded with the set: a new window with the same set is recorded once; out of range is refused naming the setting', () => {
    const { s, keys } = downSpec(evolve, undefined);
    const set = keys.map((k) => k.address);
    s.when({ type: 'ConfigureValidators', validators: set, attestationWindow: 5 }).then((events) =>
      assert.deepEqual(events[0]!.data, { validators: set, attestationWindow: 5 }),
    );
    s.when({ type: 'ConfigureValidators', validators: set, attestationWindow: 5 }).thenNothingChanged();
    s.when({ type: 'ConfigureValidators', validators: set, attestationWindow: 0 }).thenThrows('INVALID_ARGUMENT', /ATTESTATION_WINDOW_BLOCKS: expected 1 to/);
    s.when({ type: 'ConfigureValidators', validators: set }).then((events) => assert.deepEqual(events[0]!.data, { validators: set }));
    assert.equal('attestationWindow' in s.state, false, 'a set recorded without a window: the rule before');
  });
});
