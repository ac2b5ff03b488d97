import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, renameSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { finished } from 'node:stream/promises';
import type { LogSource } from './source.js';
import { DEFAULT_BATCH } from './source.js';
import { SERVICES, type LogEvent, type Progress, type ServiceName } from './types.js';

export const EXPORT_FORMAT = 'ewx-log-export/1';

/** The first line of an export: what it holds and the hash that binds it. */
export interface Manifest {
  readonly format: typeof EXPORT_FORMAT;
  readonly source: string;
  /** Wall-clock time of the export (informational). */
  readonly exportedAt: string;
  /** Per service: its events in the file and the last position read. */
  readonly services: Partial<Record<ServiceName, { readonly events: number; readonly lastPosition: string }>>;
  readonly lines: number;
  /** sha256 (hex) of every line after the manifest, each with its newline. */
  readonly sha256: string;
}

/** One event as a line: service first, so a reader can pick a service's lines without parsing the others. */
export const eventLine = (e: LogEvent): string => JSON.stringify({
  service: e.service, position: e.position.toString(), streamId: e.streamId, version: e.version, type: e.type, data: e.data,
  ...(e.metadata === undefined ? {} : { metadata: e.metadata }),
});

export function parseEventLine(line: string, where: string): LogEvent {
  let v: Record<string, unknown>;
  try { v = JSON.parse(line) as Record<string, unknown>; } catch (e) { throw new ExportError(`${where}: not JSON (${(e as Error).message})`); }
  const service = v.service as ServiceName;
  if (!SERVICES.includes(service) || typeof v.position !== 'string' || !/^\d+$/.test(v.position) || typeof v.streamId !== 'string'
    || !Number.isInteger(v.version) || typeof v.type !== 'string' || !('data' in v)) {
    throw new ExportError(`${where}: expected {service, position, streamId, version, type, data[, metadata]}`);
  }
  return { service, position: BigInt(v.position), streamId: v.streamId, version: v.version as number, type: v.type, data: v.data as never, ...(v.metadata === undefined ? {} : { metadata: v.metadata as never }) };
}

export class ExportError extends Error {
  constructor(message: string) { super(message); this.name = 'ExportError'; }
}

/**
 * Writes every log of `source` to `file` as JSON Lines: the manifest first, then each service's
 * events in position order (registry, voting, consensus, rewards, distance). Written to a temporary
 * file first, so `file` is complete or absent.
 */
export async function exportLogs(source: LogSource, file: string, opts: { onProgress?: (p: Progress) => void; exportedAt?: string } = {}): Promise<Manifest> {
  const body = `${file}.body.partial`;
  const out = createWriteStream(body);
  const hash = createHash('sha256');
  const services: Record<string, { events: number; lastPosition: string }> = {};
  let lines = 0;
  try {
    for (const s of await source.services()) {
      const total = await source.count(s);
      let n = 0;
      let last = '0';
      for await (const batch of source.read(s, DEFAULT_BATCH)) {
        let chunk = '';
        for (const e of batch) chunk += eventLine(e) + '\n';
        hash.update(chunk);
        if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
        n += batch.length;
        last = batch[batch.length - 1]!.position.toString();
        opts.onProgress?.({ service: s, phase: 'read', done: n, total });
      }
      services[s] = { events: n, lastPosition: last };
      lines += n;
    }
    out.end();
    await finished(out);
    const manifest: Manifest = {
      format: EXPORT_FORMAT, source: source.description, exportedAt: opts.exportedAt ?? new Date().toISOString(), services, lines, sha256: hash.digest('hex'),
    };
    const tmp = `${file}.partial`;
    const w = createWriteStream(tmp);
    w.write(JSON.stringify({ manifest }) + '\n');
    const r = createReadStream(body);
    r.pipe(w);
    await finished(w);
    renameSync(tmp, file);
    return manifest;
  } finally {
    if (existsSync(body)) rmSync(body);
  }
}

async function* lines(file: string): AsyncGenerator<string> {
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  try {
    for await (const line of rl) yield line;
  } finally {
    rl.close();
  }
}

/**
 * Checks an export against its manifest: the hash of its lines, the line count and each
 * service's count. Refuses (ExportError, naming what differs) an export altered after it was written.
 */
export async function verifyExport(file: string): Promise<Manifest> {
  if (!existsSync(file)) throw new ExportError(`${file}: no such file`);
  let manifest: Manifest | undefined;
  const hash = createHash('sha256');
  const counts: Record<string, number> = {};
  let n = 0;
  for await (const line of lines(file)) {
    if (manifest === undefined) {
      try { manifest = (JSON.parse(line) as { manifest: Manifest }).manifest; } catch { /* below */ }
      if (manifest?.format !== EXPORT_FORMAT) throw new ExportError(`${file}: the first line is not an ${EXPORT_FORMAT} manifest`);
      continue;
    }
    hash.update(line + '\n');
    n++;
    const m = /^\{"service":"([a-z]+)"/.exec(line);
    const s = m?.[1] ?? '?';
    counts[s] = (counts[s] ?? 0) + 1;
  }
  if (!manifest) throw new ExportError(`${file}: empty (no manifest)`);
  const problems: string[] = [];
  const digest = hash.digest('hex');
  if (digest !== manifest.sha256) problems.push(`sha256 of the lines is ${digest}, the manifest says ${manifest.sha256}`);
  if (n !== manifest.lines) problems.push(`${n} lines, the manifest says ${manifest.lines}`);
  for (const s of new Set([...Object.keys(counts), ...Object.keys(manifest.services)])) {
    const want = manifest.services[s as ServiceName]?.events ?? 0;
    if ((counts[s] ?? 0) !== want) problems.push(`${s}: ${counts[s] ?? 0} events, the manifest says ${want}`);
  }
  if (problems.length > 0) throw new ExportError(`${file} does not match its manifest (altered after export?): ${problems.join('; ')}`);
  return manifest;
}

/** An export as a log source, checked against its manifest first (`verifyExport`). */
export async function fileSource(file: string): Promise<LogSource> {
  const manifest = await verifyExport(file);
  const present = SERVICES.filter((s) => manifest.services[s] !== undefined);
  return {
    description: `export ${file} (of ${manifest.source}, ${manifest.exportedAt})`,
    services: async () => present,
    count: async (s) => manifest.services[s]?.events ?? 0,
    async *read(s, batchSize = DEFAULT_BATCH) {
      const prefix = `{"service":"${s}"`;
      let batch: LogEvent[] = [];
      let i = 0;
      for await (const line of lines(file)) {
        i++;
        if (i === 1 || !line.startsWith(prefix)) continue;
        batch.push(parseEventLine(line, `${file}:${i}`));
        if (batch.length >= batchSize) { yield batch; batch = []; }
      }
      if (batch.length > 0) yield batch;
    },
    close: async () => undefined,
  };
}
