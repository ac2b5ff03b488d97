import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { streamOf } from './decider.js';
import { ADMIN, connectCmd, funded, groupConfig, OPERATORS, REGISTRAR, subscribeCmd, TOKEN, types, withGroup, world, WORKERS } from './test-support.js';

const [alice, bob, carol] = OPERATORS as [string, string, string];
const [w1, w2] = WORKERS as [string, string];

describe('operators: subscribing', () => {
  test('given a group, when an operator subscribes in period 0 with a stake in bounds, then it is locked and active from period 1', () => {
    const w = withGroup();
    const [e] = w.when(subscribeCmd(alice, 20n * TOKEN));
    assert.deepEqual(e!.data, { group: 'grp.one', operator: alice, stake: (20n * TOKEN).toString(), activeFromPeriod: 1, height: 1 });
    assert.equal(w.free(alice), 980n * TOKEN);
    assert.equal(w.reserved(alice), 20n * TOKEN);
  });
  test('a stake below min_stake or above max_stake is refused naming the bounds', () => {
    const w = withGroup();
    w.refuses(subscribeCmd(alice, 10n * TOKEN - 1n), 'INVALID_ARGUMENT', /^stake: must lie within the group's bounds/);
    w.refuses(subscribeCmd(alice, 100n * TOKEN + 1n), 'INVALID_ARGUMENT', /^stake: /);
  });
  test('a stake above the free balance is refused', () => {
    const w = withGroup({ maxStake: (2000n * TOKEN).toString() });
    w.refuses(subscribeCmd(alice, 1001n * TOKEN), 'FAILED_PRECONDITION', /free balance/);
  });
  test('a full group refuses the next operator', () => {
    const w = withGroup({ maxOperators: 2 });
    w.when(subscribeCmd(alice));
    w.when(subscribeCmd(bob));
    w.refuses(subscribeCmd(carol), 'FAILED_PRECONDITION', /full \(2 operators\)/);
  });
  test('with the allow list on, only listed operators subscribe', () => {
    const w = withGroup({ allowListEnabled: true }, [alice]);
    w.when(subscribeCmd(alice));
    w.refuses(subscribeCmd(bob), 'PERMISSION_DENIED', /allow list/);
  });
  test('before the group start block subscriptions are refused', () => {
    const w = withGroup({ startBlock: 5 });
    w.refuses(subscribeCmd(alice), 'FAILED_PRECONDITION', /from block 5/);
    w.blockTo(5);
    w.when(subscribeCmd(alice));
  });
  test('subscribing twice is ALREADY_EXISTS; an unknown group is NOT_FOUND', () => {
    const w = withGroup();
    w.when(subscribeCmd(alice));
    w.refuses(subscribeCmd(alice), 'ALREADY_EXISTS');
    w.refuses(subscribeCmd(bob, 10n * TOKEN, 'nope.grp'), 'NOT_FOUND');
  });
  test('before the reward period schedule is known, subscribing is FAILED_PRECONDITION', () => {
    const w = world();
    w.when({ type: 'Deposit', signer: ADMIN, account: REGISTRAR, amount: '100' });
    w.when({ type: 'Deposit', signer: ADMIN, account: alice, amount: '100' });
    w.when({ type: 'SignUpRegistrar', signer: REGISTRAR, friendlyName: 'Acme', legalLocation: 'DE' });
    w.when({ type: 'RegisterGroup', signer: REGISTRAR, config: groupConfig({ minStake: '1', maxStake: '10' }), budget: '1', allowList: [] });
    w.refuses(subscribeCmd(alice, 5n), 'FAILED_PRECONDITION', /schedule is not known/);
  });
  test('an operator subscribes to several groups', () => {
    const w = withGroup();
    w.when({ type: 'RegisterGroup', signer: REGISTRAR, config: groupConfig({ namespace: 'grp.two' }), budget: '0', allowList: [] });
    w.when(subscribeCmd(alice, 10n * TOKEN));
    w.when(subscribeCmd(alice, 30n * TOKEN, 'grp.two'));
    assert.deepEqual([...w.state.operators.get(alice)!.groups].sort(), ['grp.one', 'grp.two']);
    assert.equal(w.reserved(alice), 40n * TOKEN);
  });
  test('a top-up adds to the stake from the next period and respects max_stake', () => {
    const w = withGroup();
    w.when(subscribeCmd(alice, 50n * TOKEN));
    w.toPeriod(2);
    const [e] = w.when({ type: 'TopUpStake', signer: alice, group: 'grp.one', amount: (40n * TOKEN).toString() });
    assert.deepEqual(e!.data, { group: 'grp.one', operator: alice, amount: (40n * TOKEN).toString(), stake: (90n * TOKEN).toString(), activeFromPeriod: 3, height: 21 });
    w.refuses({ type: 'TopUpStake', signer: alice, group: 'grp.one', amount: (10n * TOKEN + 1n).toString() }, 'INVALID_ARGUMENT', /max_stake/);
    w.refuses({ type: 'TopUpStake', signer: bob, group: 'grp.one', amount: '1' }, 'PERMISSION_DENIED', /^auth\.signer: only an operator subscribed/);
  });
});

describe('operators: unsubscribing and withdrawal delay', () => {
  test('unsubscribing in period p with delay d: final period p+d, stake released only when p+d closes, once', () => {
    const w = withGroup({ withdrawalDelay: 2 });
    w.when(subscribeCmd(alice, 10n * TOKEN));
    w.toPeriod(1);
    const [e] = w.when({ type: 'Unsubscribe', signer: alice, group: 'grp.one' });
    assert.deepEqual(e!.data, { group: 'grp.one', operator: alice, period: 1, finalPeriod: 3, height: 11 });
    w.toPeriod(3);
    w.blockTo(40); // the last block of period 3
    assert.deepEqual(w.when({ type: 'SettleGroup', group: 'grp.one' }), [], 'period 3 has not closed');
    assert.equal(w.reserved(alice), 10n * TOKEN);
    w.blockTo(41);
    const released = w.when({ type: 'SettleGroup', group: 'grp.one' });
    assert.deepEqual(released.map((x) => x.data), [{ group: 'grp.one', operator: alice, amount: (10n * TOKEN).toString(), period: 3 }]);
    assert.deepEqual(w.when({ type: 'SettleGroup', group: 'grp.one' }), [], 'idempotent');
    assert.equal(w.reserved(alice), 0n);
    assert.equal(w.free(alice), 1000n * TOKEN);
  });
  test('a second unsubscribe while one is pending is refused; so is a top-up', () => {
    const w = withGroup();
    w.when(subscribeCmd(alice));
    w.when({ type: 'Unsubscribe', signer: alice, group: 'grp.one' });
    w.refuses({ type: 'Unsubscribe', signer: alice, group: 'grp.one' }, 'FAILED_PRECONDITION', /already unsubscribed/);
    w.refuses({ type: 'TopUpStake', signer: alice, group: 'grp.one', amount: '1' }, 'FAILED_PRECONDITION', /withdrawal/);
    w.refuses(subscribeCmd(alice), 'FAILED_PRECONDITION', /withdrawal/);
  });
  test('after release the operator may subscribe again', () => {
    const w = withGroup({ withdrawalDelay: 1 });
    w.when(subscribeCmd(alice));
    w.when({ type: 'Unsubscribe', signer: alice, group: 'grp.one' });
    w.toPeriod(2);
    assert.deepEqual(types(w.when(subscribeCmd(alice))), ['OperatorSubscribed']);
  });
  test('unsubscribing without a subscription is PERMISSION_DENIED naming the role', () =>
    withGroup().refuses({ type: 'Unsubscribe', signer: alice, group: 'grp.one' }, 'PERMISSION_DENIED', /^auth\.signer: only an operator subscribed/));
});

describe('operators: workers', () => {
  test('an operator connects exactly one worker; disconnecting frees both', () => {
    const w = funded();
    const [e] = w.when(connectCmd(alice, w1));
    assert.deepEqual(e!.data, { operator: alice, worker: w1, height: 1 });
    w.refuses(connectCmd(alice, w2), 'FAILED_PRECONDITION', /already has worker/);
    w.refuses(connectCmd(alice, w1), 'ALREADY_EXISTS');
    w.when({ type: 'DisconnectWorker', signer: alice });
    w.when(connectCmd(alice, w2));
    assert.equal(w.state.operators.get(alice)?.worker, w2);
    assert.equal(w.state.workers.has(w1), false);
  });
  test('a worker serves one operator', () => {
    const w = funded();
    w.when(connectCmd(alice, w1));
    w.refuses(connectCmd(bob, w1), 'FAILED_PRECONDITION', /already serves operator/);
  });
  test('an operator cannot be its own worker, nor a worker an operator', () => {
    const w = withGroup();
    w.refuses(connectCmd(alice, alice), 'INVALID_ARGUMENT', /^worker: /);
    w.when(subscribeCmd(bob));
    w.refuses(connectCmd(alice, bob), 'FAILED_PRECONDITION', /is an operator/);
    w.when(connectCmd(alice, w1));
    w.refuses(subscribeCmd(w1), 'FAILED_PRECONDITION', /worker account cannot be an operator/);
  });
  test('disconnecting without a worker is PERMISSION_DENIED naming the role', () =>
    funded().refuses({ type: 'DisconnectWorker', signer: alice }, 'PERMISSION_DENIED', /^auth\.signer: only an operator with a connected worker/));
});

describe('operators: the worker consents and may leave', () => {
  test('given a stranger, when an operator connects it without its consent, then UNAUTHENTICATED naming worker_auth, and the account may still subscribe', () => {
    const w = withGroup();
    w.refuses({ ...connectCmd(alice, carol), consentBy: undefined }, 'UNAUTHENTICATED', /^worker_auth: the worker .* must consent/);
    assert.equal(w.state.workers.has(carol), false);
    assert.deepEqual(types(w.when(subscribeCmd(carol))), ['OperatorSubscribed']);
  });
  test('a consent signed by another account than the worker is PERMISSION_DENIED naming worker_auth', () => {
    const w = funded();
    w.refuses(connectCmd(alice, w1, w2), 'PERMISSION_DENIED', new RegExp(`^worker_auth: signed by ${w2}, but only the worker ${w1} can consent`));
    w.refuses(connectCmd(alice, w1, alice), 'PERMISSION_DENIED', /^worker_auth: /);
    assert.equal(w.state.operators.get(alice)?.worker, undefined);
  });
  test('a consent names its operator: another operator cannot use it, and the operator must be named', () => {
    const w = funded();
    w.refuses({ ...connectCmd(alice, w1), signer: bob }, 'PERMISSION_DENIED', new RegExp(`^operator: the request names ${alice}, but ${bob} signed it`));
    w.refuses({ ...connectCmd(alice, w1), operator: '' }, 'INVALID_ARGUMENT', /^operator: must name the operator/);
    assert.equal(w.state.workers.has(w1), false);
  });
  test('given a connected worker, when the worker signs DisconnectWorker, then WorkerDisconnected on the operator\'s stream and both are free', () => {
    const w = withGroup();
    w.when(subscribeCmd(alice));
    w.when(connectCmd(alice, w1));
    w.refuses(subscribeCmd(w1), 'FAILED_PRECONDITION', /serves operator/);
    const leave = { type: 'DisconnectWorker' as const, signer: w1 };
    assert.equal(streamOf(leave, w.state), `operator:${alice}`);
    const events = w.when(leave);
    assert.deepEqual(events.map((e) => [e.type, e.data]), [['WorkerDisconnected', { operator: alice, worker: w1, height: 1 }]]);
    assert.equal(w.state.operators.get(alice)?.worker, undefined);
    assert.equal(w.state.workers.has(w1), false);
    w.refuses(leave, 'PERMISSION_DENIED', /^auth.signer: only an operator with a connected worker, or a worker serving an operator/);
    // The former worker is an ordinary account again: it subscribes as an operator; its old operator connects another worker.
    w.when({ type: 'Deposit', signer: ADMIN, account: w1, amount: (100n * TOKEN).toString() });
    assert.deepEqual(types(w.when(subscribeCmd(w1))), ['OperatorSubscribed']);
    w.when(connectCmd(alice, w2));
    w.refuses(connectCmd(bob, w1), 'FAILED_PRECONDITION', /is an operator/);
  });
});

describe('operators: the group window and retiring groups', () => {
  test('after the operation end block subscriptions are refused', () => {
    const w = withGroup({ operationEndBlock: 30 });
    w.blockTo(31);
    w.refuses(subscribeCmd(alice), 'FAILED_PRECONDITION', /operation window .* ended at block 30/);
  });
  test('in a retiring group top-ups are refused but unsubscribed operators keep their pending withdrawal', () => {
    const w = withGroup();
    w.when(subscribeCmd(alice));
    w.when(subscribeCmd(bob));
    w.when({ type: 'Unsubscribe', signer: bob, group: 'grp.one' });
    const events = w.when({ type: 'DeregisterGroup', signer: REGISTRAR, group: 'grp.one' });
    assert.deepEqual(events.filter((e) => e.type === 'OperatorUnsubscribed').map((e) => (e.data as { operator: string }).operator), [alice], 'bob was already leaving');
    w.refuses({ type: 'TopUpStake', signer: alice, group: 'grp.one', amount: '1' }, 'FAILED_PRECONDITION', /RETIRING/);
    w.refuses({ type: 'Unsubscribe', signer: alice, group: 'grp.one' }, 'FAILED_PRECONDITION', /already unsubscribed/);
  });
});
