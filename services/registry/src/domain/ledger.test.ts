import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TREASURY } from './ledger.js';
import { ADMIN, addr, funded, OPERATORS, SERVICE, TOKEN, types, world } from './test-support.js';
import { free, given, inbox, reserved } from './spec-support.js';

const [alice, bob] = OPERATORS as [string, string];
const hold = (over: Partial<{ holdId: string; account: string; amount: string; purpose: string; signer: string }> = {}) => ({
  type: 'PlaceHold' as const,
  signer: SERVICE,
  holdId: 'eval:1',
  account: alice,
  amount: (10n * TOKEN).toString(),
  purpose: 'distance-evaluation',
  ...over,
});

describe('ledger: deposits and withdrawals', () => {
  test('given nothing, when the admin deposits, then the free balance grows and deposits count it', () => {
    const w = given(world());
    w.run({ type: 'Deposit', signer: ADMIN, account: alice, amount: '500' });
    assert.equal(free(w, alice), 500n);
    assert.equal(w.state.ledger.deposits, 500n);
  });
  test('a deposit by anyone but the admin is refused', () => {
    given(world()).when({ type: 'Deposit', signer: alice, account: alice, amount: '5' }).thenThrows('PERMISSION_DENIED', /admin/);
  });
  test('a deposit of 0, a negative or a non-decimal amount is refused naming the field', () => {
    const w = given(world());
    for (const amount of ['0', '-3', '1.5', '', '1e9'])
      w.when({ type: 'Deposit', signer: ADMIN, account: alice, amount }).thenThrows('INVALID_ARGUMENT', /^amount: /);
  });
  test('a deposit to a malformed address is refused', () => {
    given(world())
      .when({ type: 'Deposit', signer: ADMIN, account: 'alice', amount: '5' })
      .thenThrows('INVALID_ARGUMENT', /^account: /);
  });
  test('given 1000 tokens free, when the admin withdraws 400, then 600 stay and withdrawals count 400', () => {
    const w = given(funded());
    w.run({ type: 'Withdraw', signer: ADMIN, account: alice, amount: (400n * TOKEN).toString() });
    assert.equal(free(w, alice), 600n * TOKEN);
    assert.equal(w.state.ledger.withdrawals, 400n * TOKEN);
  });
  test('a withdrawal above the free balance, or not by the admin, is refused', () => {
    const w = given(funded());
    w.when({ type: 'Withdraw', signer: ADMIN, account: alice, amount: (1001n * TOKEN).toString() }).thenThrows('FAILED_PRECONDITION', /free balance/);
    w.when({ type: 'Withdraw', signer: alice, account: alice, amount: '1' }).thenThrows('PERMISSION_DENIED');
  });
});

describe('ledger: transfers', () => {
  test('given alice has 1000 tokens, when she transfers 1 token to bob, then the free balances move', () => {
    const w = given(funded());
    w.run({ type: 'Transfer', signer: alice, to: bob, amount: TOKEN.toString() });
    assert.equal(free(w, alice), 999n * TOKEN);
    assert.equal(free(w, bob), 1001n * TOKEN);
  });
  test('a transfer above the free balance, to oneself or to the treasury is refused', () => {
    const w = given(funded());
    w.when({ type: 'Transfer', signer: alice, to: bob, amount: (1001n * TOKEN).toString() }).thenThrows('FAILED_PRECONDITION');
    w.when({ type: 'Transfer', signer: alice, to: alice, amount: '1' }).thenThrows('INVALID_ARGUMENT', /^to: /);
    w.when({ type: 'Transfer', signer: alice, to: TREASURY, amount: '1' }).thenThrows('INVALID_ARGUMENT', /treasury/);
  });
});

describe('ledger: holds for other services', () => {
  test('given a service account, when it places a hold, then the amount moves from free to reserved', () => {
    const w = given(funded());
    w.when(hold()).then((events) => assert.deepEqual(types(events), ['HoldPlaced']));
    assert.equal(free(w, alice), 990n * TOKEN);
    assert.equal(reserved(w, alice), 10n * TOKEN);
  });
  test('the admin may place holds too; any other account is refused', () => {
    const w = given(funded());
    w.run(hold({ signer: ADMIN }));
    w.when(hold({ signer: bob, holdId: 'eval:2' })).thenThrows('PERMISSION_DENIED', /LEDGER_SERVICE_ACCOUNTS/);
  });
  test('the same hold id with the same parameters again is accepted and changes nothing', () => {
    const w = given(funded());
    w.run(hold());
    w.when(hold()).thenNothingChanged();
    assert.equal(reserved(w, alice), 10n * TOKEN);
  });
  test('the same hold id with other parameters is ALREADY_EXISTS', () => {
    const w = given(funded());
    w.run(hold());
    w.when(hold({ amount: '1' })).thenThrows('ALREADY_EXISTS', /eval:1/);
    w.when(hold({ account: bob })).thenThrows('ALREADY_EXISTS');
  });
  test('a hold above the free balance is FAILED_PRECONDITION; a malformed hold id INVALID_ARGUMENT', () => {
    const w = given(funded());
    w.when(hold({ amount: (1001n * TOKEN).toString() })).thenThrows('FAILED_PRECONDITION', /free balance/);
    w.when(hold({ holdId: 'has space' })).thenThrows('INVALID_ARGUMENT', /^hold_id: /);
  });
  for (const outcome of ['VALID', 'NOT_EVALUATED'] as const) {
    test(`given a hold, when the evaluation settles ${outcome}, then the hold is released once`, () => {
      const w = given(funded());
      w.run(hold());
      inbox(w, 'EvaluationSettled', { holdId: 'eval:1', identity: 7, requester: alice, outcome, evaluationPeriod: 3 });
      w.when({ type: 'ApplySettlement', holdId: 'eval:1' }).then((events) => assert.deepEqual(types(events), ['HoldReleased']));
      w.when({ type: 'ApplySettlement', holdId: 'eval:1' }).thenNothingChanged();
      inbox(w, 'EvaluationSettled', { holdId: 'eval:1', identity: 7, requester: alice, outcome, evaluationPeriod: 3 });
      w.when({ type: 'ApplySettlement', holdId: 'eval:1' }).thenNothingChanged();
      assert.equal(free(w, alice), 1000n * TOKEN);
      assert.equal(reserved(w, alice), 0n);
      assert.equal(w.state.holds.get('eval:1')?.status, 'RELEASED');
    });
  }
  test('given a hold, when the evaluation settles INVALID, then the amount is slashed to the treasury', () => {
    const w = given(funded());
    w.run(hold());
    inbox(w, 'EvaluationSettled', { holdId: 'eval:1', identity: 7, requester: alice, outcome: 'INVALID', evaluationPeriod: 3 });
    w.when({ type: 'ApplySettlement', holdId: 'eval:1' }).then((events) => assert.deepEqual(types(events), ['HoldSlashed']));
    assert.equal(free(w, alice), 990n * TOKEN);
    assert.equal(reserved(w, alice), 0n);
    assert.equal(free(w, TREASURY), 10n * TOKEN);
    assert.equal(TREASURY, 'ed25519:' + '0'.repeat(64));
  });
  test('a settlement for an unknown hold changes nothing', () => {
    const w = given(funded());
    inbox(w, 'EvaluationSettled', { holdId: 'nope', identity: 7, requester: alice, outcome: 'INVALID', evaluationPeriod: 3 });
    w.when({ type: 'ApplySettlement', holdId: 'nope' }).thenNothingChanged();
    assert.equal(free(w, TREASURY), 0n);
    assert.equal(addr(1).length, 72);
  });
});
