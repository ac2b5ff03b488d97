import type { RegistryCommand } from '../domain/decider.js';

/**
 * The registry's commands whose decision reads the current height or reward period (the group's
 * subscription window, a stake's first active period, an unsubscription's final period — hence
 * its withdrawal timing —, a solution's status and validity, the height recorded with a
 * connection). Before one is decided, the blocks consensus's timer counted are recorded and
 * awaited in the registry's log (`heightSync`, @ewx/platform), so it reads the wall-clock height,
 * not one up to BLOCK_RUN_MAX − 1 blocks behind (docs/SCALING.md, "The clock").
 */
export const READS_HEIGHT: ReadonlySet<RegistryCommand['type']> = new Set<RegistryCommand['type']>([
  'RegisterGroup',
  'DeregisterGroup',
  'RegisterSolution',
  'PauseSolution',
  'ActivateSolution',
  'EndSolution',
  'Subscribe',
  'TopUpStake',
  'Unsubscribe',
  'ConnectWorker',
  'DisconnectWorker',
]);
