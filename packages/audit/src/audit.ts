import { CONSENSUS_STATE_VERSION } from '@ewx/consensus';
import { DISTANCE_STATE_VERSION } from '@ewx/distance';
import { REGISTRY_STATE_VERSION } from '@ewx/registry';
import { REWARDS_STATE_VERSION } from '@ewx/rewards';
import { VOTING_STATE_VERSION } from '@ewx/voting';
import { auditService, newCrossIndex, type RunOptions, type ServiceAudit } from './runner.js';
import { crossCheck } from './cross.js';
import { consensusAudit } from './services/consensus.js';
import { distanceAudit } from './services/distance.js';
import { registryAudit } from './services/registry.js';
import { rewardsAudit } from './services/rewards.js';
import { votingAudit } from './services/voting.js';
import type { LogSource } from './source.js';
import { noPhases, type AuditReport, type Divergence, type Note, type ServiceName } from './types.js';
import { defaultSignatureThreads, SignatureChecks } from './verify.js';

export interface AuditOptions extends RunOptions {
  /** The oracle's maximum referee distance (DISTANCE_MAX_DISTANCE, default 5). */
  readonly maxDistance?: number;
  /**
   * false: command signatures (of commands and votes) are not checked — a REDUCED audit, said so
   * in the report (`reduced`). Default true. Validators' attestation signatures are always checked.
   */
  readonly signatures?: boolean;
  /** Worker threads checking command signatures ahead of the replay; default: one per core for a log of 5,000 events or more, none below. 0: in the main thread. */
  readonly signatureThreads?: number;
}

/** What `signatures: false` leaves out, as the report states it. */
export const SKIPPED_SIGNATURES = 'command and vote signatures NOT verified (--skip-signatures): nonces, rules and everything else checked';

const audits = (o: AuditOptions): Record<ServiceName, () => ServiceAudit<unknown>> => ({
  registry: () => ({ ...registryAudit(), stateVersion: REGISTRY_STATE_VERSION }) as ServiceAudit<unknown>,
  voting: () => ({ ...votingAudit(), stateVersion: VOTING_STATE_VERSION }) as ServiceAudit<unknown>,
  consensus: () => ({ ...consensusAudit(), stateVersion: CONSENSUS_STATE_VERSION }) as ServiceAudit<unknown>,
  rewards: () => ({ ...rewardsAudit(), stateVersion: REWARDS_STATE_VERSION }) as ServiceAudit<unknown>,
  distance: () => ({ ...distanceAudit({ maxDistance: o.maxDistance }), stateVersion: DISTANCE_STATE_VERSION }) as ServiceAudit<unknown>,
});

/**
 * The audit by replay: every service's log replayed with the service's own decider and checked
 * (see runner.ts and services/*), then the services checked against each other (cross.ts).
 * Reads only the source; divergences are facts of the log the rules contradict.
 */
export async function audit(source: LogSource, options: AuditOptions = {}): Promise<AuditReport> {
  const t0 = Date.now();
  const cross = newCrossIndex();
  const out = { divergences: [] as Divergence[], notes: [] as Note[] };
  const present = await source.services();
  for (const s of present) cross.present.add(s);
  const make = audits(options);
  const services = [];
  const phases = noPhases();
  const full = options.signatures !== false;
  let total = 0;
  if (full && options.signatureThreads === undefined) for (const s of present) total += await source.count(s);
  const checks = full ? new SignatureChecks(options.signatureThreads ?? defaultSignatureThreads(total)) : undefined;
  try {
    for (const s of present) services.push(await auditService(source, make[s](), cross, out, { ...options, checks, phases }));
  } finally {
    await checks?.close();
  }
  const c0 = performance.now();
  const crossCounts = crossCheck(cross, out);
  phases.cross = performance.now() - c0;
  if (checks) {
    // Checked in the main thread during the replay: counted as signature time, not replay.
    phases.replay -= checks.inlineMs;
    phases.signatures += checks.inlineMs;
    phases.signatureThreadsMs = checks.workerMs;
  }
  return {
    source: source.description,
    services,
    divergences: out.divergences,
    notes: out.notes,
    cross: crossCounts,
    events: services.reduce((a, s) => a + s.events, 0),
    ms: Date.now() - t0,
    reduced: full ? [] : [SKIPPED_SIGNATURES],
    phases,
    ...(checks ? { signatureChecks: { threads: checks.threads, ahead: checks.answered, inline: checks.inline } } : {}),
  };
}
