import { distanceEvent } from '@ewx/contracts';
import { ConfigError, type EventData, type ServiceDecider } from '@ewx/platform/domain';
import type { DistanceParams } from './params.js';
import { decideRequest, type RequestCommand } from './requests.js';
import { decidePublish, type PublishResult } from './results.js';
import { decideSettle, dueForSettlement } from './settlement.js';
import { evolve, initialState, type DistanceState } from './state.js';
import { decideWot, type WotCommand } from './wot.js';

export type { DistanceState } from './state.js';

export type DistanceCommand =
  | WotCommand
  | RequestCommand
  | PublishResult
  /** The reaction to blocks: settle the next period that is due, if any. */
  | { readonly type: 'SettleDuePeriod' }
  /** At start-up: records the period length once, refuses a different one later. */
  | { readonly type: 'Configure' };

/** decide(command, state) → events: the distance rules, pure. */
export function decide(c: DistanceCommand, s: DistanceState, p: DistanceParams): EventData[] {
  switch (c.type) {
    case 'AddIdentity':
    case 'SetMembership':
    case 'AddCertification':
    case 'RemoveCertification':
    case 'ImportWot':
      return decideWot(c, s, p.wotAdmin);
    case 'RequestEvaluation':
    case 'ConfirmHold':
    case 'FailHold':
      return decideRequest(c, s, p);
    case 'PublishResult':
      return decidePublish(c, s, p);
    case 'SettleDuePeriod':
      return decideSettle(s, p);
    case 'Configure':
      if (s.periodBlocks === undefined) return [distanceEvent({ type: 'DistanceConfigured', data: { periodBlocks: p.periodBlocks } })];
      if (s.periodBlocks !== p.periodBlocks) {
        throw new ConfigError(
          'DISTANCE_PERIOD_BLOCKS',
          `${s.periodBlocks} (the length recorded in this log; periods cannot be renumbered)`,
          String(p.periodBlocks),
        );
      }
      return [];
    default: {
      const never: never = c;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
}

/** The web of trust's stream, one per request (by identity), one per evaluation period's pool, and the configuration's. */
export const WOT_STREAM = 'wot';
export const requestStream = (identity: number): string => `request:${identity}`;
export const poolStream = (period: number): string => `pool:${period}`;
export const CONFIG_STREAM = 'config';

export function streamOf(c: DistanceCommand, s: DistanceState): string {
  switch (c.type) {
    case 'AddIdentity':
    case 'SetMembership':
    case 'AddCertification':
    case 'RemoveCertification':
    case 'ImportWot':
      return WOT_STREAM;
    case 'RequestEvaluation':
      return requestStream(c.identity);
    case 'ConfirmHold':
    case 'FailHold':
      return requestStream(s.requests.get(c.holdId)?.identity ?? -1);
    case 'PublishResult':
      return poolStream(c.period);
    case 'SettleDuePeriod':
      return poolStream(dueForSettlement(s) ?? s.settledThrough + 1);
    case 'Configure':
      return CONFIG_STREAM;
    default: {
      const never: never = c;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
}

export const distanceDecider: ServiceDecider<DistanceState, DistanceCommand, DistanceParams> = { initialState, evolve, decide, streamOf };
