import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Ewx } from '@ewx/client';
import { newestWithRounds } from './reads.js';

/** A rewards client answering ListOperatorRewards from a history (newest first, `limit` rows), counting the calls. */
function rewardsWith(periods: { period: number; closed: boolean; eligibleRounds: number }[]) {
  const limits: number[] = [];
  const newestFirst = [...periods].sort((a, b) => b.period - a.period);
  const ewx = {
    rewards: {
      listOperatorRewards: async (req: { limit: number }) => {
        limits.push(req.limit);
        return { rewards: newestFirst.slice(0, req.limit).map((p) => ({ ...p, rewardPeriod: p.period, correctVotes: 0 })) };
      },
    },
  } as unknown as Ewx;
  return { ewx, limits };
}

test('the newest closed period with rounds is found among the first few periods with one call', async () => {
  const { ewx, limits } = rewardsWith(Array.from({ length: 30 }, (_, i) => ({ period: i + 1, closed: true, eligibleRounds: i % 2 })));
  const last = await newestWithRounds(ewx, 'op', 'g');
  assert.equal(last?.rewardPeriod, 30);
  assert.deepEqual(limits, [4]);
});

test('when the newest periods had no rounds the whole history is asked for, and an older period found', async () => {
  const periods = Array.from({ length: 30 }, (_, i) => ({ period: i + 1, closed: true, eligibleRounds: i < 10 ? 1 : 0 }));
  const { ewx, limits } = rewardsWith(periods);
  const last = await newestWithRounds(ewx, 'op', 'g');
  assert.equal(last?.rewardPeriod, 10);
  assert.deepEqual(limits, [4, 500]);
});

test('a short history is not asked for twice, and nothing with rounds gives undefined', async () => {
  const { ewx, limits } = rewardsWith([
    { period: 1, closed: true, eligibleRounds: 0 },
    { period: 2, closed: false, eligibleRounds: 3 },
  ]);
  assert.equal(await newestWithRounds(ewx, 'op', 'g'), undefined);
  assert.deepEqual(limits, [4]);
});
