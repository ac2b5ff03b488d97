import { startProcessManager, type Logger, type Runtime } from '@ewx/platform';
import { decodeRegistryLog } from '@ewx/contracts';
import { registryDecider, type RegistryCommand, type RegistryPolicy, type RegistryState } from '../domain/decider.js';
import { groupsWithDueWork } from '../domain/payouts.js';

/** Events after which the registry may owe a reaction. */
const TRIGGERS = new Set([
  'BlockProduced',
  'BlocksProduced',
  'RewardsComputed',
  'EvaluationSettled',
  'RewardsClaimed',
  'RewardPeriodScheduleChanged',
  'StakeReleased',
]);

/** What the registry still owes to its inputs: credits, hold settlements, stake releases, removals. */
export function dueCommands(s: RegistryState): RegistryCommand[] {
  return [
    ...[...s.pendingCredits.keys()].map((key): RegistryCommand => ({ type: 'ApplyCredit', key })),
    ...[...s.pendingSettlements.keys()].map((holdId): RegistryCommand => ({ type: 'ApplySettlement', holdId })),
    ...groupsWithDueWork(s).map((group): RegistryCommand => ({ type: 'SettleGroup', group })),
  ];
}

/**
 * The registry's process manager. Its commands are idempotent (they decide nothing once done), so
 * it runs once at start-up (a crash between an input and its reaction loses nothing) and after
 * each triggering event; runs never overlap.
 */
export function startReactions(runtime: Runtime<RegistryState>, policy: RegistryPolicy, log: Logger): { stop(): Promise<void> } {
  return startProcessManager(runtime, {
    decider: registryDecider,
    policy,
    due: dueCommands,
    triggers: (e) => TRIGGERS.has(e.type),
    log,
    failure: 'registry reaction failed; retried on the next block',
    // Telemetry only: a credit continues the trace of the RewardsComputed chunk it applies.
    causeOf: (e) => {
      const ev = decodeRegistryLog(e);
      return ev?.type === 'RewardsComputed' ? `${ev.data.group}|${ev.data.rewardPeriod}|${ev.data.chunk}` : undefined;
    },
    causeKeyOf: (c) => (c.type === 'ApplyCredit' ? c.key : undefined),
  });
}
