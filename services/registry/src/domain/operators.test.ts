import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { streamOf } from './decider.js';
import { ADMIN, connectCmd, funded, groupConfig, OPERATORS, REGISTRAR, subscribeCmd, TOKEN, types, withGroup, world, WORKERS } from './test-support.js';
import { blockTo, free, given, reserved, toPeriod } from './spec-support.js';

const [alice, bob, carol] = OPERATORS as [string, string, string];
const [w1, w2] = WORKERS as [string, string];

describe('operators: subscribing', () => {
  test('given a group, when an operator subscribes in period 0 with a stake in bounds, then it is locked and active from period 1', () => {
    const w = given(withGroup());
    w.when(subscribeCmd(alice, 20n * TOKEN)).then({
      type: 'OperatorSubscribed',
      data: { group: 'grp.one', operator: alice, stake: (20n * TOKEN).toString(), activeFromPeriod: 1, height: 1 },
    });
    assert.equal(free(w, alice), 980n * TOKEN);
    assert.equal(reserved(w, alice), 20n * TOKEN);
  });
  test('a stake below min_stake or above max_stake is refused naming the bounds', () => {
    const w = given(withGroup());
    w.when(subscribeCmd(alice, 10n * TOKEN - 1n)).thenThrows('INVALID_ARGUMENT', /^stake: must lie within the group's bounds/);
    w.when(subscribeCmd(alice, 100n * TOKEN + 1n)).thenThrows('INVALID_ARGUMENT', /^stake: /);
  });
  test('a stake above the free balance is refused', () => {
    const w = given(withGroup({ maxStake: (2000n * TOKEN).toString() }));
    w.when(subscribeCmd(alice, 1001n * TOKEN)).thenThrows('FAILED_PRECONDITION', /free balance/);
  });
  test('a full group refuses the next operator', () => {
    const w = given(withGroup({ maxOperators: 2 }));
    w.run(subscribeCmd(alice));
    w.run(subscribeCmd(bob));
    w.when(subscribeCmd(carol)).thenThrows('FAILED_PRECONDITION', /full \(2 operators\)/);
  });
  test('with the allow list on, only listed operators subscribe', () => {
    const w = given(withGroup({ allowListEnabled: true }, [alice]));
    w.run(subscribeCmd(alice));
    w.when(subscribeCmd(bob)).thenThrows('PERMISSION_DENIED', /allow list/);
  });
  test('before the group start block subscriptions are refused', () => {
    const w = given(withGroup({ startBlock: 5 }));
    w.when(subscribeCmd(alice)).thenThrows('FAILED_PRECONDITION', /from block 5/);
    blockTo(w, 5);
    w.run(subscribeCmd(alice));
  });
  test('subscribing twice is ALREADY_EXISTS; an unknown group is NOT_FOUND', () => {
    const w = given(withGroup());
    w.run(subscribeCmd(alice));
    w.when(subscribeCmd(alice)).thenThrows('ALREADY_EXISTS');
    w.when(subscribeCmd(bob, 10n * TOKEN, 'nope.grp')).thenThrows('NOT_FOUND');
  });
  test('before the reward period schedule is known, subscribing is FAILED_PRECONDITION', () => {
    const w = given(world());
    w.run({ type: 'Deposit', signer: ADMIN, account: REGISTRAR, amount: '100' });
    w.run({ type: 'Deposit', signer: ADMIN, account: alice, amount: '100' });
    w.run({ type: 'SignUpRegistrar', signer: REGISTRAR, friendlyName: 'Acme', legalLocation: 'DE' });
    w.run({ type: 'RegisterGroup', signer: REGISTRAR, config: groupConfig({ minStake: '1', maxStake: '10' }), budget: '1', allowList: [] });
    w.when(subscribeCmd(alice, 5n)).thenThrows('FAILED_PRECONDITION', /schedule is not known/);
  });
  test('an operator subscribes to several groups', () => {
    const w = given(withGroup());
    w.run({ type: 'RegisterGroup', signer: REGISTRAR, config: groupConfig({ namespace: 'grp.two' }), budget: '0', allowList: [] });
    w.run(subscribeCmd(alice, 10n * TOKEN));
    w.run(subscribeCmd(alice, 30n * TOKEN, 'grp.two'));
    assert.deepEqual([...w.state.operators.get(alice)!.groups].sort(), ['grp.one', 'grp.two']);
    assert.equal(reserved(w, alice), 40n * TOKEN);
  });
  test('a top-up adds to the stake from the next period and respects max_stake', () => {
    const w = given(withGroup());
    w.run(subscribeCmd(alice, 50n * TOKEN));
    toPeriod(w, 2);
    w.when({ type: 'TopUpStake', signer: alice, group: 'grp.one', amount: (40n * TOKEN).toString() }).then({
      type: 'StakeToppedUp',
      data: { group: 'grp.one', operator: alice, amount: (40n * TOKEN).toString(), stake: (90n * TOKEN).toString(), activeFromPeriod: 3, height: 21 },
    });
    w.when({ type: 'TopUpStake', signer: alice, group: 'grp.one', amount: (10n * TOKEN + 1n).toString() }).thenThrows('INVALID_ARGUMENT', /max_stake/);
    w.when({ type: 'TopUpStake', signer: bob, group: 'grp.one', amount: '1' }).thenThrows('PERMISSION_DENIED', /^auth\.signer: only an operator subscribed/);
  });
});

describe('operators: unsubscribing and withdrawal delay', () => {
  test('unsubscribing in period p with delay d: final period p+d, stake released only when p+d closes, once', () => {
    const w = given(withGroup({ withdrawalDelay: 2 }));
    w.run(subscribeCmd(alice, 10n * TOKEN));
    toPeriod(w, 1);
    w.when({ type: 'Unsubscribe', signer: alice, group: 'grp.one' }).then({
      type: 'OperatorUnsubscribed',
      data: { group: 'grp.one', operator: alice, unsubscribedInPeriod: 1, finalPeriod: 3, height: 11 },
    });
    toPeriod(w, 3);
    blockTo(w, 40); // the last block of period 3
    assert.deepEqual(w.run({ type: 'SettleGroup', group: 'grp.one' }), [], 'period 3 has not closed');
    assert.equal(reserved(w, alice), 10n * TOKEN);
    blockTo(w, 41);
    const released = w.run({ type: 'SettleGroup', group: 'grp.one' });
    assert.deepEqual(
      released.map((x) => x.data),
      [{ group: 'grp.one', operator: alice, amount: (10n * TOKEN).toString(), finalPeriod: 3 }],
    );
    assert.deepEqual(w.run({ type: 'SettleGroup', group: 'grp.one' }), [], 'idempotent');
    assert.equal(reserved(w, alice), 0n);
    assert.equal(free(w, alice), 1000n * TOKEN);
  });
  test('a second unsubscribe while one is pending is refused; so is a top-up', () => {
    const w = given(withGroup());
    w.run(subscribeCmd(alice));
    w.run({ type: 'Unsubscribe', signer: alice, group: 'grp.one' });
    w.when({ type: 'Unsubscribe', signer: alice, group: 'grp.one' }).thenThrows('FAILED_PRECONDITION', /already unsubscribed/);
    w.when({ type: 'TopUpStake', signer: alice, group: 'grp.one', amount: '1' }).thenThrows('FAILED_PRECONDITION', /withdrawal/);
    w.when(subscribeCmd(alice)).thenThrows('FAILED_PRECONDITION', /withdrawal/);
  });
  test('after release the operator may subscribe again', () => {
    const w = given(withGroup({ withdrawalDelay: 1 }));
    w.run(subscribeCmd(alice));
    w.run({ type: 'Unsubscribe', signer: alice, group: 'grp.one' });
    toPeriod(w, 2);
    w.when(subscribeCmd(alice)).then((events) => assert.deepEqual(types(events), ['OperatorSubscribed']));
  });
  test('unsubscribing without a subscription is PERMISSION_DENIED naming the role', () => {
    given(withGroup())
      .when({ type: 'Unsubscribe', signer: alice, group: 'grp.one' })
      .thenThrows('PERMISSION_DENIED', /^auth\.signer: only an operator subscribed/);
  });
});

describe('operators: workers', () => {
  test('an operator connects exactly one worker; disconnecting frees both', () => {
    const w = given(funded());
    w.when(connectCmd(alice, w1)).then({ type: 'WorkerConnected', data: { operator: alice, worker: w1, height: 1 } });
    w.when(connectCmd(alice, w2)).thenThrows('FAILED_PRECONDITION', /already has worker/);
    w.when(connectCmd(alice, w1)).thenThrows('ALREADY_EXISTS');
    w.run({ type: 'DisconnectWorker', signer: alice });
    w.run(connectCmd(alice, w2));
    assert.equal(w.state.operators.get(alice)?.worker, w2);
    assert.equal(w.state.workers.has(w1), false);
  });
  test('a worker serves one operator', () => {
    const w = given(funded());
    w.run(connectCmd(alice, w1));
    w.when(connectCmd(bob, w1)).thenThrows('FAILED_PRECONDITION', /already serves operator/);
  });
  test('an operator cannot be its own worker, nor a worker an operator', () => {
    const w = given(withGroup());
    w.when(connectCmd(alice, alice)).thenThrows('INVALID_ARGUMENT', /^worker: /);
    w.run(subscribeCmd(bob));
    w.when(connectCmd(alice, bob)).thenThrows('FAILED_PRECONDITION', /is an operator/);
    w.run(connectCmd(alice, w1));
    w.when(subscribeCmd(w1)).thenThrows('FAILED_PRECONDITION', /worker account cannot be an operator/);
  });
  test('disconnecting without a worker is PERMISSION_DENIED naming the role', () => {
    given(funded())
      .when({ type: 'DisconnectWorker', signer: alice })
      .thenThrows('PERMISSION_DENIED', /^auth\.signer: only an operator with a connected worker/);
  });
});

describe('operators: the worker consents and may leave', () => {
  test('given a stranger, when an operator connects it without its consent, then UNAUTHENTICATED naming worker_auth, and the account may still subscribe', () => {
    const w = given(withGroup());
    w.when({ ...connectCmd(alice, carol), consentBy: undefined }).thenThrows('UNAUTHENTICATED', /^worker_auth: the worker .* must consent/);
    assert.equal(w.state.workers.has(carol), false);
    w.when(subscribeCmd(carol)).then((events) => assert.deepEqual(types(events), ['OperatorSubscribed']));
  });
  test('a consent signed by another account than the worker is PERMISSION_DENIED naming worker_auth', () => {
    const w = given(funded());
    w.when(connectCmd(alice, w1, w2)).thenThrows('PERMISSION_DENIED', new RegExp(`^worker_auth: signed by ${w2}, but only the worker ${w1} can consent`));
    w.when(connectCmd(alice, w1, alice)).thenThrows('PERMISSION_DENIED', /^worker_auth: /);
    assert.equal(w.state.operators.get(alice)?.worker, undefined);
  });
  test('a consent names its operator: another operator cannot use it, and the operator must be named', () => {
    const w = given(funded());
    w.when({ ...connectCmd(alice, w1), signer: bob }).thenThrows(
      'PERMISSION_DENIED',
      new RegExp(`^operator: the request names ${alice}, but ${bob} signed it`),
    );
    w.when({ ...connectCmd(alice, w1), operator: '' }).thenThrows('INVALID_ARGUMENT', /^operator: must name the operator/);
    assert.equal(w.state.workers.has(w1), false);
  });
  test("given a connected worker, when the worker signs DisconnectWorker, then WorkerDisconnected on the operator's stream and both are free", () => {
    const w = given(withGroup());
    w.run(subscribeCmd(alice));
    w.run(connectCmd(alice, w1));
    w.when(subscribeCmd(w1)).thenThrows('FAILED_PRECONDITION', /serves operator/);
    const leave = { type: 'DisconnectWorker' as const, signer: w1 };
    assert.equal(streamOf(leave, w.state), `operator:${alice}`);
    const events = w.run(leave);
    assert.deepEqual(
      events.map((e) => [e.type, e.data]),
      [['WorkerDisconnected', { operator: alice, worker: w1, height: 1 }]],
    );
    assert.equal(w.state.operators.get(alice)?.worker, undefined);
    assert.equal(w.state.workers.has(w1), false);
    w.when(leave).thenThrows('PERMISSION_DENIED', /^auth.signer: only an operator with a connected worker, or a worker serving an operator/);
    // The former worker is an ordinary account again: it subscribes as an operator; its old operator connects another worker.
    w.run({ type: 'Deposit', signer: ADMIN, account: w1, amount: (100n * TOKEN).toString() });
    w.when(subscribeCmd(w1)).then((events) => assert.deepEqual(types(events), ['OperatorSubscribed']));
    w.run(connectCmd(alice, w2));
    w.when(connectCmd(bob, w1)).thenThrows('FAILED_PRECONDITION', /is an operator/);
  });
});

describe('operators: the group window and retiring groups', () => {
  test('after the operation end block subscriptions are refused', () => {
    const w = given(withGroup({ operationEndBlock: 30 }));
    blockTo(w, 31);
    w.when(subscribeCmd(alice)).thenThrows('FAILED_PRECONDITION', /operation window .* ended at block 30/);
  });
  test('in a retiring group top-ups are refused but unsubscribed operators keep their pending withdrawal', () => {
    const w = given(withGroup());
    w.run(subscribeCmd(alice));
    w.run(subscribeCmd(bob));
    w.run({ type: 'Unsubscribe', signer: bob, group: 'grp.one' });
    const events = w.run({ type: 'DeregisterGroup', signer: REGISTRAR, group: 'grp.one' });
    assert.deepEqual(
      events.filter((e) => e.type === 'OperatorUnsubscribed').map((e) => (e.data as { operator: string }).operator),
      [alice],
      'bob was already leaving',
    );
    w.when({ type: 'TopUpStake', signer: alice, group: 'grp.one', amount: '1' }).thenThrows('FAILED_PRECONDITION', /RETIRING/);
    w.when({ type: 'Unsubscribe', signer: alice, group: 'grp.one' }).thenThrows('FAILED_PRECONDITION', /already unsubscribed/);
  });
});
