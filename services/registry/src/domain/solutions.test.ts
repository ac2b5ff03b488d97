import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SolutionConfig } from '@ewx/platform';
import { solutionStatusAt } from './state.js';
import { OPERATORS, PERIOD_LENGTH, REGISTRAR, solutionConfig, types, withGroup, WORKERS } from './test-support.js';
import { blockTo, given } from './spec-support.js';

const [alice] = OPERATORS as [string];
const [w1] = WORKERS as [string];
const register = (over: Partial<SolutionConfig> = {}) => ({ type: 'RegisterSolution' as const, signer: REGISTRAR, config: solutionConfig(over) });
const sol = (type: 'PauseSolution' | 'ActivateSolution' | 'EndSolution', signer = REGISTRAR) => ({ type, signer, solution: 'sol.one' });

describe('solutions: registration', () => {
  test('given a group, when its registrar registers a solution, then it is active and published with its configuration', () => {
    const w = given(withGroup());
    const [e] = w.run(register());
    assert.equal(e!.type, 'SolutionRegistered');
    assert.deepEqual((e!.data as unknown as { config: SolutionConfig }).config, solutionConfig());
    assert.equal(w.state.solutions.get('sol.one')?.status, 'ACTIVE');
    assert.ok(w.state.groups.get('grp.one')?.solutions.has('sol.one'));
  });
  test('the namespace is unique', () => {
    const w = given(withGroup());
    w.run(register());
    w.when(register()).thenThrows('ALREADY_EXISTS', /sol\.one/);
  });
  test('only the group registrar registers; an unknown group is NOT_FOUND', () => {
    const w = given(withGroup());
    w.when({ ...register(), signer: alice }).thenThrows('PERMISSION_DENIED');
    w.when(register({ group: 'nope.grp' })).thenThrows('NOT_FOUND');
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
    test(`a solution with ${JSON.stringify(over)} is refused naming the field and bound`, () => {
      given(withGroup()).when(register(over)).thenThrows('INVALID_ARGUMENT', message);
    });
  }
  test('max_waiting_threshold equal to the reward period length is accepted', () => {
    given(withGroup())
      .when(register({ maxWaitingThreshold: PERIOD_LENGTH }))
      .then((events) => assert.deepEqual(types(events), ['SolutionRegistered']));
  });
});

describe('solutions: lifecycle', () => {
  test('active → paused → active → ended; ended is final', () => {
    const w = given(withGroup());
    w.run(register());
    w.when(sol('ActivateSolution')).thenThrows('FAILED_PRECONDITION', /is ACTIVE/);
    w.run(sol('PauseSolution'));
    assert.equal(w.state.solutions.get('sol.one')?.status, 'PAUSED');
    w.when(sol('PauseSolution')).thenThrows('FAILED_PRECONDITION');
    w.run(sol('ActivateSolution'));
    w.run(sol('EndSolution'));
    w.when(sol('ActivateSolution')).thenThrows('FAILED_PRECONDITION', /is ENDED/);
    w.when(sol('EndSolution')).thenThrows('FAILED_PRECONDITION');
  });
  test('only the registrar changes the status', () => {
    const w = given(withGroup());
    w.run(register());
    w.when(sol('PauseSolution', alice)).thenThrows('PERMISSION_DENIED');
  });
  test('after expiration_block the solution reads EXPIRED and can only be ended', () => {
    const w = given(withGroup());
    w.run(register({ expirationBlock: 20 }));
    blockTo(w, 20);
    assert.equal(solutionStatusAt(w.state.solutions.get('sol.one')!, w.state.height), 'ACTIVE');
    blockTo(w, 21);
    assert.equal(solutionStatusAt(w.state.solutions.get('sol.one')!, w.state.height), 'EXPIRED');
    w.when(sol('PauseSolution')).thenThrows('FAILED_PRECONDITION', /EXPIRED/);
    w.run(sol('EndSolution'));
    assert.equal(solutionStatusAt(w.state.solutions.get('sol.one')!, w.state.height), 'ENDED');
  });
});

describe('solutions: nominations', () => {
  const nominate = (type: 'NominateWorker' | 'UnnominateWorker' = 'NominateWorker', signer = REGISTRAR, worker = w1) => ({
    type,
    signer,
    solution: 'sol.one',
    worker,
  });
  test('with nominations on, the registrar nominates and un-nominates a worker', () => {
    const w = given(withGroup());
    w.run(register());
    assert.deepEqual(w.run(nominate())[0]!.data, { solution: 'sol.one', worker: w1 });
    assert.ok(w.state.solutions.get('sol.one')!.nominated.has(w1));
    w.when(nominate()).thenThrows('ALREADY_EXISTS');
    w.run(nominate('UnnominateWorker'));
    assert.equal(w.state.solutions.get('sol.one')!.nominated.size, 0);
    w.when(nominate('UnnominateWorker')).thenThrows('NOT_FOUND');
  });
  test('with nominations off, nominating is refused', () => {
    const w = given(withGroup());
    w.run(register({ nominationsEnabled: false }));
    w.when(nominate()).thenThrows('FAILED_PRECONDITION', /nominations are off/);
  });
  test('only the registrar nominates; a malformed worker is refused', () => {
    const w = given(withGroup());
    w.run(register());
    w.when(nominate('NominateWorker', alice)).thenThrows('PERMISSION_DENIED');
    w.when(nominate('NominateWorker', REGISTRAR, 'w1')).thenThrows('INVALID_ARGUMENT', /^worker: /);
  });
});

describe('solutions: in a retiring group', () => {
  test('an expired paused solution no longer blocks deregistration and cannot be activated again', () => {
    const w = given(withGroup());
    w.run(register({ expirationBlock: 15 }));
    w.run(sol('PauseSolution'));
    w.run({ type: 'Subscribe', signer: alice, group: 'grp.one', stake: (10n ** 19n).toString() });
    blockTo(w, 16); // expired: no longer blocks deregistration
    w.run({ type: 'DeregisterGroup', signer: REGISTRAR, group: 'grp.one' });
    assert.equal(w.state.groups.get('grp.one')?.status, 'RETIRING');
    w.when(sol('ActivateSolution')).thenThrows('FAILED_PRECONDITION', /is EXPIRED/);
  });
});
