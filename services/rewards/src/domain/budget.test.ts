import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { EventData } from '@ewx/platform';
import type { RewardsComputedEvent } from '@ewx/contracts';
import type { RewardsDecidedEvent } from './events.js';
import { addr, ev } from './fixtures.js';
import { close, given, of } from './spec-support.js';
import { budgetLeft } from './state.js';

/*
 * The budget is the registry's: rewards reads the figure the registry publishes and subtracts only
 * what it decided that the registry has not paid yet (`budgetLeft`). Before, rewards kept a budget
 * of its own (raises and returns added, its own payouts taken off when decided, PAID ignored). The
 * reference below is that rule, kept verbatim; on random interleavings of closings, the registry's
 * PAID notices (early or late), refusals and raises, every closing must be given the same budget.
 */
function referenceAvailable(log: readonly EventData[], group: string): bigint {
  let registryBudget = 0n;
  let available = 0n;
  for (const e of log) {
    const d = e.data as Record<string, string>;
    if (d.group !== group) continue;
    if (e.type === 'GroupRegistered') {
      registryBudget = BigInt(d.budget!);
      available = registryBudget;
    }
    if (e.type === 'GroupBudgetChanged') {
      const now = BigInt(d.budget!);
      if (d.reason !== 'PAID') available += now - registryBudget;
      if (available < 0n) available = 0n;
      registryBudget = now;
    }
    if (e.type === 'RewardsComputed') available -= BigInt(d.subtotal!);
  }
  return available > 0n ? available : 0n;
}

const G = 'grp';
const A = addr(1);
const B = addr(2);

test('each closing gets the budget the former shadow budget gave it, whenever the registry pays, refuses or is raised', () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 500n }),
      fc.array(fc.record({ raise: fc.bigInt({ min: 0n, max: 300n }), settle: fc.integer({ min: 0, max: 3 }), refuse: fc.boolean() }), {
        minLength: 1,
        maxLength: 8,
      }),
      (initial, steps) => {
        const log = given(
          ev.schedule(10),
          ev.group(G, { subscriptionRewardPerBlock: '10', votingRewardPerBlock: '0', slaVotingThreshold: 0 }, initial.toString()),
          ev.subscribed(G, A, '1', 0),
          ev.subscribed(G, B, '3', 0),
          ev.block(10 * (steps.length + 1)),
        );
        // The registry's side: its budget, and the chunks it has not answered yet (oldest first).
        let registry = initial;
        const waiting: RewardsComputedEvent[] = [];
        const answer = (): void => {
          const c = waiting.shift()!;
          const total = BigInt(c.subtotal);
          if (total > registry || total === 0n) {
            log.given({
              type: 'RewardsCreditRefused',
              data: { group: G, rewardPeriod: c.rewardPeriod, chunk: c.chunk, subtotal: c.subtotal, budget: registry.toString(), reason: 'test' },
            });
            return;
          }
          registry -= total;
          log.given(
            { type: 'RewardsCredited', data: { group: G, rewardPeriod: c.rewardPeriod, chunk: c.chunk, total: c.subtotal, payouts: [] } },
            ev.budget(G, registry.toString(), 'PAID', c.subtotal),
          );
        };
        steps.forEach((step, period) => {
          const expected = referenceAvailable(log.log, G);
          assert.equal(budgetLeft(log.state.groups.get(G)!), expected);
          close(log, G, period);
          assert.equal(of<RewardsDecidedEvent>(log, 'RewardsDecided').find((d) => d.rewardPeriod === period)!.inputs.budget, expected.toString());
          waiting.push(...of<RewardsComputedEvent>(log, 'RewardsComputed').filter((c) => c.rewardPeriod === period));
          if (step.refuse && waiting.length > 0) {
            const c = waiting.shift()!;
            log.given({
              type: 'RewardsCreditRefused',
              data: { group: G, rewardPeriod: c.rewardPeriod, chunk: c.chunk, subtotal: c.subtotal, budget: registry.toString(), reason: 'test' },
            });
          }
          for (let i = 0; i < step.settle && waiting.length > 0; i++) answer();
          if (step.raise > 0n) {
            registry += step.raise;
            log.given(ev.budget(G, registry.toString(), 'RAISED', step.raise.toString()));
          }
        });
        while (waiting.length > 0) answer();
        assert.equal(budgetLeft(log.state.groups.get(G)!), referenceAvailable(log.log, G));
      },
    ),
    { numRuns: 200 },
  );
});
