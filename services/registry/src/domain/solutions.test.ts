import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SolutionConfig } from '@ewx/platform';
import { solutionStatusAt } from './state.js';
import { OPERATORS, PERIOD_LENGTH, REGISTRAR, solutionConfig, types, withGroup, WORKERS } from './test-support.js';

const [alice] = OPERATORS as [string];
const [w1] = WORKERS as [string];
const register = (over: Partial<SolutionConfig> = {}) => ({ type: 'RegisterSolution' as const, signer: REGISTRAR, config: solutionConfig(over) });
const sol = (type: 'PauseSolution' | 'ActivateSolution' | 'EndSolution', signer = REGISTRAR) => ({ type, signer, solution: 'sol.one' });

describe('solutions: registration', () => {
  test('given a group, when its registrar registers a solution, then it is active and published with its configuration', () => {
    const w = withGroup();
    const [e] = w.when(register());
    assert.equal(e!.type, 'SolutionRegistered');
    assert.deepEqual((e!.data as unknown as { config: SolutionConfig }).config, solutionConfig());
    assert.equal(w.state.solutions.get('sol.one')?.status, 'ACTIVE');
    assert.ok(w.state.groups.get('grp.one')?.solutions.has('sol.one'));
  });
  test('the namespace is unique', () => {
    const w = withGroup();
    w.when(register());
    w.refuses(register(), 'ALREADY_EXISTS', /sol\.one/);
  });
  test('only the group registrar registers; an unknown group is NOT_FOUND', () => {
    const w = withGroup();
    w.refuses({ ...register(), signer: alice }, 'PERMISSION_DENIED');
    w.refuses(register({ group: 'nope.grp' }), 'NOT_FOUND');
  });
  const bounds: [Partial<SolutionConfig>, RegExp][] = [
    [{ maxWaitingThreshold: 0 }, /^config\.max_waiting_threshold: expected a whole number from 1 to 10/],
    [{ maxWaitingThreshold: PERIOD_LENGTH + 1 }, /^config\.max_waiting_threshold: expected a whole number from 1 to 10, got 11/],
    [{ voteThresholdPercent: 101 }, /^config\.vote_threshold_percent: /],
    [{ quorumPercent: 101 }, /^config\.quorum_percent: /],
    [{ votingStartMethod: 'ANYONE' as never }, /^config\.voting_start_method: expected one of REGISTRAR, WORKER/],
    [{ unresolvedPolicy: 'RETRY_FOREVER' as never }, /^config\.unresolved_policy: expected one of NONE, RETRY_ONCE/],
    [{ expirationBlock: 1 }, /^config\.expiration_block: must lie after the current height 1/],
    [{ name: '' }, /^config\.name: /],
    [{ logicRef: 'a b' }, /^config\.logic_ref: /],
    [{ namespace: 'X!' }, /^config\.namespace: /],
  ];
  for (const [over, message] of bounds) {
    test(`a solution with ${JSON.stringify(over)} is refused naming the field and bound`, () => withGroup().refuses(register(over), 'INVALID_ARGUMENT', message));
  }
  test('max_waiting_threshold equal to the reward period length is accepted', () => {
    assert.deepEqual(types(withGroup().when(register({ maxWaitingThreshold: PERIOD_LENGTH }))), ['SolutionRegistered']);
  });
});

describe('solutions: lifecycle', () => {
  test('active → paused → active → ended; ended is final', () => {
    const w = withGroup();
    w.when(register());
    w.refuses(sol('ActivateSolution'), 'FAILED_PRECONDITION', /is ACTIVE/);
    w.when(sol('PauseSolution'));
    assert.equal(w.state.solutions.get('sol.one')?.status, 'PAUSED');
    w.refuses(sol('PauseSolution'), 'FAILED_PRECONDITION');
    w.when(sol('ActivateSolution'));
    w.when(sol('EndSolution'));
    w.refuses(sol('ActivateSolution'), 'FAILED_PRECONDITION', /is ENDED/);
    w.refuses(sol('EndSolution'), 'FAILED_PRECONDITION');
  });
  test('only the registrar changes the status', () => {
    const w = withGroup();
    w.when(register());
    w.refuses(sol('PauseSolution', alice), 'PERMISSION_DENIED');
  });
  test('after expiration_block the solution reads EXPIRED and can only be ended', () => {
    const w = withGroup();
    w.when(register({ expirationBlock: 20 }));
    w.blockTo(20);
    assert.equal(solutionStatusAt(w.state.solutions.get('sol.one')!, w.state.height), 'ACTIVE');
    w.blockTo(21);
    assert.equal(solutionStatusAt(w.state.solutions.get('sol.one')!, w.state.height), 'EXPIRED');
    w.refuses(sol('PauseSolution'), 'FAILED_PRECONDITION', /EXPIRED/);
    w.when(sol('EndSolution'));
    assert.equal(solutionStatusAt(w.state.solutions.get('sol.one')!, w.state.height), 'ENDED');
  });
});

describe('solutions: nominations', () => {
  const nominate = (type: 'NominateWorker' | 'UnnominateWorker' = 'NominateWorker', signer = REGISTRAR, worker = w1) => ({ type, signer, solution: 'sol.one', worker });
  test('with nominations on, the registrar nominates and un-nominates a worker', () => {
    const w = withGroup();
    w.when(register());
    assert.deepEqual(w.when(nominate())[0]!.data, { solution: 'sol.one', worker: w1 });
    assert.ok(w.state.solutions.get('sol.one')!.nominated.has(w1));
    w.refuses(nominate(), 'ALREADY_EXISTS');
    w.when(nominate('UnnominateWorker'));
    assert.equal(w.state.solutions.get('sol.one')!.nominated.size, 0);
    w.refuses(nominate('UnnominateWorker'), 'NOT_FOUND');
  });
  test('with nominations off, nominating is refused', () => {
    const w = withGroup();
    w.when(register({ nominationsEnabled: false }));
    w.refuses(nominate(), 'FAILED_PRECONDITION', /nominations are off/);
  });
  test('only the registrar nominates; a malformed worker is refused', () => {
    const w = withGroup();
    w.when(register());
    w.refuses(nominate('NominateWorker', alice), 'PERMISSION_DENIED');
    w.refuses(nominate('NominateWorker', REGISTRAR, 'w1'), 'INVALID_ARGUMENT', /^worker: /);
  });
});

describe('solutions: in a retiring group', () => {
  test('an expired paused solution no longer blocks deregistration and cannot be activated again', () => {
    const w = withGroup();
    w.when(register({ expirationBlock: 15 }));
    w.when(sol('PauseSolution'));
    w.when({ type: 'Subscribe', signer: alice, group: 'grp.one', stake: (10n ** 19n).toString() });
    w.blockTo(16); // expired: no longer blocks deregistration
    w.when({ type: 'DeregisterGroup', signer: REGISTRAR, group: 'grp.one' });
    assert.equal(w.state.groups.get('grp.one')?.status, 'RETIRING');
    w.refuses(sol('ActivateSolution'), 'FAILED_PRECONDITION', /is EXPIRED/);
  });
});
