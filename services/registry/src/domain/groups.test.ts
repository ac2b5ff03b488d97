import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { GroupConfig } from '@ewx/platform';
import { ADMIN, funded, groupConfig, OPERATORS, REGISTRAR, solutionConfig, subscribeCmd, TOKEN, types, withGroup, world } from './test-support.js';
import { free, given, inbox, reserved, toPeriod } from './spec-support.js';

const [alice, bob] = OPERATORS as [string, string];
const register = (over: Partial<GroupConfig> = {}, budget = 100n * TOKEN) => ({
  type: 'RegisterGroup' as const,
  signer: REGISTRAR,
  config: groupConfig(over),
  budget: budget.toString(),
  allowList: [],
});

describe('registrars', () => {
  test('given an account, when it signs up with a friendly name and a legal location, then it is a registrar', () => {
    const w = given(world());
    w.run({ type: 'SignUpRegistrar', signer: REGISTRAR, friendlyName: 'Acme', legalLocation: 'Berlin, DE' });
    assert.equal(w.state.registrars.get(REGISTRAR)?.legalLocation, 'Berlin, DE');
  });
  test('signing up twice is ALREADY_EXISTS; an empty name or a one-letter location is refused', () => {
    const w = given(funded());
    w.when({ type: 'SignUpRegistrar', signer: REGISTRAR, friendlyName: 'Acme', legalLocation: 'DE' }).thenThrows('ALREADY_EXISTS');
    w.when({ type: 'SignUpRegistrar', signer: alice, friendlyName: ' ', legalLocation: 'DE' }).thenThrows('INVALID_ARGUMENT', /^friendly_name: /);
    w.when({ type: 'SignUpRegistrar', signer: alice, friendlyName: 'A', legalLocation: 'D' }).thenThrows('INVALID_ARGUMENT', /^legal_location: /);
  });
  test('a registrar that owns nothing may delete itself; one that owns a group may not', () => {
    const w = given(withGroup());
    w.when({ type: 'DeleteRegistrar', signer: REGISTRAR }).thenThrows('FAILED_PRECONDITION', /grp\.one/);
    w.run({ type: 'DeregisterGroup', signer: REGISTRAR, group: 'grp.one' });
    w.when({ type: 'DeleteRegistrar', signer: REGISTRAR }).then((events) => assert.deepEqual(types(events), ['RegistrarDeleted']));
    assert.equal(w.state.registrars.has(REGISTRAR), false);
  });
  test('an account that is no registrar cannot delete itself as one (PERMISSION_DENIED naming the role)', () => {
    given(world())
      .when({ type: 'DeleteRegistrar', signer: alice })
      .thenThrows('PERMISSION_DENIED', /^auth\.signer: only a signed-up registrar/);
  });
});

describe('solution groups: registration and bounds', () => {
  test('given a registrar with 1000 tokens, when it registers a group with a budget of 100, then 100 is reserved', () => {
    const w = given(funded());
    const events = w.run(register());
    assert.deepEqual(types(events), ['GroupRegistered']);
    assert.equal(free(w, REGISTRAR), 900n * TOKEN);
    assert.equal(reserved(w, REGISTRAR), 100n * TOKEN);
    assert.equal(w.state.groups.get('grp.one')?.budget, 100n * TOKEN);
  });
  test('only a signed-up registrar registers groups', () => {
    given(funded())
      .when({ ...register(), signer: alice })
      .thenThrows('PERMISSION_DENIED', /^auth\.signer: only a signed-up registrar/);
  });
  test('a budget above the free balance is refused', () => {
    given(funded())
      .when(register({}, 1001n * TOKEN))
      .thenThrows('FAILED_PRECONDITION', /^budget: /);
  });
  test('a namespace is unique', () => {
    given(withGroup())
      .when(register())
      .thenThrows('ALREADY_EXISTS', /grp\.one/);
  });
  const bounds: [Partial<GroupConfig>, RegExp][] = [
    [{ namespace: 'A' }, /^config\.namespace: /],
    [{ namespace: 'ab' }, /^config\.namespace: /],
    [{ minStake: '0' }, /^config\.min_stake: must be greater than 0/],
    [{ minStake: '10', maxStake: '9' }, /^config\.max_stake: must be at least config\.min_stake/],
    [{ maxOperators: 0 }, /^config\.max_operators: expected a whole number from 1 to 10000/],
    [{ maxOperators: 10_001 }, /^config\.max_operators: /],
    [{ slaVotingThreshold: 101 }, /^config\.sla_voting_threshold: /],
    [{ operationStartBlock: 50, operationEndBlock: 40 }, /^config\.operation_end_block: must be at least config\.operation_start_block/],
    [{ operationStartBlock: 0, operationEndBlock: 1 }, /^config\.operation_end_block: must lie after the current height/],
    [{ withdrawalDelay: 0 }, /^config\.withdrawal_delay: expected a whole number from 1 to 1000/],
    [{ subscriptionRewardPerBlock: '-1' }, /^config\.subscription_reward_per_block: /],
    [{ votingRewardPerBlock: 'x' }, /^config\.voting_reward_per_block: /],
    [{ info: 'x'.repeat(1025) }, /^config\.info: /],
  ];
  for (const [over, message] of bounds) {
    test(`a group with ${JSON.stringify(over).slice(0, 60)} is refused naming the field and bound`, () => {
      given(funded()).when(register(over)).thenThrows('INVALID_ARGUMENT', message);
    });
  }
});

describe('solution groups: budget, rewards and allow list', () => {
  test('the registrar raises the budget from its free balance', () => {
    const w = given(withGroup());
    w.when({ type: 'RaiseGroupBudget', signer: REGISTRAR, group: 'grp.one', amount: (50n * TOKEN).toString() }).then({
      type: 'GroupBudgetChanged',
      data: { group: 'grp.one', budget: (150n * TOKEN).toString(), reason: 'RAISED', amount: (50n * TOKEN).toString() },
    });
    assert.equal(reserved(w, REGISTRAR), 150n * TOKEN);
    w.when({ type: 'RaiseGroupBudget', signer: REGISTRAR, group: 'grp.one', amount: (851n * TOKEN).toString() }).thenThrows('FAILED_PRECONDITION');
    w.when({ type: 'RaiseGroupBudget', signer: alice, group: 'grp.one', amount: '1' }).thenThrows('PERMISSION_DENIED');
  });
  test('given period 0, when the registrar raises the per-block rewards, then they count from period 1', () => {
    const w = given(withGroup());
    w.when({ type: 'ChangeGroupRewards', signer: REGISTRAR, group: 'grp.one', subscriptionRewardPerBlock: '1500', votingRewardPerBlock: '2000' }).then({
      type: 'GroupRewardsChanged',
      data: { group: 'grp.one', subscriptionRewardPerBlock: '1500', votingRewardPerBlock: '2000', fromPeriod: 1 },
    });
  });
  test('lowering per-block rewards, or no change, is refused', () => {
    const w = given(withGroup());
    w.when({ type: 'ChangeGroupRewards', signer: REGISTRAR, group: 'grp.one', subscriptionRewardPerBlock: '999', votingRewardPerBlock: '3000' }).thenThrows(
      'INVALID_ARGUMENT',
      /^subscription_reward_per_block: may only be raised/,
    );
    w.when({ type: 'ChangeGroupRewards', signer: REGISTRAR, group: 'grp.one', subscriptionRewardPerBlock: '1000', votingRewardPerBlock: '2000' }).thenThrows(
      'INVALID_ARGUMENT',
      /no change/,
    );
  });
  test('a command needing the reward period before the schedule is known is FAILED_PRECONDITION', () => {
    const w = given(world());
    w.run({ type: 'Deposit', signer: ADMIN, account: REGISTRAR, amount: '1' });
    w.run({ type: 'SignUpRegistrar', signer: REGISTRAR, friendlyName: 'Acme', legalLocation: 'DE' });
    w.run({ ...register({ minStake: '1', maxStake: '1' }, 0n) });
    w.when({ type: 'ChangeGroupRewards', signer: REGISTRAR, group: 'grp.one', subscriptionRewardPerBlock: '1500', votingRewardPerBlock: '2000' }).thenThrows(
      'FAILED_PRECONDITION',
      /schedule is not known/,
    );
    w.when({ type: 'RegisterSolution', signer: REGISTRAR, config: solutionConfig() }).thenThrows('FAILED_PRECONDITION', /schedule is not known/);
  });
  test('the allow list is switched on and off and its entries added and removed by the registrar only', () => {
    const w = given(withGroup());
    w.run({ type: 'UpdateAllowList', signer: REGISTRAR, group: 'grp.one', enabled: true, add: [alice, bob], remove: [] });
    assert.deepEqual([...w.state.groups.get('grp.one')!.allowList].sort(), [alice, bob].sort());
    w.run({ type: 'UpdateAllowList', signer: REGISTRAR, group: 'grp.one', add: [], remove: [bob] });
    assert.equal(w.state.groups.get('grp.one')!.allowListEnabled, true);
    assert.deepEqual([...w.state.groups.get('grp.one')!.allowList], [alice]);
    w.when({ type: 'UpdateAllowList', signer: REGISTRAR, group: 'grp.one', add: [alice], remove: [] }).thenNothingChanged();
    w.when({ type: 'UpdateAllowList', signer: alice, group: 'grp.one', enabled: false, add: [], remove: [] }).thenThrows('PERMISSION_DENIED');
    w.when({ type: 'UpdateAllowList', signer: REGISTRAR, group: 'grp.one', add: ['nope'], remove: [] }).thenThrows('INVALID_ARGUMENT', /^add\[0\]: /);
  });
});

describe('solution groups: deregistration', () => {
  test('only the owner deregisters', () => {
    given(withGroup()).when({ type: 'DeregisterGroup', signer: alice, group: 'grp.one' }).thenThrows('PERMISSION_DENIED');
  });
  test('refused while the group has an active (or paused) solution; allowed once it ended', () => {
    const w = given(withGroup());
    w.run({ type: 'RegisterSolution', signer: REGISTRAR, config: solutionConfig() });
    w.when({ type: 'DeregisterGroup', signer: REGISTRAR, group: 'grp.one' }).thenThrows('FAILED_PRECONDITION', /active solutions sol\.one/);
    w.run({ type: 'PauseSolution', signer: REGISTRAR, solution: 'sol.one' });
    w.when({ type: 'DeregisterGroup', signer: REGISTRAR, group: 'grp.one' }).thenThrows('FAILED_PRECONDITION');
    w.run({ type: 'EndSolution', signer: REGISTRAR, solution: 'sol.one' });
    w.when({ type: 'DeregisterGroup', signer: REGISTRAR, group: 'grp.one' }).then((events) =>
      assert.deepEqual(types(events), ['GroupBudgetChanged', 'GroupStatusChanged']),
    );
  });
  test('given nothing owed, when deregistered, then the group is removed and the budget returns to the registrar', () => {
    const w = given(withGroup());
    w.run({ type: 'DeregisterGroup', signer: REGISTRAR, group: 'grp.one' });
    assert.equal(w.state.groups.get('grp.one')?.status, 'REMOVED');
    assert.equal(free(w, REGISTRAR), 1000n * TOKEN);
    assert.equal(reserved(w, REGISTRAR), 0n);
    w.when({ type: 'DeregisterGroup', signer: REGISTRAR, group: 'grp.one' }).thenThrows('FAILED_PRECONDITION', /already REMOVED/);
  });
  test('given a subscriber, when deregistered, then the group retires, the subscriber is unsubscribed, and it is removed after release, grace and claims', () => {
    const w = given(withGroup());
    w.run(subscribeCmd(alice));
    toPeriod(w, 1);
    inbox(w, 'RewardsComputed', { group: 'grp.one', period: 0, chunk: 0, chunks: 1, payouts: [{ operator: alice, amount: '700' }], subtotal: '700' });
    w.run({ type: 'ApplyCredit', key: 'grp.one|0|0' });
    const events = w.run({ type: 'DeregisterGroup', signer: REGISTRAR, group: 'grp.one' });
    assert.deepEqual(types(events), ['OperatorUnsubscribed', 'GroupStatusChanged']);
    assert.deepEqual(events[0]!.data, { group: 'grp.one', operator: alice, unsubscribedInPeriod: 1, finalPeriod: 3, height: 11 });
    // Retiring: no new subscriptions or solutions; claims and withdrawals go on.
    w.when(subscribeCmd(bob)).thenThrows('FAILED_PRECONDITION', /RETIRING/);
    w.when({ type: 'RegisterSolution', signer: REGISTRAR, config: solutionConfig() }).thenThrows('FAILED_PRECONDITION', /RETIRING/);
    toPeriod(w, 4);
    assert.equal(reserved(w, alice), 0n, 'stake released when period 3 closed');
    toPeriod(w, 6);
    assert.equal(w.state.groups.get('grp.one')?.status, 'RETIRING', 'unclaimed rewards are still owed');
    w.run({ type: 'ClaimRewards', signer: alice, groups: ['grp.one'] });
    w.when({ type: 'SettleGroup', group: 'grp.one' }).then((events) => assert.deepEqual(types(events), ['GroupBudgetChanged', 'GroupStatusChanged']));
    assert.equal(w.state.groups.get('grp.one')?.status, 'REMOVED');
    assert.equal(free(w, REGISTRAR), 1000n * TOKEN - 700n);
    assert.equal(free(w, alice), 1000n * TOKEN + 700n);
  });
});

describe('solution groups: more refusals', () => {
  test('only the owner changes rewards or raises the budget; unknown groups are NOT_FOUND', () => {
    const w = given(withGroup());
    w.when({ type: 'ChangeGroupRewards', signer: alice, group: 'grp.one', subscriptionRewardPerBlock: '5000', votingRewardPerBlock: '5000' }).thenThrows(
      'PERMISSION_DENIED',
    );
    w.when({ type: 'RaiseGroupBudget', signer: REGISTRAR, group: 'nope.grp', amount: '1' }).thenThrows('NOT_FOUND');
  });
  test('an allow list longer than 10000 entries or with a malformed address is refused', () => {
    const w = given(funded());
    w.when({ ...register(), allowList: Array.from({ length: 10_001 }, (_, i) => 'ed25519:' + i.toString(16).padStart(64, '0')) }).thenThrows(
      'INVALID_ARGUMENT',
      /^allow_list: at most 10000/,
    );
    w.when({ ...register(), allowList: ['x'] }).thenThrows('INVALID_ARGUMENT', /^allow_list\[0\]: /);
  });
  test('a removed group takes no budget raise and no rewards change', () => {
    const w = given(withGroup());
    w.run({ type: 'DeregisterGroup', signer: REGISTRAR, group: 'grp.one' });
    w.when({ type: 'RaiseGroupBudget', signer: REGISTRAR, group: 'grp.one', amount: '1' }).thenThrows('FAILED_PRECONDITION', /REMOVED/);
    w.when({ type: 'ChangeGroupRewards', signer: REGISTRAR, group: 'grp.one', subscriptionRewardPerBlock: '5000', votingRewardPerBlock: '5000' }).thenThrows(
      'FAILED_PRECONDITION',
      /REMOVED/,
    );
  });
  test('a deleted registrar may sign up again', () => {
    const w = given(funded());
    w.run({ type: 'DeleteRegistrar', signer: REGISTRAR });
    w.when({ type: 'SignUpRegistrar', signer: REGISTRAR, friendlyName: 'Acme 2', legalLocation: 'FR' }).then((events) =>
      assert.deepEqual(types(events), ['RegistrarSignedUp']),
    );
  });
});
