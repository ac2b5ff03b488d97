import { solutionStatusOf, SolutionStatus } from '@ewx/client';
import type { Solution, Subscription } from '@ewx/proto/registry';
import type { Handler, HandlerRegistry } from './handlers.js';
import type { ServedOperator } from './network.js';

/**
 * The worker's status ladder: each rung says what is missing before it can vote, in the order an
 * operator fixes them.
 */
export type WorkerStatus = 'starting' | 'not_linked' | 'not_subscribed' | 'stake_not_active' | 'ready';
export const STATUSES: readonly WorkerStatus[] = ['starting', 'not_linked', 'not_subscribed', 'stake_not_active', 'ready'];

/** A solution the worker votes in. */
export interface Duty {
  readonly solution: Solution;
  readonly group: string;
  /** Undefined: no handler for its logic reference, the worker cannot vote in it. */
  readonly handler: Handler | undefined;
  /** With nominations on, the worker must be nominated to be in a round's snapshot. */
  readonly nominated: boolean;
}

export interface Assessment {
  readonly status: WorkerStatus;
  /** One line for the log and /readyz: what is the case and what to do. */
  readonly message: string;
  readonly operator?: string;
  /** Groups whose stake counts in the period: group → the period it counts from. */
  readonly activeGroups: ReadonlyMap<string, number>;
  readonly duties: readonly Duty[];
}

/** Still earning in `period`: not in (or past) the final withdrawal period (SPEC §3). */
const stillIn = (s: Subscription, period: number): boolean => !s.unsubscribing || BigInt(period) < s.finalPeriod;

export function assess(
  worker: string,
  operator: ServedOperator | undefined,
  period: number,
  solutionsByGroup: ReadonlyMap<string, readonly Solution[]>,
  handlers: HandlerRegistry,
): Assessment {
  const none = new Map<string, number>();
  if (!operator) {
    return {
      status: 'not_linked',
      message: `worker ${worker} is not connected to an operator: the operator links it with \`ewx operator connect-worker\` (signed by both)`,
      activeGroups: none,
      duties: [],
    };
  }
  const subs = operator.subscriptions.filter((s) => stillIn(s, period));
  if (subs.length === 0) {
    return {
      status: 'not_subscribed',
      message: `operator ${operator.address} of this worker is not subscribed to any solution group: it subscribes with \`ewx operator subscribe <group> <stake>\``,
      operator: operator.address,
      activeGroups: none,
      duties: [],
    };
  }
  const active = subs.filter((s) => BigInt(period) >= s.activeFromPeriod);
  if (active.length === 0) {
    const soonest = subs.reduce((a, b) => (a.activeFromPeriod <= b.activeFromPeriod ? a : b));
    return {
      status: 'stake_not_active',
      message: `stake of operator ${operator.address} in group ${soonest.group} counts from reward period ${soonest.activeFromPeriod} (now ${period}): the worker votes from then on`,
      operator: operator.address,
      activeGroups: none,
      duties: [],
    };
  }
  const activeGroups = new Map(active.map((s) => [s.group, Number(s.activeFromPeriod)]));
  const duties: Duty[] = [];
  for (const s of active) {
    for (const sol of solutionsByGroup.get(s.group) ?? []) {
      if (solutionStatusOf(sol) !== SolutionStatus.SOLUTION_STATUS_ACTIVE || !sol.config) continue;
      duties.push({
        solution: sol,
        group: s.group,
        handler: handlers.get(sol.config.logicRef),
        nominated: !sol.config.nominationsEnabled || sol.nominatedWorkers.includes(worker),
      });
    }
  }
  const voting = duties.filter((d) => d.handler && d.nominated).length;
  return {
    status: 'ready',
    message: `ready: operator ${operator.address}, stake active in ${[...activeGroups.keys()].join(', ')}; voting in ${voting} of ${duties.length} active solution(s)`,
    operator: operator.address,
    activeGroups,
    duties,
  };
}
