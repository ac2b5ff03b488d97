/**
 * A worker thread of the audit (audit.ts): replays one service's log, read by this thread from
 * its own connection to the same source (a PostgreSQL database, or an export the main thread
 * checked against its manifest), and answers what the main thread's replay of it would have
 * added: the summary, the divergences and notes in order, and the facts for the cross checks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { serviceAudit, type AuditOptions } from './audit.js';
import { checkedFileSource } from './export.js';
import { auditService, newCrossIndex } from './runner.js';
import { postgresSource, type LogSource, type Reopen } from './source.js';
import { noPhases, type Divergence, type Note, type ServiceName } from './types.js';
import { SignatureChecks } from './verify.js';

export interface WorkerTask {
  readonly service: ServiceName;
  readonly reopen: Reopen;
  readonly present: ServiceName[];
  /** The options that can cross threads (no progress callback). */
  readonly options: Omit<AuditOptions, 'onProgress' | 'checks' | 'phases'>;
  /** Signature threads of this worker (under it); undefined: no command signature checked (a reduced audit). */
  readonly signatureThreads: number | undefined;
}

const open = (r: Reopen): LogSource => (r.kind === 'postgres' ? postgresSource(r.url, r.namespace) : checkedFileSource(r.file, r.manifest, r.ranges));

async function main(task: WorkerTask): Promise<void> {
  const source = open(task.reopen);
  const cross = newCrossIndex();
  for (const s of task.present) cross.present.add(s);
  const out = { divergences: [] as Divergence[], notes: [] as Note[] };
  const phases = noPhases();
  const checks = task.signatureThreads === undefined ? undefined : new SignatureChecks(task.signatureThreads);
  try {
    const summary = await auditService(source, serviceAudit(task.service, task.options), cross, out, {
      ...task.options,
      checks,
      phases,
      onProgress: (p) => parentPort!.postMessage({ progress: p }),
    });
    parentPort!.postMessage({
      result: {
        summary,
        out,
        // Published events and copies as one JSON text each (a string crosses threads as one copy; a clone of
        // tens of thousands of objects cost 3-5 times more), the facts (with bigints) as they are.
        published: JSON.stringify([...cross.published].map(([service, streams]) => [service, [...streams]])),
        copies: JSON.stringify(cross.copies, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
        facts: cross.facts,
        phases,
        checks: checks && { answered: checks.answered, inline: checks.inline, inlineMs: checks.inlineMs, workerMs: checks.workerMs },
      },
    });
  } finally {
    await checks?.close();
    await source.close();
  }
}

main(workerData as WorkerTask).catch((e: Error) => parentPort!.postMessage({ error: e.message, stack: e.stack }));
