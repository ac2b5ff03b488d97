import { registryEvent, withdrawalStage } from '@ewx/contracts';
import type { EventData, Period } from '@ewx/platform/domain';
import type { Group, Subscription } from './state.js';

/**
 * SPEC §3 withdrawal timing, computed here and nowhere else: unsubscribing in reward period p with
 * withdrawal delay d makes p + d the final period (the operator votes and earns through p + d − 1;
 * its stake is released when p + d closes). The registry publishes it in OperatorUnsubscribed's
 * `finalPeriod`; every service, this one included, reads it with `withdrawalStage` (@ewx/contracts).
 */
export function unsubscribed(group: string, g: Group, operator: string, p: Period, height: number): EventData {
  return registryEvent({
    type: 'OperatorUnsubscribed',
    data: { group, operator, unsubscribedInPeriod: p.index, finalPeriod: p.index + g.config.withdrawalDelay, height },
  });
}

/** The subscription's final period has closed in reward period `now`: its stake is due for release. */
export const releaseDue = (sub: Subscription, now: Period): boolean => withdrawalStage(sub.finalPeriod, now.index) === 'RELEASABLE';
