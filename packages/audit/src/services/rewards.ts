import { decodeRewardsLog } from '@ewx/contracts';
import { rewardsDecider } from '@ewx/rewards/domain/decider';
import { closingInputs, decide } from '@ewx/rewards/domain/decide';
import { computePeriodRewards } from '@ewx/rewards/domain/compute';
import { decisionEvents } from '@ewx/rewards/domain/events';
import type { RewardsState } from '@ewx/rewards/domain/state';
import { fact, metaOf, type ServiceAudit } from '../runner.js';

export interface ComputedFact {
  position: bigint;
  payouts: string;
}

/**
 * Rewards: each period decision recomputed from rewards' own state before it (stakes, vote
 * metadata, rates, budget: the inputs) with the service's rule, so the recorded inputs, outcome
 * and payouts must match byte for byte; period starts and the calendar re-decided. Vote metadata
 * recorded after its period closed is noted (recorded, not paid).
 */
export function rewardsAudit(): ServiceAudit<RewardsState> {
  return {
    service: 'rewards',
    decider: rewardsDecider,
    own(e, s, ctx) {
      const m = metaOf(e);
      const ev = decodeRewardsLog(e);
      switch (ev?.type) {
        case 'RewardInputsRecorded': {
          const d = ev.data;
          ctx.count('decision');
          if (d.chunk !== 0) {
            ctx.diverge('decision', `input chunk ${d.chunk} of group ${d.group} period ${d.rewardPeriod} starts a decision (chunk 0 must come first)`);
            return;
          }
          // The settlement delay is configuration; the rule here is only that the period has ended.
          const inputs = closingInputs(s, d.group, d.rewardPeriod, 0);
          if (!inputs) {
            ctx.diverge('decision', `group ${d.group} period ${d.rewardPeriod} is already closed (or the group removed): a second decision`);
            return;
          }
          ctx.expect('decision', decisionEvents(inputs, computePeriodRewards(inputs)));
          return;
        }
        case 'RewardPeriodStarted':
          ctx.count('period-start');
          ctx.expect('period-start', decide({ type: 'MarkPeriodsStarted' }, s));
          return;
        case 'RewardPeriodScheduleChanged': {
          ctx.count('calendar');
          const d = ev.data;
          ctx.expect(
            'calendar',
            m.signer === undefined
              ? decide({ type: 'StartCalendar', length: d.length }, s)
              : decide({ type: 'SetRewardPeriodLength', signer: m.signer, admin: m.signer, length: d.length }, s),
          );
          return;
        }
        default:
          ctx.diverge('rules', `${e.type} without the decision it belongs to`);
      }
    },
    after(e, s, ctx) {
      const inbox = e.streamId.startsWith('inbox:');
      const ev = decodeRewardsLog(e);
      if (!inbox && ev?.type === 'RewardsComputed') {
        const d = ev.data;
        fact(ctx.cross, 'rewards.computed', () => new Map<string, ComputedFact>()).set(`${d.group}|${d.rewardPeriod}|${d.chunk}`, {
          position: e.position,
          payouts: JSON.stringify(d.payouts.filter((p) => p.amount !== '0').map((p) => ({ operator: p.operator, amount: p.amount }))),
        });
      }
      if (inbox && ev?.type === 'VoteMetadata') {
        const d = ev.data;
        fact(ctx.cross, 'rewards.metadata', () => new Map<string, bigint[]>()).set(`${d.solution}|${d.roundId}|${d.chunk}`, [
          ...(fact(ctx.cross, 'rewards.metadata', () => new Map<string, bigint[]>()).get(`${d.solution}|${d.roundId}|${d.chunk}`) ?? []),
          e.position,
        ]);
        const g = s.groups.get(d.group);
        if (g && d.rewardPeriod <= g.lastClosed && d.chunk === 0)
          ctx.note(
            'late-metadata',
            `round ${d.roundId} of ${d.solution} (group ${d.group}, period ${d.rewardPeriod}) settled after its period closed: recorded, not paid`,
          );
      }
    },
  };
}
