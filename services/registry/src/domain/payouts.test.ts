import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { unclaimedOf } from './ledger.js';
import { OPERATORS, REGISTRAR, subscribeCmd, TOKEN, types, withGroup } from './test-support.js';
import { free, given, inbox, reserved, toPeriod } from './spec-support.js';

const [alice, bob] = OPERATORS as [string, string];
const computed = (over: Partial<{ period: number; chunk: number; payouts: { operator: string; amount: string }[]; subtotal: string; group: string }> = {}) => ({
  group: 'grp.one',
  period: 0,
  chunk: 0,
  chunks: 1,
  payouts: [
    { operator: alice, amount: '300' },
    { operator: bob, amount: '200' },
  ],
  subtotal: '500',
  ...over,
});

describe('rewards payouts', () => {
  test('given a RewardsComputed chunk, when applied, then the subtotal moves from the budget to unclaimed rewards, once', () => {
    const w = given(withGroup());
    inbox(w, 'RewardsComputed', computed());
    const events = w.run({ type: 'ApplyCredit', key: 'grp.one|0|0' });
    assert.deepEqual(types(events), ['RewardsCredited', 'GroupBudgetChanged']);
    assert.deepEqual(events[0]!.data, { group: 'grp.one', rewardPeriod: 0, chunk: 0, total: '500', payouts: computed().payouts });
    assert.deepEqual(events[1]!.data, { group: 'grp.one', budget: (100n * TOKEN - 500n).toString(), reason: 'PAID', amount: '500' });
    assert.equal(unclaimedOf(w.state.ledger, alice, 'grp.one'), 300n);
    assert.equal(w.state.ledger.accounts.get(bob)?.unclaimed, 200n);
    assert.equal(reserved(w, REGISTRAR), 100n * TOKEN - 500n);
    // The same chunk delivered again (a redelivery recorded under another inbox stream) changes nothing.
    inbox(w, 'RewardsComputed', computed());
    w.when({ type: 'ApplyCredit', key: 'grp.one|0|0' }).thenNothingChanged();
    assert.equal(unclaimedOf(w.state.ledger, alice, 'grp.one'), 300n);
  });
  test('each chunk of a period is credited on its own', () => {
    const w = given(withGroup());
    inbox(w, 'RewardsComputed', computed({ chunk: 0, payouts: [{ operator: alice, amount: '1' }], subtotal: '1' }));
    inbox(w, 'RewardsComputed', computed({ chunk: 1, payouts: [{ operator: bob, amount: '2' }], subtotal: '2' }));
    w.run({ type: 'ApplyCredit', key: 'grp.one|0|0' });
    w.run({ type: 'ApplyCredit', key: 'grp.one|0|1' });
    assert.equal(w.state.groups.get('grp.one')!.budget, 100n * TOKEN - 3n);
  });
  test('when the budget cannot cover a chunk, nothing is credited and an alert is published', () => {
    const w = given(withGroup());
    inbox(w, 'RewardsComputed', computed({ payouts: [{ operator: alice, amount: (101n * TOKEN).toString() }], subtotal: (101n * TOKEN).toString() }));
    const events = w.run({ type: 'ApplyCredit', key: 'grp.one|0|0' });
    assert.deepEqual(types(events), ['RewardsCreditRefused']);
    assert.match((events[0]!.data as { reason: string }).reason, /cannot cover/);
    assert.equal(unclaimedOf(w.state.ledger, alice, 'grp.one'), 0n);
    assert.equal(w.state.groups.get('grp.one')!.budget, 100n * TOKEN);
    assert.deepEqual(w.run({ type: 'ApplyCredit', key: 'grp.one|0|0' }), [], 'refused once, not again');
  });
  test('a chunk whose payouts do not sum to its subtotal, or for an unknown group, is refused with an alert', () => {
    const w = given(withGroup());
    inbox(w, 'RewardsComputed', computed({ subtotal: '499' }));
    inbox(w, 'RewardsComputed', computed({ group: 'nope.grp' }));
    assert.match((w.run({ type: 'ApplyCredit', key: 'grp.one|0|0' })[0]!.data as { reason: string }).reason, /sum to 500/);
    assert.match((w.run({ type: 'ApplyCredit', key: 'nope.grp|0|0' })[0]!.data as { reason: string }).reason, /unknown group/);
  });
});

describe('claims', () => {
  test('claiming moves unclaimed rewards of the listed groups to the free balance', () => {
    const w = given(withGroup());
    inbox(w, 'RewardsComputed', computed());
    w.run({ type: 'ApplyCredit', key: 'grp.one|0|0' });
    w.when({ type: 'ClaimRewards', signer: alice, groups: ['grp.one'] }).then({
      type: 'RewardsClaimed',
      data: { operator: alice, groups: [{ group: 'grp.one', amount: '300' }] },
    });
    assert.equal(free(w, alice), 1000n * TOKEN + 300n);
    assert.equal(w.state.ledger.accounts.get(alice)?.unclaimed, 0n);
  });
  test('an empty list claims every group; nothing to claim is refused', () => {
    const w = given(withGroup());
    w.when({ type: 'ClaimRewards', signer: alice, groups: [] }).thenThrows('FAILED_PRECONDITION', /no unclaimed rewards/);
    inbox(w, 'RewardsComputed', computed());
    w.run({ type: 'ApplyCredit', key: 'grp.one|0|0' });
    w.when({ type: 'ClaimRewards', signer: bob, groups: [] }).then((events) => assert.deepEqual(types(events), ['RewardsClaimed']));
    assert.equal(free(w, bob), 1000n * TOKEN + 200n);
  });
  test('an operator that left the group still claims its rewards there', () => {
    const w = given(withGroup({ withdrawalDelay: 1 }));
    w.run(subscribeCmd(alice));
    w.run({ type: 'Unsubscribe', signer: alice, group: 'grp.one' });
    toPeriod(w, 2);
    assert.equal(w.state.groups.get('grp.one')!.subscriptions.has(alice), false);
    inbox(w, 'RewardsComputed', computed({ period: 0 }));
    w.run({ type: 'ApplyCredit', key: 'grp.one|0|0' });
    w.run({ type: 'ClaimRewards', signer: alice, groups: ['grp.one'] });
    assert.equal(free(w, alice), 1000n * TOKEN + 300n);
  });
});
