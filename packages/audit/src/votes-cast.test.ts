import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { castVotes, MAX_VOTES_PER_EVENT } from '@ewx/contracts';
import type { EventData } from '@ewx/platform';
import { votingDecider } from '@ewx/voting';
import { decideVotes, roundStream } from '@ewx/voting/domain/decider';
import {
  audit,
  fileSource,
  formatReport,
  makeBundle,
  memorySource,
  readAllLogs,
  verifyBundle,
  type AuditReport,
  type LogEvent,
  type ServiceName,
} from './index.js';
import { asRecorded } from './types.js';
import { RECORDED_LOG } from './testing/index.js';

type Logs = Partial<Record<ServiceName, LogEvent[]>>;
type Meta = Record<string, unknown>;

const SOLUTION = 'audit.solution';
const stream = (roundId: string): string => `round:${SOLUTION}:${roundId}`;
const meta = (e: LogEvent): Meta => (e.metadata ?? {}) as Meta;
const flip = (hex: string): string => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
const votesOf = (l: readonly LogEvent[]): number => l.filter((e) => !e.streamId.startsWith('inbox:')).reduce((n, e) => n + castVotes(e).length, 0);

/**
 * The recorded log as voting writes it since group commit, for one round: its VoteCast events in
 * `groups` (indices among the round's votes, in order) — a group of two or more (or of one, with
 * `forceVotesCast`) becomes one VotesCast with the votes' signers, nonces and signatures in
 * `metadata.signers` — and its close as RoundClosed v2 (the count only: the votes are carried once,
 * by the vote events). Consensus' copies of the round are those of the rewritten stream, the votes
 * copied before the close (consensus' positions are scaled by 100 to make room for them). Stream
 * versions and type chains are renumbered.
 */
function regroup(logs: Logs, roundId: string, groups: readonly (readonly number[])[], forceVotesCast = false): Logs {
  const S = stream(roundId);
  const own = logs.voting!.filter((e) => e.streamId === S);
  const votes = own.filter((e) => e.type === 'VoteCast');
  assert.deepEqual(
    groups.flat(),
    votes.map((_, i) => i),
    `groups cover the ${votes.length} votes of ${roundId} in order`,
  );
  const replaced = new Map<LogEvent, LogEvent | undefined>();
  for (const g of groups) {
    const first = votes[g[0]!]!;
    for (const i of g.slice(1)) replaced.set(votes[i]!, undefined);
    if (g.length === 1 && !forceVotesCast) continue;
    const d = first.data as { height: number };
    replaced.set(first, {
      ...first,
      type: 'VotesCast',
      data: {
        solution: SOLUTION,
        roundId,
        height: d.height,
        votes: g.map((i) => {
          const v = votes[i]!.data as { worker: string; result: string; height: number };
          assert.equal(v.height, d.height, 'the votes of one append are at one height');
          return [v.worker, v.result];
        }),
      },
      metadata: { signers: g.map((i) => [meta(votes[i]!).signer, meta(votes[i]!).nonce, meta(votes[i]!).signature]) } as never,
    });
  }
  const close = own.find((e) => e.type === 'RoundClosed')!;
  const c = close.data as { height: number; submitted: number };
  replaced.set(close, { ...close, data: { solution: SOLUTION, roundId, height: c.height, submitted: c.submitted }, metadata: {} });
  // The stream again: versions 0, 1, … and each event naming the previous one of its type.
  const rewritten: LogEvent[] = [];
  const lastOfType = new Map<string, number>();
  for (const e of own) {
    const x = replaced.has(e) ? replaced.get(e) : e;
    if (x === undefined) continue;
    const version = rewritten.length;
    const { prevOfType: _p, ...m } = meta(x);
    rewritten.push({ ...x, version, metadata: { ...m, prevOfType: lastOfType.get(x.type) ?? -1 } as never });
    lastOfType.set(x.type, version);
  }
  const byPosition = new Map(rewritten.map((e) => [e.position, e]));
  const voting = logs.voting!.flatMap((e) => (e.streamId !== S ? [e] : byPosition.has(e.position) ? [byPosition.get(e.position)!] : []));

  // Consensus records every event of the round (its inbox copies), the votes before the close.
  const inbox = `inbox:voting:${S}`;
  const copies = logs.consensus!.filter((e) => e.streamId === inbox);
  const closeCopy = copies.find((e) => e.type === 'RoundClosed')!;
  const voteEvents = rewritten.filter((e) => e.type === 'VoteCast' || e.type === 'VotesCast');
  const copyOf = (e: LogEvent, position: bigint): LogEvent => ({
    service: 'consensus',
    position,
    streamId: inbox,
    version: e.version,
    type: e.type,
    data: structuredClone(e.data),
    metadata: { source: 'voting', sourceStream: S, sourceVersion: e.version, sourcePosition: e.position.toString() },
  });
  const consensus: LogEvent[] = [];
  for (const e of logs.consensus!) {
    const position = e.position * 100n;
    if (e.streamId !== inbox) consensus.push({ ...e, position });
    else if (e === closeCopy) {
      for (const [i, v] of voteEvents.entries()) consensus.push(copyOf(v, position - BigInt(voteEvents.length - i)));
      consensus.push(copyOf(rewritten.find((x) => x.type === 'RoundClosed')!, position));
    } else consensus.push(copyOf(rewritten.find((x) => x.type === e.type)!, position));
  }
  return { ...logs, voting, consensus };
}

/** A copy of `logs` where `change` rewrote the event of voting's log at `position`. */
function change(logs: Logs, position: bigint, f: (e: LogEvent) => LogEvent): Logs {
  return { ...logs, voting: logs.voting!.map((e) => (e.position === position ? f(structuredClone(e)) : e)) };
}

const at = (r: AuditReport, position: bigint, check?: string): string[] =>
  r.divergences.filter((d) => d.service === 'voting' && d.position === position && (check === undefined || d.check === check)).map((d) => d.message);

/**
 * VotesCast (several votes of one round appended together) in the audit: each vote is checked as
 * a VoteCast with the event's solution, round and height — its signature, its signer's nonce, the
 * rules — and the event is re-decided as a whole; a malformed VotesCast is reported by rule. The
 * logs are the recorded one with rounds rewritten as group commit writes them (`regroup`).
 */
describe('VotesCast: group-committed votes audited vote by vote', () => {
  let recorded: Logs;
  let logs: Logs;
  /** slice-1: one VotesCast of 3 votes; slice-2: a VoteCast then a VotesCast of 2; slice-3: a VotesCast of 3. */
  const votesCast = (l: Logs, roundId: string): LogEvent => l.voting!.find((e) => e.streamId === stream(roundId) && e.type === 'VotesCast')!;

  before(async () => {
    const source = await fileSource(RECORDED_LOG);
    recorded = await readAllLogs(source);
    await source.close();
    logs = regroup(regroup(regroup(recorded, 'slice-1', [[0, 1, 2]]), 'slice-2', [[0], [1, 2]]), 'slice-3', [[0, 1, 2]]);
  });

  test('a log with VotesCast audits clean: every vote counted and its signature checked, consensus copies compared, threads or not', async () => {
    assert.equal(logs.voting!.filter((e) => e.type === 'VotesCast').length, 3);
    assert.equal(logs.consensus!.filter((e) => e.type === 'VotesCast').length, 3, 'consensus recorded each VotesCast');
    assert.equal(votesOf(logs.voting!), votesOf(recorded.voting!));
    const serial = await audit(memorySource(logs), { signatureThreads: 0 });
    assert.deepEqual(serial.divergences, [], formatReport(serial));
    const threads = await audit(memorySource(logs), { signatureThreads: 2, batchSize: 7 });
    assert.deepEqual(threads.divergences, [], formatReport(threads));
    const base = await audit(memorySource(recorded), { signatureThreads: 0 });
    const checks = (r: AuditReport) => r.services.find((s) => s.service === 'voting')!.checks;
    // The same votes, each checked once: as many vote and signature checks as with one VoteCast per vote.
    assert.equal(checks(serial).vote, votesOf(recorded.voting!));
    assert.equal(checks(serial).signature, checks(base).signature);
    assert.equal(checks(threads).signature, checks(base).signature);
    assert.equal(threads.signatureChecks!.inline, 0, 'the VotesCast signatures were checked ahead');
    // Every copy compared (the VotesCast copies in consensus among them), every round decided once.
    assert.equal(
      serial.cross.copies,
      Object.values(logs)
        .flat()
        .filter((e) => e.streamId.startsWith('inbox:')).length,
    );
    assert.deepEqual(
      serial.notes.filter((n) => n.kind === 'pending'),
      [],
    );
  });

  test("an operator's bundle is the same from the log with VotesCast as from the one without, and verifies", async () => {
    const operators = recorded.voting!.filter((e) => e.type === 'WorkerConnected').map((e) => (e.data as { operator: string }).operator);
    const validators = (recorded.consensus!.find((e) => e.type === 'ValidatorSetConfigured')!.data as { validators: string[] }).validators;
    assert.equal(operators.length, 3);
    for (const operator of operators) {
      // Period 1: slice-1 (one VotesCast) and slice-2 (a VoteCast and a VotesCast) settled.
      const bundle = await makeBundle(memorySource(logs), operator, 1);
      assert.equal(bundle.rounds.filter((r) => r.vote !== null).length, 2);
      assert.deepEqual(bundle, await makeBundle(memorySource(recorded), operator, 1));
      assert.deepEqual(verifyBundle(bundle, validators).problems, []);
    }
  });

  test('a forged signature inside a VotesCast is reported at its event, naming the vote', async () => {
    const e = votesCast(logs, 'slice-1');
    const forged = change(logs, e.position, (x) => {
      const signers = meta(x).signers as string[][];
      signers[1]![2] = flip(signers[1]![2]!);
      return x;
    });
    for (const signatureThreads of [0, 2]) {
      const r = await audit(memorySource(forged), { signatureThreads });
      assert.deepEqual(
        r.divergences.map((d) => [d.service, d.position, d.check]),
        [['voting', e.position, 'signature']],
        formatReport(r),
      );
      assert.match(r.divergences[0]!.message, /^vote 1 of this VotesCast: the signature is not ed25519:[0-9a-f]{64}'s over SubmitVote/);
    }
    // A reduced audit does not check it, and says so.
    const reduced = await audit(memorySource(forged), { signatures: false });
    assert.deepEqual(reduced.divergences, []);
    assert.equal(reduced.services.find((s) => s.service === 'voting')!.checks.signature, undefined);
  });

  test('a VotesCast that breaks its shape is reported by rule: signers length, signer order, no vote, more than 500', async () => {
    const e = votesCast(logs, 'slice-3');
    const cases: [string, (x: LogEvent) => LogEvent, RegExp][] = [
      [
        'a signer left out',
        (x) => {
          (meta(x).signers as unknown[]).pop();
          return x;
        },
        /^VotesCast with 3 vote\(s\) and 2 signer\(s\) in metadata\.signers \(one signer per vote, in order\)$/,
      ],
      [
        'signers swapped',
        (x) => {
          const s = meta(x).signers as unknown[];
          [s[0], s[1]] = [s[1], s[0]];
          return x;
        },
        /^VotesCast: vote 0 is ed25519:\w+'s but signer 0 is ed25519:\w+ \(signer i signs vote i\)$/,
      ],
      ['no signers', (x) => ({ ...x, metadata: { prevOfType: -1 } }), /^VotesCast without `metadata\.signers`/],
      ['no vote', (x) => ({ ...x, data: { ...(x.data as object), votes: [] }, metadata: { signers: [], prevOfType: -1 } }), /^VotesCast with no vote/],
      [
        '501 votes',
        (x) => {
          const [v] = (x.data as { votes: unknown[] }).votes;
          const [s] = meta(x).signers as unknown[];
          return { ...x, data: { ...(x.data as object), votes: Array(501).fill(v) }, metadata: { signers: Array(501).fill(s), prevOfType: -1 } };
        },
        /^VotesCast with 501 votes \(a VotesCast holds at most MAX_VOTES_PER_EVENT = 500\)$/,
      ],
    ];
    for (const [what, f, rule] of cases) {
      const r = await audit(memorySource(change(logs, e.position, f)), { signatureThreads: 0 });
      const found = at(r, e.position, 'vote');
      assert.ok(
        found.some((m) => rule.test(m)),
        `${what}: ${formatReport(r)}`,
      );
      assert.ok(
        r.divergences.every((d) => d.service !== 'voting' || d.position === e.position || d.check === 'round-close' || d.check === 'stream-version'),
        `${what}: reported at the VotesCast: ${formatReport(r)}`,
      );
    }
  });

  test('nonces come from the VotesCast signers: a nonce used in a VotesCast and used again is reported, before and inside a VotesCast', async () => {
    const first = votesCast(logs, 'slice-1');
    const [w0, n0] = (meta(first).signers as string[][])[0]!;
    // slice-2: w0's vote is a VoteCast after slice-1's VotesCast; it replays w0's nonce from that VotesCast.
    const later = logs.voting!.find((e) => e.streamId === stream('slice-2') && e.type === 'VoteCast')!;
    assert.equal(meta(later).signer, w0);
    const replayed = await audit(memorySource(change(logs, later.position, (x) => ({ ...x, metadata: { ...meta(x), nonce: n0 } as never }))), {
      signatures: false,
    });
    assert.ok(
      at(replayed, later.position, 'nonce').some(
        (m) => m === `signer ${w0}: nonce ${n0} does not exceed ${n0}, accepted earlier in this log (a replayed or reordered command)`,
      ),
      formatReport(replayed),
    );
    // The rules refuse it too (the runtime's record of w0's nonce came from the VotesCast).
    assert.ok(
      at(replayed, later.position, 'vote').some((m) => /nonce: \d+ was already used/.test(m)),
      formatReport(replayed),
    );

    // slice-3's VotesCast: w0's entry replays w0's nonce of slice-2 (w0 voted in slice-4 since).
    const last = votesCast(logs, 'slice-3');
    const n1 = meta(later).nonce as string;
    const inside = await audit(
      memorySource(
        change(logs, last.position, (x) => {
          const s = meta(x).signers as string[][];
          assert.equal(s[0]![0], w0);
          s[0]![1] = n1;
          return x;
        }),
      ),
      { signatures: false },
    );
    assert.ok(
      at(inside, last.position, 'nonce').some((m) => m.startsWith(`signer ${w0}: nonce ${n1} does not exceed `)),
      formatReport(inside),
    );
    assert.ok(
      at(inside, last.position, 'vote').some((m) => /^vote 0 of this VotesCast \(ed25519:\w+\): the rules do not accept it: nonce/.test(m)),
      formatReport(inside),
    );
  });

  test("RoundClosed's submitted counts the votes of VoteCast and VotesCast together; another count is reported", async () => {
    // slice-2: one VoteCast and a VotesCast of two; the close says 3 (the clean audit above agrees).
    const close = logs.voting!.find((e) => e.streamId === stream('slice-2') && e.type === 'RoundClosed')!;
    assert.equal((close.data as { submitted: number }).submitted, 3);
    assert.equal(
      logs.voting!.filter((e) => e.streamId === stream('slice-2')).reduce((n, e) => n + castVotes(e).length, 0),
      3,
    );
    const r = await audit(memorySource(change(logs, close.position, (x) => ({ ...x, data: { ...(x.data as object), submitted: 2 } }))), {
      signatures: false,
    });
    const found = r.divergences.filter((d) => d.service === 'voting' && d.position === close.position && d.check === 'round-close');
    assert.equal(found.length, 1, formatReport(r));
    assert.match(found[0]!.expected!, /"submitted":3/);
    assert.match(found[0]!.recorded!, /"submitted":2/);
  });

  test('a lone vote written as a VotesCast is not what the rules write (one accepted vote is a VoteCast)', async () => {
    const l = regroup(logs, 'slice-4', [[0]], true);
    const e = votesCast(l, 'slice-4');
    const r = await audit(memorySource(l), { signatures: false });
    const found = r.divergences.filter((d) => d.position === e.position && d.service === 'voting');
    assert.equal(found.length, 1, formatReport(r));
    assert.equal(found[0]!.check, 'vote');
    assert.match(found[0]!.message, /^VotesCast differs from what the rules give/);
    assert.match(found[0]!.expected!, /^\{"type":"VoteCast"/);
  });
});

/**
 * A voting log written by the voting decider itself: a WORKER-started solution with `n` connected
 * workers (each its own operator), and at height 11 all of them voting together in one append —
 * the first vote starts the round — so the rules write the start, the snapshot and the votes in
 * VotesCast chunks of MAX_VOTES_PER_EVENT. Unsigned votes (nonces only).
 */
function groupCommitLog(n: number): LogEvent[] {
  const log: LogEvent[] = [];
  const versions = new Map<string, number>();
  const lastOfType = new Map<string, number>();
  const state = votingDecider.initialState();
  const add = (streamId: string, e: EventData, inbox?: { source: string; stream: string }): void => {
    const version = (versions.get(streamId) ?? -1) + 1;
    versions.set(streamId, version);
    const key = `${streamId}|${e.type}`;
    const metadata = inbox
      ? { source: inbox.source, sourceStream: inbox.stream, sourceVersion: version, sourcePosition: String(log.length + 1) }
      : { ...((e.metadata as object) ?? {}), prevOfType: lastOfType.get(key) ?? -1 };
    if (!inbox) lastOfType.set(key, version);
    const x: LogEvent = { service: 'voting', position: BigInt(log.length + 1), streamId, version, type: e.type, data: e.data, metadata: metadata as never };
    log.push(x);
    votingDecider.evolve(state, asRecorded(x));
  };
  const copy = (source: string, stream: string, type: string, data: object): void =>
    add(`inbox:${source}:${stream}`, { type, data: data as never }, { source, stream });
  const hex = (i: number, tag: string): string => `ed25519:${tag}${i.toString(16).padStart(63, '0')}`;
  const owner = hex(0, 'f');
  copy('rewards', 'calendar', 'RewardPeriodScheduleChanged', { fromPeriod: 0, firstBlock: 1, length: 10 });
  copy('consensus', 'chain', 'BlockProduced', { height: 1 });
  const G = 'gc.group';
  const S = 'gc.solution';
  copy('registry', `group:${G}`, 'GroupRegistered', {
    group: G,
    owner,
    config: {
      namespace: G,
      info: 'group commit',
      minStake: '1000000000000000000',
      maxStake: '100000000000000000000',
      maxOperators: n,
      allowListEnabled: false,
      startBlock: 0,
      subscriptionRewardPerBlock: '1000000000000000000',
      votingRewardPerBlock: '1000000000000000000',
      slaVotingThreshold: 50,
      operationStartBlock: 1,
      operationEndBlock: 1000,
      withdrawalDelay: 1,
    },
    budget: '500000000000000000000',
    height: 1,
  });
  copy('registry', `group:${G}`, 'SolutionRegistered', {
    solution: S,
    owner,
    config: {
      namespace: S,
      group: G,
      name: 'group commit',
      description: '',
      logicRef: 'bafy-gc',
      expirationBlock: 10000,
      maxWaitingThreshold: 3,
      voteThresholdPercent: 60,
      quorumPercent: 50,
      votingStartMethod: 'WORKER',
      nominationsEnabled: false,
      unresolvedPolicy: 'NONE',
    },
    height: 1,
  });
  const workers = Array.from({ length: n }, (_, i) => hex(i, 'a'));
  for (let i = 0; i < n; i++) {
    const operator = hex(i, 'b');
    copy('registry', `group:${G}`, 'OperatorSubscribed', { group: G, operator, stake: '10000000000000000000', activeFromPeriod: 1, height: 1 });
    copy('registry', `operator:${operator}`, 'WorkerConnected', { operator, worker: workers[i]!, height: 1 });
  }
  for (let h = 2; h <= 11; h++) copy('consensus', 'chain', 'BlockProduced', { height: h });
  const { events, outcomes } = decideVotes(
    state,
    workers.map((worker, i) => ({ solution: S, roundId: 'r1', worker, result: i % 3 === 0 ? 'bb' : 'aa', nonce: BigInt(1000 + i) })),
    () => 0n,
  );
  assert.ok(
    outcomes.every((o) => o === 'accepted'),
    String(outcomes.find((o) => o !== 'accepted')),
  );
  for (const e of events) add(roundStream(S, 'r1'), e);
  return log;
}

describe('VotesCast chunks of one append, as the voting decider writes them', () => {
  // 501: the trailing chunk holds a single vote, which only the whole append explains (alone it would be a VoteCast).
  const n = MAX_VOTES_PER_EVENT + 1;
  let log: LogEvent[];
  before(() => {
    log = groupCommitLog(n);
  });
  const chunks = (l: readonly LogEvent[]): LogEvent[] => l.filter((e) => e.type === 'VotesCast');

  test('a round started by its first vote, its votes in two chunks (500 and 1): re-decided as one append, equal, every vote counted', async () => {
    assert.deepEqual(
      chunks(log).map((e) => castVotes(e).length),
      [MAX_VOTES_PER_EVENT, n - MAX_VOTES_PER_EVENT],
    );
    const started = log.find((e) => e.type === 'RoundStarted')!;
    assert.equal((started.metadata as Meta).signer, undefined, 'started by a vote, not a command');
    const r = await audit(memorySource({ voting: log }), { signatureThreads: 0 });
    assert.deepEqual(r.divergences, [], formatReport(r));
    const checks = r.services.find((s) => s.service === 'voting')!.checks;
    assert.equal(checks.vote, n);
    assert.equal(checks['round-start'], 1);
    assert.equal(checks.nonce, n, "each signer's nonce checked once");
    assert.ok(
      r.notes.some((x) => x.kind === 'signature' && x.message.startsWith(`${n} signed command(s) carry no signature`)),
      r.notes.map((x) => x.message).join('\n'),
    );
  });

  test('a second chunk at another height is reported; 499 and 2 votes read as two appends (clean); the starter not first in the VotesCast is reported', async () => {
    const [a, b] = chunks(log);
    const otherHeight = log.map((e) => (e === b ? { ...e, data: { ...(e.data as object), height: 12 } } : e));
    const r1 = await audit(memorySource({ voting: otherHeight }), { signatures: false });
    // Read as an append of its own at a height the log has not reached: the rules give the height of the state.
    assert.ok(
      r1.divergences.some((d) => d.position === b!.position && d.check === 'vote' && /^VotesCast differs from what the rules give/.test(d.message)),
      formatReport(r1),
    );
    // A lone vote at the end of the first chunk moved to the second: the first is then read as a whole
    // append (499 votes, equal) and the second too (2 votes, equal): two appends the rules could have written.
    const moved = log.map((e) => {
      if (e !== a && e !== b) return e;
      const votes = [...castVotes(a!), ...castVotes(b!)];
      const signers = [...((a!.metadata as Meta).signers as unknown[]), ...((b!.metadata as Meta).signers as unknown[])];
      const [from, to] = e === a ? [0, MAX_VOTES_PER_EVENT - 1] : [MAX_VOTES_PER_EVENT - 1, votes.length];
      return {
        ...e,
        data: { ...(e.data as object), votes: votes.slice(from, to) } as never,
        metadata: { ...(e.metadata as Meta), signers: signers.slice(from, to) } as never,
      };
    });
    const r2 = await audit(memorySource({ voting: moved }), { signatures: false });
    assert.deepEqual(r2.divergences, [], formatReport(r2));
    // The first vote (the starter's) not first in its VotesCast: the start is not followed by its starter's vote.
    const swapped = log.map((e) => {
      if (e !== a) return e;
      const votes = [...castVotes(a!)];
      const signers = [...((a!.metadata as Meta).signers as unknown[])];
      [votes[0], votes[1]] = [votes[1]!, votes[0]!];
      [signers[0], signers[1]] = [signers[1], signers[0]];
      return { ...e, data: { ...(e.data as object), votes } as never, metadata: { ...(e.metadata as Meta), signers } as never };
    });
    const r3 = await audit(memorySource({ voting: swapped }), { signatures: false });
    const started = log.find((e) => e.type === 'RoundStarted')!;
    assert.ok(
      r3.divergences.some((d) => d.position === started.position && d.check === 'round-start' && /not followed by its starter's vote/.test(d.message)),
      formatReport(r3),
    );
  });
});
