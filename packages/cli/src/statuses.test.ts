import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { runInMemory } from '@ewx/embedded';
import type { Embedded } from '@ewx/platform';
import { freePort } from '@ewx/platform/testing';
import type { SolutionConfig } from '@ewx/proto/registry';
import {
  EwxCallError,
  GroupStatus,
  HoldStatus,
  RoundState,
  SolutionStatus,
  TallyOutcome,
  UnresolvedReason,
  connect,
  connectWorkerWithConsent,
  counterNonces,
  generateKeyPair,
  getNetwork,
  keySigner,
  statusName,
  untilHeight,
  untilRoundClosed,
  type Ewx,
  type KeyPair,
  type Signer,
} from '@ewx/client';
import { testGroupConfig, testSolutionConfig } from '@ewx/client/testing';
import { runCli, type Run } from './testing.js';

const T = 10n ** 18n;
/** Runs the built CLI (as a child process: the services answer from this process). */
const cli = (env: Record<string, string>, args: string[]): Promise<Run> => runCli(env, args, 120_000);

/**
 * Every status on the wire is an enum (RoundState, UnresolvedReason, TallyOutcome, GroupStatus,
 * SolutionStatus, HoldStatus), with the deprecated string beside it still filled, read through a
 * real gRPC server (the embedded system); the worker → operator lookup (Registry.GetWorker); the
 * network with its reward calendar (getNetwork: consensus + rewards); and the CLI's reads of them.
 */
describe('statuses on the wire, GetWorker, the network view', { timeout: 600_000 }, () => {
  const admin = generateKeyPair();
  const registrar = generateKeyPair();
  const operators = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const workers = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const loner = generateKeyPair();
  const nonce = counterNonces();
  const as = (k: KeyPair): Signer => keySigner(k, nonce);
  const keysDir = mkdtempSync(join(tmpdir(), 'ewx-statuses-'));
  let system: Embedded;
  let ewx: Ewx;
  let env: Record<string, string>;
  const blocksTo = async (h: number): Promise<void> => {
    const now = Number((await ewx.consensus.getStatus({})).height);
    if (h > now) await ewx.consensus.produceBlocks({ count: h - now });
    await untilHeight(ewx, h, { timeoutMs: 60_000 });
  };
  const groupConfig = (namespace: string) => testGroupConfig(namespace, { operationEndBlock: 100_000n });
  const solutionConfig = (namespace: string, more: Partial<SolutionConfig> = {}): SolutionConfig =>
    testSolutionConfig(namespace, 'st.group', { name: namespace, logicRef: 'bafy-st', ...more });

  before(async () => {
    const port = await freePort();
    env = { EWX_KEYS_DIR: keysDir, EWX_ADDRESS: `127.0.0.1:${port}` };
    system = await runInMemory(port, { ADMIN_ADDRESS: admin.address, REWARD_PERIOD_BLOCKS: '10' });
    ewx = connect({ address: `127.0.0.1:${port}`, signer: as(admin) });
    await blocksTo(1);
    for (const k of [registrar, ...operators]) await ewx.registry.deposit({ account: k.address, amount: (1000n * T).toString() });
    const R = ewx.withSigner(as(registrar));
    await R.registry.signUpRegistrar({ friendlyName: 'Statuses registrar', legalLocation: 'DE' });
    for (const g of ['st.group', 'st.empty', 'st.retiring'])
      await R.registry.registerGroup({ config: groupConfig(g), budget: (100n * T).toString(), allowList: [] });
    await R.registry.registerSolution({ config: solutionConfig('st.sixty') });
    // A threshold of 50 %: two different votes of two reach it, and tie.
    await R.registry.registerSolution({ config: solutionConfig('st.half', { voteThresholdPercent: 50 }) });
    for (const s of ['st.paused', 'st.ended']) await R.registry.registerSolution({ config: solutionConfig(s) });
    await R.registry.registerSolution({ config: solutionConfig('st.expiring', { expirationBlock: 5n }) });
    for (let i = 0; i < operators.length; i++) {
      await ewx.registry.subscribe({ group: 'st.group', stake: (10n * T).toString() }, { signer: as(operators[i]!) });
      await connectWorkerWithConsent(ewx, as(operators[i]!), as(workers[i]!));
    }
    await ewx.withSigner(as(operators[0]!)).registry.subscribe({ group: 'st.retiring', stake: (5n * T).toString() });
    await blocksTo(11); // period 1: the stakes are active
  });
  after(async () => {
    ewx?.close();
    await system?.stop();
    rmSync(keysDir, { recursive: true, force: true });
  });

  test('rounds: SETTLED, and NO_QUORUM, NO_MAJORITY and TIE as UnresolvedReason in voting and TallyOutcome + reason in consensus', async () => {
    const R = ewx.withSigner(as(registrar));
    const vote = (w: number, solution: string, roundId: string, hex: string) =>
      ewx.withSigner(as(workers[w]!)).voting.submitVote({ solution, roundId, result: Buffer.from(hex, 'hex') });
    const rounds: [string, string, string[]][] = [
      ['st.sixty', 'settled', ['aa', 'aa']],
      ['st.sixty', 'no-quorum', []],
      ['st.sixty', 'no-majority', ['aa', 'bb', 'cc']],
      ['st.half', 'tie', ['aa', 'bb']],
    ];
    for (const [solution, roundId, votes] of rounds) {
      await R.voting.startRound({ solution, roundId });
      for (let w = 0; w < votes.length; w++) await vote(w, solution, roundId, votes[w]!);
    }
    const active = await ewx.voting.getRound({ solution: 'st.sixty', roundId: 'settled' });
    assert.deepEqual(
      [active.state, active.reason, active.unresolvedReason],
      [RoundState.ROUND_STATE_ACTIVE, UnresolvedReason.UNRESOLVED_REASON_UNSPECIFIED, ''],
    );
    await ewx.consensus.produceBlocks({ count: 4 });
    const expected: Record<string, [RoundState, TallyOutcome, UnresolvedReason, string, string]> = {
      settled: [RoundState.ROUND_STATE_SETTLED, TallyOutcome.TALLY_OUTCOME_SETTLED, UnresolvedReason.UNRESOLVED_REASON_UNSPECIFIED, 'SETTLED', ''],
      'no-quorum': [
        RoundState.ROUND_STATE_UNRESOLVED,
        TallyOutcome.TALLY_OUTCOME_UNRESOLVED,
        UnresolvedReason.UNRESOLVED_REASON_NO_QUORUM,
        'UNRESOLVED',
        'NO_QUORUM',
      ],
      'no-majority': [
        RoundState.ROUND_STATE_UNRESOLVED,
        TallyOutcome.TALLY_OUTCOME_UNRESOLVED,
        UnresolvedReason.UNRESOLVED_REASON_NO_MAJORITY,
        'UNRESOLVED',
        'NO_MAJORITY',
      ],
      tie: [RoundState.ROUND_STATE_UNRESOLVED, TallyOutcome.TALLY_OUTCOME_UNRESOLVED, UnresolvedReason.UNRESOLVED_REASON_TIE, 'UNRESOLVED', 'TIE'],
    };
    for (const [solution, roundId] of rounds) {
      const [state, outcome, reason, outcomeName, reasonName] = expected[roundId]!;
      const r = await untilRoundClosed(ewx, solution, roundId, { timeoutMs: 60_000 });
      assert.deepEqual([r.state, r.reason, r.unresolvedReason], [state, reason, reasonName], `voting's round ${roundId}`);
      const s = await ewx.consensus.getSettlement({ solution, roundId });
      assert.equal(s.roundState, state, `consensus's round ${roundId}`);
      assert.deepEqual(
        [s.tally?.tallyOutcome, s.tally?.unresolvedReason, s.tally?.outcome, s.tally?.reason],
        [outcome, reason, outcomeName, reasonName],
        `tally of ${roundId}`,
      );
      assert.ok(s.attestations.length > 0);
      for (const a of s.attestations) assert.deepEqual([a.tally?.tallyOutcome, a.tally?.unresolvedReason], [outcome, reason], `attestation of ${roundId}`);
      const chain = await ewx.consensus.getResultChain({ solution, page: { pageSize: 50, pageToken: '' } });
      const entry = chain.entries.find((e) => e.roundId === roundId);
      if (entry) assert.deepEqual([entry.tally?.tallyOutcome, entry.tally?.unresolvedReason], [outcome, reason]);
    }
    // The CLI names them.
    const shown = await cli(env, ['round', 'settlement', 'st.half', 'tie', '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    const v = JSON.parse(shown.stdout) as Record<string, unknown>;
    const tie = await ewx.consensus.getSettlement({ solution: 'st.half', roundId: 'tie' });
    assert.deepEqual(
      [v.state, v.outcome, v.reason, v.attestations],
      ['UNRESOLVED', 'UNRESOLVED', 'TIE', `${tie.attestations.length} of ${tie.validators.length}`],
    );
    const round = await cli(env, ['round', 'show', 'st.sixty', 'no-majority']);
    assert.match(round.stdout, /^state\s+UNRESOLVED$/m);
    assert.match(round.stdout, /^unresolvedReason\s+NO_MAJORITY$/m);
    const settlement = await cli(env, ['round', 'settlement', 'st.sixty', 'settled']);
    assert.match(settlement.stdout, /^outcome\s+SETTLED$/m);
    assert.match(settlement.stdout, /^reason\s+-$/m);
  });

  test('solutions: ACTIVE, PAUSED, ENDED and EXPIRED as SolutionStatus', async () => {
    const R = ewx.withSigner(as(registrar));
    await R.registry.pauseSolution({ solution: 'st.paused' });
    await R.registry.endSolution({ solution: 'st.ended' });
    const expected: [string, SolutionStatus, string][] = [
      ['st.sixty', SolutionStatus.SOLUTION_STATUS_ACTIVE, 'ACTIVE'],
      ['st.paused', SolutionStatus.SOLUTION_STATUS_PAUSED, 'PAUSED'],
      ['st.ended', SolutionStatus.SOLUTION_STATUS_ENDED, 'ENDED'],
      ['st.expiring', SolutionStatus.SOLUTION_STATUS_EXPIRED, 'EXPIRED'],
    ];
    for (const [namespace, enumValue, name] of expected) {
      const s = await ewx.registry.getSolution({ namespace });
      assert.deepEqual([s.solutionStatus, s.status], [enumValue, name], namespace);
      assert.equal(statusName(SolutionStatus, s.solutionStatus), name);
    }
    const listed = await ewx.registry.listSolutions({ group: 'st.group', page: { pageSize: 50, pageToken: '' } });
    assert.deepEqual(Object.fromEntries(listed.solutions.map((s) => [s.config!.namespace, s.solutionStatus])), {
      'st.sixty': SolutionStatus.SOLUTION_STATUS_ACTIVE,
      'st.half': SolutionStatus.SOLUTION_STATUS_ACTIVE,
      'st.paused': SolutionStatus.SOLUTION_STATUS_PAUSED,
      'st.ended': SolutionStatus.SOLUTION_STATUS_ENDED,
      'st.expiring': SolutionStatus.SOLUTION_STATUS_EXPIRED,
    });
    const json = JSON.parse((await cli(env, ['solution', 'show', 'st.paused', '--json'])).stdout) as { solutionStatus: string; status: string };
    assert.deepEqual([json.solutionStatus, json.status], ['PAUSED', 'PAUSED']);
    assert.match((await cli(env, ['solution', 'show', 'st.expiring'])).stdout, /^status\s+EXPIRED$/m);
  });

  test('groups: ACTIVE, RETIRING and REMOVED as GroupStatus', async () => {
    const R = ewx.withSigner(as(registrar));
    await R.registry.deregisterGroup({ group: 'st.empty' }); // nothing owed: removed at once
    await R.registry.deregisterGroup({ group: 'st.retiring' }); // a stake to release first
    const expected: [string, GroupStatus, string][] = [
      ['st.group', GroupStatus.GROUP_STATUS_ACTIVE, 'ACTIVE'],
      ['st.retiring', GroupStatus.GROUP_STATUS_RETIRING, 'RETIRING'],
      ['st.empty', GroupStatus.GROUP_STATUS_REMOVED, 'REMOVED'],
    ];
    for (const [namespace, enumValue, name] of expected) {
      const g = await ewx.registry.getGroup({ namespace });
      assert.deepEqual([g.groupStatus, g.status], [enumValue, name], namespace);
    }
    const listed = await ewx.registry.listGroups({ page: { pageSize: 50, pageToken: '' } });
    assert.equal(listed.groups.find((g) => g.config?.namespace === 'st.retiring')?.groupStatus, GroupStatus.GROUP_STATUS_RETIRING);
    const json = JSON.parse((await cli(env, ['group', 'show', 'st.retiring', '--json'])).stdout) as { groupStatus: string };
    assert.equal(json.groupStatus, 'RETIRING');
    assert.match((await cli(env, ['group', 'show', 'st.empty'])).stdout, /^status\s+REMOVED$/m);
  });

  test('holds: HELD as HoldStatus; an unknown hold is NOT_FOUND', async () => {
    await ewx.registry.placeHold({ holdId: 'statuses:1', account: registrar.address, amount: T.toString(), purpose: 'statuses-test' });
    const h = await ewx.registry.getHold({ holdId: 'statuses:1' });
    assert.deepEqual([h.holdStatus, h.status, h.amount], [HoldStatus.HOLD_STATUS_HELD, 'HELD', T.toString()]);
    const shown = await cli(env, ['account', 'hold', 'statuses:1']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^status\s+HELD$/m);
    const missing = await cli(env, ['account', 'hold', 'statuses:nope']);
    assert.equal(missing.code, 3);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
  });

  test('GetWorker: the operator a worker serves and its subscriptions; a free worker is not connected; a bad address is INVALID_ARGUMENT', async () => {
    const w = await ewx.registry.getWorker({ address: workers[0]!.address });
    assert.equal(w.connected, true);
    assert.equal(w.operator, operators[0]!.address);
    assert.deepEqual(
      w.subscriptions.map((s) => [s.group, s.stake]),
      [
        ['st.group', (10n * T).toString()],
        ['st.retiring', (5n * T).toString()],
      ],
    );
    assert.deepEqual(w.subscriptions, (await ewx.registry.getOperator({ address: operators[0]!.address })).subscriptions);
    const free = await ewx.registry.getWorker({ address: loner.address });
    assert.deepEqual([free.connected, free.operator, free.subscriptions], [false, '', []]);
    const bad = await ewx.registry.getWorker({ address: 'nobody' }).catch((e: unknown) => e);
    assert.ok(EwxCallError.is(bad) && bad.code === status.INVALID_ARGUMENT && /^address: /.test(bad.details), String(bad));

    const json = JSON.parse((await cli(env, ['worker', 'show', workers[1]!.address, '--json'])).stdout) as { operator: string; connected: boolean };
    assert.deepEqual([json.connected, json.operator], [true, operators[1]!.address]);
    const human = await cli(env, ['worker', 'show', workers[1]!.address]);
    assert.match(human.stdout, new RegExp(`^operator\\s+${operators[1]!.address}$`, 'm'));
    assert.match(human.stdout, /^subscriptions\s+st\.group: 10 from period 1$/m);
    const lone = await cli(env, ['worker', 'show', loner.address]);
    assert.equal(lone.code, 0);
    assert.match(lone.stdout, /is not connected to an operator/);
    const wrong = await cli(env, ['worker', 'show', 'no-such-key']);
    assert.equal(wrong.code, 2);
    assert.equal(wrong.stderr.trim().split('\n').length, 1);
    assert.match((await cli(env, ['worker', 'show', '--help'])).stdout, /the operator a worker/);
  });

  test('getNetwork: admin, validators and the reward calendar (current period, next length change); ewx network and ewx status show it', async () => {
    const before = await getNetwork(ewx);
    assert.equal(before.admin, admin.address);
    assert.ok(before.validators.length >= 1);
    const p = before.calendar.period!;
    assert.equal(p.length, 10);
    assert.ok(p.firstBlock <= before.calendar.height && before.calendar.height <= p.lastBlock, 'the period contains the height rewards recorded');
    assert.equal(p.lastBlock - p.firstBlock + 1n, 10n);
    assert.equal(before.calendar.nextChange, undefined);
    const entry = (await ewx.rewards.setRewardPeriodLength({ length: 20 })).entry!;
    const after = await getNetwork(ewx);
    assert.deepEqual(after.calendar.nextChange, entry);
    assert.ok(entry.fromPeriod > after.calendar.period!.index);
    assert.equal(after.calendar.schedule.length, 2);

    const json = JSON.parse((await cli(env, ['network', '--json'])).stdout) as {
      admin: string;
      calendar: { period: { index: number }; nextChange: { length: number } };
    };
    assert.deepEqual([json.admin, json.calendar.period.index, json.calendar.nextChange.length], [admin.address, after.calendar.period!.index, 20]);
    const text = (await cli(env, ['status'])).stdout;
    assert.match(text, /^SERVICE\s+HEIGHT\s+LOG_POSITION\n/);
    assert.match(text, new RegExp(`^admin\\s+${admin.address}$`, 'm'));
    assert.match(
      text,
      new RegExp(
        `^period\\s+${after.calendar.period!.index}: blocks ${after.calendar.period!.firstBlock}\\.\\.${after.calendar.period!.lastBlock} \\(10 blocks\\)`,
        'm',
      ),
    );
    assert.match(text, new RegExp(`^next change 20 blocks per period from period ${entry.fromPeriod} \\(block ${entry.firstBlock}\\)$`, 'm'));
    assert.match((await cli(env, ['network', '--help'])).stdout, /reward calendar/);
  });
});
