import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { unclaimedOf } from './ledger.js';
import { OPERATORS, REGISTRAR, subscribeCmd, TOKEN, types, withGroup } from './test-support.js';

const [alice, bob] = OPERATORS as [string, string];
const computed = (over: Partial<{ period: number; chunk: number; payouts: { operator: string; amount: string }[]; subtotal: string; group: string }> = {}) => ({
  group: 'grp.one', period: 0, chunk: 0, chunks: 1, payouts: [{ operator: alice, amount: '300' }, { operator: bob, amount: '200' }], subtotal: '500', ...over,
});

describe('rewards payouts', () => {
  test('given a RewardsComputed chunk, when applied, then the subtotal moves from the budget to unclaimed rewards, once', () => {
    const w = withGroup();
    w.inbox('RewardsComputed', computed());
    const events = w.when({ type: 'ApplyCredit', key: 'grp.one|0|0' });
    assert.deepEqual(types(events), ['RewardsCredited', 'GroupBudgetChanged']);
    assert.deepEqual(events[0]!.data, { group: 'grp.one', period: 0, chunk: 0, total: '500', payouts: computed().payouts });
    assert.deepEqual(events[1]!.data, { group: 'grp.one', budget: (100n * TOKEN - 500n).toString(), reason: 'PAID', amount: '500' });
    assert.equal(unclaimedOf(w.state.ledger, alice, 'grp.one'), 300n);
    assert.equal(w.state.ledger.accounts.get(bob)?.unclaimed, 200n);
    assert.equal(w.reserved(REGISTRAR), 100n * TOKEN - 500n);
    // The same chunk delivered again (a redelivery recorded under another inbox stream) changes nothing.
    w.inbox('RewardsComputed', computed());
    assert.deepEqual(w.when({ type: 'ApplyCredit', key: 'grp.one|0|0' }), []);
    assert.equal(unclaimedOf(w.state.ledger, alice, 'grp.one'), 300n);
  });
  test('each chunk of a period is credited on its own', () => {
    const w = withGroup();
    w.inbox('RewardsComputed', computed({ chunk: 0, payouts: [{ operator: alice, amount: '1' }], subtotal: '1' }));
    w.inbox('RewardsComputed', computed({ chunk: 1, payouts: [{ operator: bob, amount: '2' }], subtotal: '2' }));
    w.when({ type: 'ApplyCredit', key: 'grp.one|0|0' });
    w.when({ type: 'ApplyCredit', key: 'grp.one|0|1' });
    assert.equal(w.state.groups.get('grp.one')!.budget, 100n * TOKEN - 3n);
  });
  test('when the budget cannot cover a chunk, nothing is credited and an alert is published', () => {
    const w = withGroup();
    w.inbox('RewardsComputed', computed({ payouts: [{ operator: alice, amount: (101n * TOKEN).toString() }], subtotal: (101n * TOKEN).toString() }));
    const events = w.when({ type: 'ApplyCredit', key: 'grp.one|0|0' });
    assert.deepEqual(types(events), ['RewardsCreditRefused']);
    assert.match((events[0]!.data as { reason: string }).reason, /cannot cover/);
    assert.equal(unclaimedOf(w.state.ledger, alice, 'grp.one'), 0n);
    assert.equal(w.state.groups.get('grp.one')!.budget, 100n * TOKEN);
    assert.deepEqual(w.when({ type: 'ApplyCredit', key: 'grp.one|0|0' }), [], 'refused once, not again');
  });
  test('a chunk whose payouts do not sum to its subtotal, or for an unknown group, is refused with an alert', () => {
    const w = withGroup();
    w.inbox('RewardsComputed', computed({ subtotal: '499' }));
    w.inbox('RewardsComputed', computed({ group: 'nope.grp' }));
    assert.match((w.when({ type: 'ApplyCredit', key: 'grp.one|0|0' })[0]!.data as { reason: string }).reason, /sum to 500/);
    assert.match((w.when({ type: 'ApplyCredit', key: 'nope.grp|0|0' })[0]!.data as { reason: string }).reason, /unknown group/);
  });
});

describe('claims', () => {
  test('claiming moves unclaimed rewards of the listed groups to the free balance', () => {
    const w = withGroup();
    w.inbox('RewardsComputed', computed());
    w.when({ type: 'ApplyCredit', key: 'grp.one|0|0' });
    const [e] = w.when({ type: 'ClaimRewards', signer: alice, groups: ['grp.one'] });
    assert.deepEqual(e!.data, { operator: alice, groups: [{ group: 'grp.one', amount: '300' }] });
    assert.equal(w.free(alice), 1000n * TOKEN + 300n);
    assert.equal(w.state.ledger.accounts.get(alice)?.unclaimed, 0n);
  });
  test('an empty list claims every group; nothing to claim is refused', () => {
    const w = withGroup();
    w.refuses({ type: 'ClaimRewards', signer: alice, groups: [] }, 'FAILED_PRECONDITION', /no unclaimed rewards/);
    w.inbox('RewardsComputed', computed());
    w.when({ type: 'ApplyCredit', key: 'grp.one|0|0' });
    assert.deepEqual(types(w.when({ type: 'ClaimRewards', signer: bob, groups: [] })), ['RewardsClaimed']);
    assert.equal(w.free(bob), 1000n * TOKEN + 200n);
  });
  test('an operator that left the group still claims its rewards there', () => {
    const w = withGroup({ withdrawalDelay: 1 });
    w.when(subscribeCmd(alice));
    w.when({ type: 'Unsubscribe', signer: alice, group: 'grp.one' });
    w.toPeriod(2);
    assert.equal(w.state.groups.get('grp.one')!.subscriptions.has(alice), false);
    w.inbox('RewardsComputed', computed({ period: 0 }));
    w.when({ type: 'ApplyCredit', key: 'grp.one|0|0' });
    w.when({ type: 'ClaimRewards', signer: alice, groups: ['grp.one'] });
    assert.equal(w.free(alice), 1000n * TOKEN + 300n);
  });
});
