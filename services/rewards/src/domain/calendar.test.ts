import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { periodAt, type RewardPeriodStartedEvent, type RewardPeriodScheduleChangedEvent } from '@ewx/platform';
import { addr, ev } from './fixtures.js';
import { close, given, of } from './spec-support.js';

const ADMIN = addr(42);

describe('reward period calendar', () => {
  test('given an empty log, when the calendar starts, then period 0 begins at block 1 with the configured length; a second start adds nothing', () => {
    const log = given();
    log.when({ type: 'StartCalendar', length: 100 }).then({ type: 'RewardPeriodScheduleChanged', data: { fromPeriod: 0, firstBlock: 1, length: 100 } });
    log.when({ type: 'StartCalendar', length: 7 }).thenNothingChanged();
    assert.deepEqual(periodAt(log.state.schedule, 250), { index: 2, firstBlock: 201, lastBlock: 300, length: 100 });
  });

  test('given height 150 in period 1 (101..200), when the admin sets length 50, then it applies from period 2 at block 201', () => {
    const log = given(ev.schedule(100), ev.block(150));
    const out = log.run({ type: 'SetRewardPeriodLength', signer: ADMIN, admin: ADMIN, length: 50 });
    assert.deepEqual(out[0]!.data as unknown as RewardPeriodScheduleChangedEvent, { fromPeriod: 2, firstBlock: 201, length: 50 });
    assert.equal(periodAt(log.state.schedule, 200)!.length, 100);
    assert.deepEqual(periodAt(log.state.schedule, 251), { index: 3, firstBlock: 251, lastBlock: 300, length: 50 });
  });

  test('a second change in the same period replaces the first', () => {
    const log = given(ev.schedule(100), ev.block(150));
    log.run({ type: 'SetRewardPeriodLength', signer: ADMIN, admin: ADMIN, length: 50 });
    log.run({ type: 'SetRewardPeriodLength', signer: ADMIN, admin: ADMIN, length: 20 });
    assert.deepEqual(log.state.schedule, [
      { fromPeriod: 0, firstBlock: 1, length: 100 },
      { fromPeriod: 2, firstBlock: 201, length: 20 },
    ]);
  });

  test('only the admin may change the length, and only to 1..1000000 blocks; a refusal changes nothing', () => {
    const log = given(ev.schedule(100));
    log.when({ type: 'SetRewardPeriodLength', signer: addr(1), admin: ADMIN, length: 50 }).thenThrows('PERMISSION_DENIED');
    for (const length of [0, -1, 1.5, 1_000_001]) {
      log.when({ type: 'SetRewardPeriodLength', signer: ADMIN, admin: ADMIN, length }).thenThrows('INVALID_ARGUMENT', /^length: /);
    }
    assert.equal(log.state.schedule.length, 1);
  });

  test('when blocks cross into new periods, then each period start is recorded once, with its bounds', () => {
    const log = given(ev.schedule(10), ev.block(1));
    log.run({ type: 'MarkPeriodsStarted' });
    log.given(ev.block(35));
    log.run({ type: 'MarkPeriodsStarted' });
    log.when({ type: 'MarkPeriodsStarted' }).thenNothingChanged();
    assert.deepEqual(of<RewardPeriodStartedEvent>(log, 'RewardPeriodStarted'), [
      { index: 0, firstBlock: 1, lastBlock: 10 },
      { index: 1, firstBlock: 11, lastBlock: 20 },
      { index: 2, firstBlock: 21, lastBlock: 30 },
      { index: 3, firstBlock: 31, lastBlock: 40 },
    ]);
  });

  test('a period whose length changed closes at its own last block', () => {
    const G = 'g';
    const log = given(ev.schedule(10), ev.group(G, { subscriptionRewardPerBlock: '1' }, '1000'), ev.subscribed(G, addr(1), '5', 0), ev.block(5));
    log.run({ type: 'SetRewardPeriodLength', signer: ADMIN, admin: ADMIN, length: 4 });
    log.given(ev.block(14));
    close(log, G, 0);
    close(log, G, 1);
    const decided = of<{ rewardPeriod: number; inputs: { firstBlock: number; lastBlock: number }; outcome: { paid: string } }>(log, 'RewardsDecided');
    assert.deepEqual(
      decided.map((d) => [d.rewardPeriod, d.inputs.firstBlock, d.inputs.lastBlock, d.outcome.paid]),
      [
        [0, 1, 10, '10'],
        [1, 11, 14, '4'],
      ],
    );
  });
});
