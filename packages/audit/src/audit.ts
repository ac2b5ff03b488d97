import { CONSENSUS_STATE_VERSION } from '@ewx/consensus';
import { DISTANCE_STATE_VERSION } from '@ewx/distance';
import { REGISTRY_STATE_VERSION } from '@ewx/registry';
import { REWARDS_STATE_VERSION } from '@ewx/rewards';
import { VOTING_STATE_VERSION } from '@ewx/voting';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  auditService,
  newCrossIndex,
  publish,
  type CheckedCopies,
  type Copy,
  type CrossIndex,
  type Published,
  type RunOptions,
  type ServiceAudit,
} from './runner.js';
import { crossCheck } from './cross.js';
import { consensusAudit } from './services/consensus.js';
import { distanceAudit } from './services/distance.js';
import { registryAudit } from './services/registry.js';
import { rewardsAudit } from './services/rewards.js';
import { votingAudit } from './services/voting.js';
import type { LogSource } from './source.js';
import { noPhases, type AuditReport, type Divergence, type Note, type Phases, type ServiceName, type ServiceSummary } from './types.js';
import type { WorkerTask } from './service-worker.js';
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
  /**
   * true: replay the largest log in a worker thread, beside the others in this one (its own
   * connection to the source; only for sources that can be opened again: PostgreSQL, an export;
   * and with more than one core). Off by default: starting the thread (~1 s) and handing back
   * its cross-check facts cost more than it saved on the shared 2-core machine it was measured
   * on (docs/AUDIT.md). The report is the same either way.
   */
  readonly parallel?: boolean;
  /**
   * false: every copy of another log's event is kept and compared at the cross check, as before
   * copies were compared as they are read (the same report; the tests compare both). Default true.
   */
  readonly copiesAsRead?: boolean;
}

/** What `signatures: false` leaves out, as the report states it. */
export const SKIPPED_SIGNATURES = 'command and vote signatures NOT verified (--skip-signatures): nonces, rules and everything else checked';

/** The audit hooks of one service (also built in worker threads: service-worker.ts). */
export const serviceAudit = (service: ServiceName, o: Pick<AuditOptions, 'maxDistance'>): ServiceAudit<unknown> => audits(o)[service]();

const audits = (o: Pick<AuditOptions, 'maxDistance'>): Record<ServiceName, () => ServiceAudit<unknown>> => ({
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
  const services: ServiceSummary[] = [];
  const phases = noPhases();
  const full = options.signatures !== false;
  const counts = new Map<ServiceName, number>();
  for (const s of present) counts.set(s, await source.count(s));
  const total = [...counts.values()].reduce((a, n) => a + n, 0);
  const threads = options.signatureThreads ?? defaultSignatureThreads(total);
  const checks = full ? new SignatureChecks(threads) : undefined;
  // The largest log in a worker thread, the others here; each service's findings kept apart, then merged in log order.
  const parallel = source.reopen !== undefined && present.length > 1 && availableParallelism() > 1 && options.parallel === true;
  const largest = parallel ? present.reduce((a, s) => (counts.get(s)! > counts.get(a)! ? s : a)) : undefined;
  const parts = new Map<ServiceName, Part>();
  const partitionParts: Part[] = [];
  const settleLater: (() => Promise<void>)[] = [];
  let inWorker: { done: Promise<Part>; stop(): void } | undefined;
  try {
    if (largest !== undefined) {
      const { onProgress: _p, checks: _c, phases: _ph, ...portable } = options as AuditOptions & RunOptions;
      inWorker = replayInWorker(
        { service: largest, reopen: source.reopen!, present, options: portable, signatureThreads: full ? threads : undefined },
        options.onProgress,
      );
      inWorker.done.catch(() => undefined);
    }
    // The logs replayed here share one index of published events: a copy whose source log is
    // replayed already is compared as it is read (recordCopy), the others at the cross check.
    const replayed = new Set<ServiceName>();
    // A partitioned voting's events are in its partition logs, replayed after the others: copies of
    // them are compared at the cross check, not as read.
    const votingPartitions = (await source.partitions?.('voting')) ?? [];
    for (const s of present) {
      if (s === largest) continue;
      const own: CrossIndex = {
        published: cross.published,
        copies: [],
        facts: new Map(),
        present: cross.present,
        ...(options.copiesAsRead === false ? {} : { replayed }),
      };
      const part: Part = { cross: own, out: { divergences: [], notes: [] } };
      part.summary = await auditService(source, make[s](), own, part.out, { ...options, checks, phases, settleLater });
      if (!(s === 'voting' && votingPartitions.length > 0)) replayed.add(s);
      parts.set(s, part);
    }
    // A partitioned voting (VOTING_PARTITIONS > 1): each partition log audited as a voting log of its own.
    for (const { partition, source: view } of votingPartitions) {
      const own = newCrossIndex();
      for (const p of present) own.present.add(p);
      const part: Part = { cross: own, out: { divergences: [], notes: [] } };
      part.summary = await auditService(view, make.voting(), own, part.out, { ...options, checks, phases, settleLater });
      part.summary.partition = partition;
      partitionParts.push(part);
    }
    // The signature verdicts not in yet, taken now (the worker threads went on verifying during the later logs' replay).
    const s0 = performance.now();
    for (const settle of settleLater) await settle();
    phases.signatures += performance.now() - s0;
    if (inWorker) parts.set(largest!, await inWorker.done);
  } finally {
    inWorker?.stop();
    await checks?.close();
  }
  for (const part of [...present.map((s) => parts.get(s)!), ...partitionParts]) {
    services.push(part.summary!);
    out.divergences.push(...part.out.divergences);
    out.notes.push(...part.out.notes);
    if (part.cross.published !== cross.published)
      for (const [service, streams] of part.cross.published)
        for (const [stream, versions] of streams)
          versions.forEach((v, version) => {
            if (v !== undefined) publish(cross.published, service, stream, version, v);
          });
    for (const c of part.cross.copies) cross.copies.push(c);
    // Facts of one name come from one service; the partition logs of a service add to the same maps.
    for (const [k, v] of part.cross.facts) {
      const had = cross.facts.get(k);
      if (had instanceof Map && v instanceof Map) for (const [a, b] of v) had.set(a, b);
      else cross.facts.set(k, v);
    }
    if (part.phases) for (const k of ['read', 'signatures', 'replay'] as const) phases[k] += part.phases[k];
    if (checks && part.checks) {
      checks.answered += part.checks.answered;
      checks.inline += part.checks.inline;
      checks.inlineMs += part.checks.inlineMs;
      checks.workerMs += part.checks.workerMs;
    }
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
    ...(largest !== undefined ? { parallel: [largest] } : {}),
  };
}

/** One service's replay: its summary, findings and cross-check facts; from a worker thread, also its time and signature counts. */
interface Part {
  summary?: ServiceSummary;
  readonly cross: Pick<CrossIndex, 'published' | 'copies' | 'facts'>;
  readonly out: { divergences: Divergence[]; notes: Note[] };
  readonly phases?: Phases;
  readonly checks?: { answered: number; inline: number; inlineMs: number; workerMs: number };
}

/** What a worker thread answers (service-worker.ts): published events and copies as JSON texts. */
type FromWorker = Omit<Part, 'cross'> & { published: string; copies: string; facts: CrossIndex['facts'] };

function replayInWorker(task: WorkerTask, onProgress: AuditOptions['onProgress']): { done: Promise<Part>; stop(): void } {
  const w = new Worker(new URL('./service-worker.js', import.meta.url), { workerData: task });
  let settled = false;
  const done = new Promise<Part>((resolve, reject) => {
    w.on('message', (m: { progress?: Parameters<NonNullable<AuditOptions['onProgress']>>[0]; result?: FromWorker; error?: string; stack?: string }) => {
      if (m.progress) onProgress?.(m.progress);
      else if (m.result) {
        settled = true;
        const { published, copies, facts, ...rest } = m.result;
        const parsed = JSON.parse(copies) as ((Omit<Copy, 'position'> & { position: string }) | CheckedCopies)[];
        // Arrays of versions as JSON: a version with no published event is null there.
        const index = JSON.parse(published) as [string, [string, (Published | null)[]][]][];
        resolve({
          ...rest,
          cross: {
            published: new Map(index.map(([service, streams]) => [service, new Map(streams.map(([stream, v]) => [stream, v.map((x) => x ?? undefined)]))])),
            copies: parsed.map((c) => ('checked' in c ? c : { ...c, position: BigInt(c.position) })),
            facts,
          },
        });
      } else if (m.error !== undefined) {
        settled = true;
        const e = new Error(`auditing ${task.service} in a worker thread: ${m.error}`);
        if (m.stack) e.stack = m.stack;
        reject(e);
      }
    });
    w.on('error', (e) => {
      settled = true;
      reject(e);
    });
    w.on('exit', (code) => {
      if (!settled) reject(new Error(`the worker thread auditing ${task.service} stopped (exit code ${code})`));
    });
  });
  return {
    done,
    stop() {
      if (!settled) void w.terminate();
    },
  };
}
