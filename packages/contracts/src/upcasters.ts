import type { OperatorUnsubscribedEvent, OperatorUnsubscribedEventV1, StakeReleasedEvent, StakeReleasedEventV1 } from './published.js';

/**
 * Upcasters: old shapes of an event type to its current one, applied by every decoder (a type's
 * name is unique across services, so one table serves every log that records it). Stored events
 * carry no schema version, so each upcaster recognises the old shape by its fields and returns the
 * current shape unchanged. Fixtures of each version are in fixtures/<service>/<Type>.v<N>.json.
 */
export const UPCASTERS: { readonly [type: string]: (data: unknown) => unknown } = {
  // v1 → v2: `period` is `unsubscribedInPeriod`.
  OperatorUnsubscribed: (data) => {
    const d = data as OperatorUnsubscribedEventV1 | OperatorUnsubscribedEvent;
    if (!('period' in d)) return d;
    return { group: d.group, operator: d.operator, unsubscribedInPeriod: d.period, finalPeriod: d.finalPeriod, height: d.height } satisfies OperatorUnsubscribedEvent;
  },
  // v1 → v2: `period` is `finalPeriod`.
  StakeReleased: (data) => {
    const d = data as StakeReleasedEventV1 | StakeReleasedEvent;
    if (!('period' in d)) return d;
    return { group: d.group, operator: d.operator, amount: d.amount, finalPeriod: d.period } satisfies StakeReleasedEvent;
  },
};
