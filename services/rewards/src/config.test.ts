import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readEnv } from '@ewx/platform';
import { periodSettingsFrom } from './index.js';

describe('configuration', () => {
  test('defaults: 100-block reward periods, closed 2 blocks after their last block', () => {
    assert.deepEqual(periodSettingsFrom(readEnv({})), { periodBlocks: 100, settlementDelay: 2 });
  });

  test('REWARD_PERIOD_BLOCKS and REWARDS_SETTLEMENT_DELAY are read, and a bad value names the variable', () => {
    assert.deepEqual(periodSettingsFrom(readEnv({ REWARD_PERIOD_BLOCKS: '7200', REWARDS_SETTLEMENT_DELAY: '0' })), { periodBlocks: 7200, settlementDelay: 0 });
    assert.throws(() => periodSettingsFrom(readEnv({ REWARD_PERIOD_BLOCKS: '0' })), /REWARD_PERIOD_BLOCKS/);
    assert.throws(() => periodSettingsFrom(readEnv({ REWARDS_SETTLEMENT_DELAY: 'soon' })), /REWARDS_SETTLEMENT_DELAY/);
  });
});
