import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PeriodDecision, PeriodInputs } from './compute.js';
import { CHUNK_ROWS, decisionEvents } from './events.js';
import { addr } from './fixtures.js';

describe('decision events stay below the 512 KiB event limit', () => {
  test('worst case: full chunks of rows with 40-digit amounts and 10-digit counts', () => {
    const max = '9'.repeat(40);
    const n = CHUNK_ROWS * 2 + 1;
    const inputs: PeriodInputs = {
      group: 'g'.repeat(64),
      period: 4_000_000_000,
      firstBlock: 1,
      lastBlock: 2,
      budget: max,
      config: { subscriptionRewardPerBlock: max, votingRewardPerBlock: max, slaVotingThreshold: 100, operationStartBlock: 1, operationEndBlock: 0 },
      operators: Array.from({ length: n }, (_, i) => ({
        operator: addr(i),
        stake: max,
        eligibleRounds: 4_000_000_000,
        correctVotes: 4_000_000_000,
        inFinalPeriod: false,
      })),
    };
    const decision: PeriodDecision = {
      activeBlocks: 2,
      basePool: BigInt(max),
      activePool: BigInt(max),
      totalStake: BigInt(max),
      weightSum: BigInt(max),
      qualifying: n,
      due: BigInt(max),
      paid: BigInt(max),
      budgetExhausted: true,
      rewards: inputs.operators.map((o) => ({ operator: o.operator, base: BigInt(max), active: BigInt(max) })),
    };
    const events = decisionEvents(inputs, decision);
    assert.deepEqual(
      events.map((e) => e.type),
      [
        'RewardInputsRecorded',
        'RewardInputsRecorded',
        'RewardInputsRecorded',
        'RewardsDecided',
        'BudgetExhausted',
        'RewardsComputed',
        'RewardsComputed',
        'RewardsComputed',
      ],
    );
    for (const e of events) {
      const size = Buffer.byteLength(JSON.stringify(e.data));
      assert.ok(size < 512 * 1024, `${e.type}: ${size} bytes`);
    }
  });
});
