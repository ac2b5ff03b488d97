import type { LogSource } from '@ewx/audit';

/**
 * The audit view: `ewx audit`'s replay of the logs, summarised, and an operator's bundle for one
 * reward period. The logs are not readable over gRPC, so the gateway needs a log source of its
 * own: PostgreSQL (AUDIT_DATABASE_URL, a read-only role will do), the folder of a stopped
 * embedded system (AUDIT_DATA_DIR), or, in `npm start`'s process, the running services' stores
 * (`auditSourceOver`). @ewx/audit is loaded only then: it carries every service's deciders.
 */
export type AuditSource = () => Promise<LogSource>;

export function auditSourceFromEnv(env: NodeJS.ProcessEnv): AuditSource | undefined {
  const name = '@ewx/audit';
  if (env.AUDIT_DATABASE_URL) {
    const url = env.AUDIT_DATABASE_URL;
    return async () => ((await import(name)) as typeof import('@ewx/audit')).postgresSource(url, env.EWX_NAMESPACE ?? '');
  }
  if (env.AUDIT_DATA_DIR) {
    const dir = env.AUDIT_DATA_DIR;
    return async () => ((await import(name)) as typeof import('@ewx/audit')).embeddedSource(dir, env.EWX_NAMESPACE ?? '');
  }
  return undefined;
}

/** One service's log as the embedded system offers it to read: `readAll` of the store port (positions in their serialised form). */
export interface LogReader {
  readAll(
    after: string,
    limit: number,
  ): Promise<
    readonly {
      readonly streamId: string;
      readonly version: number;
      readonly position: string;
      readonly type: string;
      readonly data: unknown;
      readonly metadata?: unknown;
    }[]
  >;
}

/**
 * The audit's log source over the stores of the services running in this process (the embedded
 * mode, where the dashboard shares the services' process and its one PGlite database): read-only
 * (only `readAll`), closing it closes nothing. Each log is read to its end at the time of the read,
 * one after the other in the audit's order, while the services go on appending.
 */
export function auditSourceOver(logs: ReadonlyMap<string, LogReader>, description: string): AuditSource {
  return async () => {
    const { SERVICES, DEFAULT_BATCH } = (await import('@ewx/audit' as string)) as typeof import('@ewx/audit');
    type Name = (typeof SERVICES)[number];
    const present = SERVICES.filter((s) => logs.has(s));
    const read = async function* (service: Name, batchSize = DEFAULT_BATCH): AsyncGenerator<import('@ewx/audit').LogEvent[]> {
      const log = logs.get(service);
      if (!log) return;
      let after = '';
      for (;;) {
        const batch = await log.readAll(after, batchSize);
        if (batch.length === 0) return;
        after = batch[batch.length - 1]!.position;
        // PGlite positions have one component: the serialised form is the number (the audit's bigint).
        yield batch.map((e) => ({
          service,
          position: BigInt(e.position),
          streamId: e.streamId,
          version: e.version,
          type: e.type,
          data: e.data as never,
          ...(e.metadata === null || e.metadata === undefined ? {} : { metadata: e.metadata as never }),
        }));
        if (batch.length < batchSize) return;
      }
    };
    return {
      description,
      services: async () => present,
      async count(service) {
        let n = 0;
        for await (const b of read(service)) n += b.length;
        return n;
      },
      read,
      close: async () => undefined,
    };
  };
}

export const NO_AUDIT =
  "the audit is not configured on this gateway: it reads the logs itself (AUDIT_DATABASE_URL, or AUDIT_DATA_DIR of a stopped embedded system; the dashboard of `npm start` reads the running system's logs); the services offer no log read over gRPC";

/** The latest audit, run again only when asked after the logs moved (`key` is the services' log positions). */
export function auditor(open: AuditSource) {
  let last: { key: string; summary: unknown } | undefined;
  let running: Promise<unknown> | undefined;
  const run = async (key: string): Promise<unknown> => {
    const { audit } = (await import('@ewx/audit' as string)) as typeof import('@ewx/audit');
    const source = await open();
    try {
      const r = await audit(source);
      const summary = {
        source: r.source,
        events: r.events,
        ms: r.ms,
        at: new Date().toISOString(),
        services: r.services.map((s) => ({
          service: s.service,
          events: s.events,
          checks: Object.values(s.checks).reduce((a, b) => a + b, 0),
          divergences: s.divergences,
          lastPosition: String(s.lastPosition),
        })),
        divergences: r.divergences.length,
        notes: r.notes.length,
        cross: r.cross,
        firstDivergences: r.divergences
          .slice(0, 20)
          .map((d) => ({ service: d.service, position: d.position === undefined ? null : String(d.position), check: d.check, message: d.message })),
      };
      last = { key, summary };
      return summary;
    } finally {
      await source.close();
    }
  };
  return {
    async latest(key: string): Promise<unknown> {
      if (last?.key === key) return last.summary;
      running ??= run(key).finally(() => {
        running = undefined;
      });
      return running;
    },
    async bundle(operator: string, period: number, group: string | undefined): Promise<unknown> {
      const { makeBundle } = (await import('@ewx/audit' as string)) as typeof import('@ewx/audit');
      const source = await open();
      try {
        return await makeBundle(source, operator, period, group);
      } finally {
        await source.close();
      }
    },
  };
}
