import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { nextDeadline } from './deadlines.js';
import { groupsWithDueWork } from './payouts.js';
import { given, type RegistrySpec } from './spec-support.js';
import { OPERATORS, PERIOD_LENGTH, REGISTRAR, subscribeCmd, withGroup } from './test-support.js';

const [alice, bob] = OPERATORS as [string, string];
const first = (period: number): number => 1 + period * PERIOD_LENGTH;

/** One block, then what the block reaction (app/reactions.ts) does: SettleGroup for each group with due work; whether it recorded anything. */
function block(w: RegistrySpec): boolean {
  w.given({ type: 'BlockProduced', data: { height: w.state.height + 1 } });
  let acted = false;
  for (const group of groupsWithDueWork(w.state)) if (w.run({ type: 'SettleGroup', group }).length > 0) acted = true;
  return acted;
}

describe("registry's next deadline: the next height at which the block reaction releases a stake or removes a retiring group", () => {
  test('nothing waits for a height without an unsubscribed stake or a retiring group', () => {
    const w = given(withGroup());
    assert.equal(nextDeadline(w.state), undefined);
    w.run(subscribeCmd(alice));
    assert.equal(nextDeadline(w.state), undefined, 'a subscription alone waits for nothing');
  });

  test('an unsubscribe in period 0 with a withdrawal delay of 2: the release at the first block of period 3; a deregistered group: removal a period after', () => {
    const w = given(withGroup());
    w.run(subscribeCmd(alice));
    w.run(subscribeCmd(bob));
    w.run({ type: 'Unsubscribe', signer: alice, group: 'grp.one' });
    assert.equal(nextDeadline(w.state), first(3));
    while (w.state.height < first(3) - 1) assert.equal(block(w), false);
    assert.equal(block(w), true, 'released at the deadline');
    assert.equal(nextDeadline(w.state), undefined);
    // Deregistered in period 3: bob's final period is 5, released at period 6, the group removed at period 7.
    w.run({ type: 'DeregisterGroup', signer: REGISTRAR, group: 'grp.one' });
    assert.equal(nextDeadline(w.state), first(6));
    while (w.state.height < first(6)) block(w);
    assert.equal(nextDeadline(w.state), first(7));
  });

  test('property: block by block, the deadline read at each height is the next height at which the reaction acts (unsubscribe periods, delay, a deregistration)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
        (delay, a, b, deregister) => {
          const w = given(withGroup({ withdrawalDelay: delay }));
          w.run(subscribeCmd(alice));
          w.run(subscribeCmd(bob));
          const N = first(14);
          const read: (number | undefined)[] = [];
          const acted: number[] = [];
          /** Heights at which a command was decided (before the deadline read at that height). */
          const commands: number[] = [];
          const command = (c: Parameters<RegistrySpec['run']>[0]): void => {
            w.run(c);
            commands.push(w.state.height);
          };
          while (w.state.height < N) {
            const period = Math.floor((w.state.height - 1) / PERIOD_LENGTH);
            const g = w.state.groups.get('grp.one')!;
            if (period === a && g.subscriptions.get(alice)?.finalPeriod === undefined && g.status === 'ACTIVE')
              command({ type: 'Unsubscribe', signer: alice, group: 'grp.one' });
            if (period === b && g.subscriptions.get(bob)?.finalPeriod === undefined && g.status === 'ACTIVE')
              command({ type: 'Unsubscribe', signer: bob, group: 'grp.one' });
            if (period === deregister && g.status === 'ACTIVE') command({ type: 'DeregisterGroup', signer: REGISTRAR, group: 'grp.one' });
            read[w.state.height] = nextDeadline(w.state);
            if (block(w)) acted.push(w.state.height);
          }
          for (let h = 1; h < N; h++) {
            const next = acted.find((x) => x > h);
            // A deadline read at h knows the commands decided by h, not those after it (they bring their own deadlines).
            if (commands.some((c) => c > h && (next === undefined || c < next))) continue;
            if (next !== undefined) assert.equal(read[h], next, `read at height ${h}; acted at ${acted.join(',')}`);
            else assert.ok(read[h] === undefined || read[h]! > N, `read at height ${h}: ${read[h]}`);
          }
          assert.ok(a > 13 || acted.length > 0, 'a release happened');
        },
      ),
      { numRuns: 200 },
    );
  });
});
