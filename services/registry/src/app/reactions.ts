import { traceCauses, type Logger, type Runtime } from '@ewx/platform';
import { decide, streamOf, type RegistryCommand, type RegistryPolicy, type RegistryState } from '../domain/decider.js';
import { groupsWithDueWork } from '../domain/payouts.js';

/** Events after which the registry may owe a reaction. */
const TRIGGERS = new Set(['BlockProduced', 'RewardsComputed', 'EvaluationSettled', 'RewardsClaimed', 'RewardPeriodScheduleChanged', 'StakeReleased']);

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
  let running: Promise<void> = Promise.resolve();
  let queued = false;
  let stopped = false;
  // Telemetry only: a credit continues the trace of the RewardsComputed chunk it applies.
  const causes = traceCauses();
  const work = async (): Promise<void> => {
    for (const c of dueCommands(runtime.state())) {
      if (stopped) return;
      const exec = () => runtime.execute(streamOf(c, runtime.state()), (s) => decide(c, s, policy));
      await (c.type === 'ApplyCredit' ? causes.follow(c.key, exec) : exec())
        .catch((e: Error) => log.warn('registry reaction failed; retried on the next block', { command: c.type, error: e.message }));
    }
  };
  const kick = (): void => {
    if (queued || stopped) return;
    queued = true;
    running = running.then(async () => { queued = false; await work(); });
  };
  const off = runtime.onEvent((e) => {
    if (e.type === 'RewardsComputed') { const d = e.data as { group: string; period: number; chunk: number }; causes.note(`${d.group}|${d.period}|${d.chunk}`); }
    if (TRIGGERS.has(e.type)) kick();
  });
  kick();
  return { async stop() { stopped = true; off(); await running; } };
}
