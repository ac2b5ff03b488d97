import { alreadyExists, denied, invalid, notFound, precondition, quote, type EventData, type SolutionConfig } from '@ewx/platform';
import type { CommandOf } from './commands.js';
import { ev } from './events.js';
import { ownedGroup } from './groups.js';
import { requireAddress } from './ledger.js';
import { requirePeriod, solutionStatusAt, type RegistryState, type Solution } from './state.js';
import { BOUNDS, intField, logicRefField, MAX_HEIGHT, namespaceField, percent, textField } from './validate.js';

const START_METHODS = ['REGISTRAR', 'WORKER'] as const;
const POLICIES = ['NONE', 'RETRY_ONCE'] as const;

function oneOf<T extends string>(field: string, v: string, values: readonly T[]): T {
  if (!values.includes(v as T)) throw invalid(field, `expected one of ${values.join(', ')}, got ${quote(v)}`);
  return v as T;
}

export function validateSolutionConfig(c: SolutionConfig, height: number, periodLength: number): SolutionConfig {
  const expirationBlock = intField('config.expiration_block', c.expirationBlock, 0, MAX_HEIGHT);
  if (expirationBlock <= height) throw invalid('config.expiration_block', `must lie after the current height ${height}, got ${expirationBlock}`);
  return {
    namespace: namespaceField('config.namespace', c.namespace),
    group: c.group,
    name: textField('config.name', c.name, 1, BOUNDS.nameChars),
    description: textField('config.description', c.description, 0, BOUNDS.infoChars),
    logicRef: logicRefField(c.logicRef),
    expirationBlock,
    maxWaitingThreshold: intField('config.max_waiting_threshold', c.maxWaitingThreshold, 1, periodLength),
    voteThresholdPercent: percent('config.vote_threshold_percent', c.voteThresholdPercent),
    quorumPercent: percent('config.quorum_percent', c.quorumPercent),
    votingStartMethod: oneOf('config.voting_start_method', c.votingStartMethod, START_METHODS),
    nominationsEnabled: c.nominationsEnabled,
    unresolvedPolicy: oneOf('config.unresolved_policy', c.unresolvedPolicy, POLICIES),
  };
}

/** Only the group's registrar registers solutions, and only in an active group. */
export function registerSolution(c: CommandOf<'RegisterSolution'>, s: RegistryState): EventData[] {
  const g = ownedGroup(s, c.config.group, c.signer, 'RegisterSolution');
  const period = requirePeriod(s, 'RegisterSolution');
  const config = validateSolutionConfig(c.config, s.height, period.length);
  if (g.status !== 'ACTIVE') throw precondition(`RegisterSolution: solution group ${c.config.group} is ${g.status}`);
  if (s.solutions.has(config.namespace)) throw alreadyExists(`solution ${config.namespace}`);
  return [ev('SolutionRegistered', { solution: config.namespace, owner: c.signer, config, height: s.height })];
}

function ownedSolution(s: RegistryState, solution: string, signer: string, action: string): Solution {
  const sol = s.solutions.get(solution);
  if (!sol) throw notFound(`solution ${quote(solution)}`);
  if (sol.owner !== signer) throw denied(`${action}: only the solution's registrar ${sol.owner} may do this`);
  return sol;
}

/** Lifecycle: ACTIVE ⇄ PAUSED, either → ENDED (final). Expired solutions may still be ended. */
export function changeSolutionStatus(c: CommandOf<'PauseSolution' | 'ActivateSolution' | 'EndSolution'>, s: RegistryState): EventData[] {
  const sol = ownedSolution(s, c.solution, c.signer, c.type);
  const now = solutionStatusAt(sol, s.height);
  const to = c.type === 'PauseSolution' ? 'PAUSED' : c.type === 'ActivateSolution' ? 'ACTIVE' : 'ENDED';
  const allowedFrom: Record<typeof to, readonly string[]> = { PAUSED: ['ACTIVE'], ACTIVE: ['PAUSED'], ENDED: ['ACTIVE', 'PAUSED', 'EXPIRED'] };
  if (!allowedFrom[to].includes(now)) throw precondition(`${c.type}: solution ${c.solution} is ${now}; ${to} is reachable from ${allowedFrom[to].join(' or ')} only`);
  if (to === 'ACTIVE' && s.groups.get(sol.config.group)?.status !== 'ACTIVE') throw precondition(`ActivateSolution: solution group ${sol.config.group} is not ACTIVE`);
  return [ev('SolutionStatusChanged', { solution: c.solution, status: to })];
}

export function nomination(c: CommandOf<'NominateWorker' | 'UnnominateWorker'>, s: RegistryState): EventData[] {
  const sol = ownedSolution(s, c.solution, c.signer, c.type);
  const worker = requireAddress('worker', c.worker);
  if (!sol.config.nominationsEnabled) throw precondition(`${c.type}: nominations are off for solution ${c.solution}`);
  if (sol.status === 'ENDED') throw precondition(`${c.type}: solution ${c.solution} is ENDED`);
  if (c.type === 'NominateWorker') {
    if (sol.nominated.has(worker)) throw alreadyExists(`nomination of ${worker} in solution ${c.solution}`);
    return [ev('WorkerNominated', { solution: c.solution, worker })];
  }
  if (!sol.nominated.has(worker)) throw notFound(`nomination of ${worker} in solution ${c.solution}`);
  return [ev('WorkerUnnominated', { solution: c.solution, worker })];
}
