import {
  alreadyExists,
  denied,
  invalid,
  nameField,
  notFound,
  oneOfField,
  precondition,
  shown,
  type EventData,
  type SolutionConfig,
} from '@ewx/platform/domain';
import type { CommandOf } from './commands.js';
import { registryEvent } from '@ewx/contracts';
import { ownedGroup, requireRegistrar } from './groups.js';
import { requireAddress } from './ledger.js';
import { requirePeriod, solutionStatusAt, type RegistryState, type Solution } from './state.js';
import { BOUNDS, intField, logicRefField, MAX_HEIGHT, namespaceField, percent, textField } from './validate.js';

const START_METHODS = ['REGISTRAR', 'WORKER'] as const;
const POLICIES = ['NONE', 'RETRY_ONCE'] as const;

const oneOf = oneOfField;

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
  const g = ownedGroup(s, c.config.group, c.signer, 'RegisterSolution', 'config.group');
  const period = requirePeriod(s, 'RegisterSolution');
  const config = validateSolutionConfig(c.config, s.height, period.length);
  if (g.status !== 'ACTIVE') throw precondition(`config.group: solution group ${c.config.group} is ${g.status}`);
  if (s.solutions.has(config.namespace)) throw alreadyExists(`config.namespace: solution ${config.namespace}`);
  return [registryEvent({ type: 'SolutionRegistered', data: { solution: config.namespace, owner: c.signer, config, height: s.height } })];
}

/** The solution, owned by the signer; as for groups, the registrar role is checked first. */
function ownedSolution(s: RegistryState, solution: string, signer: string, action: string): Solution {
  requireRegistrar(s, signer, action);
  const sol = s.solutions.get(nameField('solution', solution));
  if (!sol) throw notFound(`solution: solution ${shown(solution)}`);
  if (sol.owner !== signer) throw denied(`auth.signer: only the solution's registrar ${sol.owner} may ${action}`);
  return sol;
}

/** Lifecycle: ACTIVE ⇄ PAUSED, either → ENDED (final). Expired solutions may still be ended. */
export function changeSolutionStatus(c: CommandOf<'PauseSolution' | 'ActivateSolution' | 'EndSolution'>, s: RegistryState): EventData[] {
  const sol = ownedSolution(s, c.solution, c.signer, c.type);
  const now = solutionStatusAt(sol, s.height);
  const to = c.type === 'PauseSolution' ? 'PAUSED' : c.type === 'ActivateSolution' ? 'ACTIVE' : 'ENDED';
  const allowedFrom: Record<typeof to, readonly string[]> = { PAUSED: ['ACTIVE'], ACTIVE: ['PAUSED'], ENDED: ['ACTIVE', 'PAUSED', 'EXPIRED'] };
  if (!allowedFrom[to].includes(now))
    throw precondition(`solution: solution ${c.solution} is ${now}; ${to} is reachable from ${allowedFrom[to].join(' or ')} only`);
  if (to === 'ACTIVE' && s.groups.get(sol.config.group)?.status !== 'ACTIVE')
    throw precondition(`solution: the group ${sol.config.group} of solution ${c.solution} is not ACTIVE`);
  return [registryEvent({ type: 'SolutionStatusChanged', data: { solution: c.solution, status: to } })];
}

export function nomination(c: CommandOf<'NominateWorker' | 'UnnominateWorker'>, s: RegistryState): EventData[] {
  const sol = ownedSolution(s, c.solution, c.signer, c.type);
  const worker = requireAddress('worker', c.worker);
  if (!sol.config.nominationsEnabled) throw precondition(`solution: nominations are off for solution ${c.solution}`);
  if (sol.status === 'ENDED') throw precondition(`solution: solution ${c.solution} is ENDED`);
  if (c.type === 'NominateWorker') {
    if (sol.nominated.has(worker)) throw alreadyExists(`worker: nomination of ${worker} in solution ${c.solution}`);
    return [registryEvent({ type: 'WorkerNominated', data: { solution: c.solution, worker } })];
  }
  if (!sol.nominated.has(worker)) throw notFound(`worker: nomination of ${worker} in solution ${c.solution}`);
  return [registryEvent({ type: 'WorkerUnnominated', data: { solution: c.solution, worker } })];
}
