import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, renameSync, rmSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { LogSource } from './source.js';
import { DEFAULT_BATCH } from './source.js';
import { SERVICES, type LogEvent, type Progress, type ServiceName } from './types.js';

export const EXPORT_FORMAT = 'ewx-log-export/1';
/**
 * An export that also holds partition logs (a partitioned voting, VOTING_PARTITIONS > 1): lines
 * with a `partition` field, counted in the manifest's `partitions`. An export with no partition
 * log is still written as `ewx-log-export/1`, byte for byte as before; a reader of /1 only refuses
 * a /2 export (its first line) rather than read it without its partition logs.
 */
export const EXPORT_FORMAT_PARTITIONED = 'ewx-log-export/2';
const FORMATS: readonly string[] = [EXPORT_FORMAT, EXPORT_FORMAT_PARTITIONED];

/** Events in the file and the last position read, of one log. */
export interface LogCount {
  readonly events: number;
  readonly lastPosition: string;
}

/** The first line of an export: what it holds and the hash that binds it. */
export interface Manifest {
  readonly format: typeof EXPORT_FORMAT | typeof EXPORT_FORMAT_PARTITIONED;
  readonly source: string;
  /** Wall-clock time of the export (informational). */
  readonly exportedAt: string;
  /** Per service: its events in the file and the last position read. */
  readonly services: Partial<Record<ServiceName, LogCount>>;
  /**
   * Per service split into partition logs (schemas `<service>_p<k>`), per partition number: its
   * events and last position (format /2 only). `services` counts the unsplit log's events only.
   */
  readonly partitions?: Partial<Record<ServiceName, Record<string, LogCount>>>;
  /** Every event line (partition logs' included). */
  readonly lines: number;
  /** sha256 (hex) of every line after the manifest, each with its newline. */
  readonly sha256: string;
}

/**
 * One event as a line: service first (then the partition, for a partition log's event), so a
 * reader can pick a log's lines by their start (`linePrefix`) without parsing the others.
 */
export const eventLine = (e: LogEvent, partition?: number): string =>
  JSON.stringify({
    service: e.service,
    ...(partition === undefined ? {} : { partition }),
    position: e.position.toString(),
    streamId: e.streamId,
    version: e.version,
    type: e.type,
    data: e.data,
    ...(e.metadata === undefined ? {} : { metadata: e.metadata }),
  });

export function parseEventLine(line: string, where: string): LogEvent {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(line) as Record<string, unknown>;
  } catch (e) {
    throw new ExportError(`${where}: not JSON (${(e as Error).message})`);
  }
  const service = v.service as ServiceName;
  if (
    !SERVICES.includes(service) ||
    typeof v.position !== 'string' ||
    !/^\d+$/.test(v.position) ||
    typeof v.streamId !== 'string' ||
    !Number.isInteger(v.version) ||
    typeof v.type !== 'string' ||
    !('data' in v) ||
    (v.partition !== undefined && !(Number.isSafeInteger(v.partition) && (v.partition as number) >= 0))
  ) {
    throw new ExportError(`${where}: expected {service[, partition], position, streamId, version, type, data[, metadata]}`);
  }
  return {
    service,
    position: BigInt(v.position),
    streamId: v.streamId,
    version: v.version as number,
    type: v.type,
    data: v.data as never,
    ...(v.metadata === undefined ? {} : { metadata: v.metadata as never }),
  };
}

/** How the lines of one log start: the unsplit log's (`{"service":"voting","position":`), or a partition log's. */
export const linePrefix = (service: ServiceName, partition?: number): string =>
  partition === undefined ? `{"service":"${service}","position":` : `{"service":"${service}","partition":${partition},`;

/** A log's name in an export's ranges and messages: the service, or `<service>_p<k>` for a partition log (as its schema and metrics name it). */
export const sectionOf = (service: string, partition?: number | string): string => (partition === undefined ? service : `${service}_p${partition}`);

export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
}

/**
 * Writes every log of `source` to `file` as JSON Lines: the manifest first, then each service's
 * events in position order (registry, voting, consensus, rewards, distance), each service followed
 * by its partition logs if it is split (`source.partitions`), partition by partition. Written to a
 * temporary file first, so `file` is complete or absent.
 */
export async function exportLogs(source: LogSource, file: string, opts: { onProgress?: (p: Progress) => void; exportedAt?: string } = {}): Promise<Manifest> {
  const body = `${file}.body.partial`;
  const out = createWriteStream(body);
  const hash = createHash('sha256');
  const services: Record<string, LogCount> = {};
  const partitions: Record<string, Record<string, LogCount>> = {};
  let lines = 0;
  const copy = async (from: LogSource, s: ServiceName, partition?: number): Promise<LogCount> => {
    const total = await from.count(s);
    let n = 0;
    let last = '0';
    for await (const batch of from.read(s, DEFAULT_BATCH)) {
      let chunk = '';
      for (const e of batch) chunk += eventLine(e, partition) + '\n';
      hash.update(chunk);
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      n += batch.length;
      last = batch[batch.length - 1]!.position.toString();
      opts.onProgress?.({ service: s, phase: 'read', done: n, total });
    }
    lines += n;
    return { events: n, lastPosition: last };
  };
  try {
    for (const s of await source.services()) {
      services[s] = await copy(source, s);
      for (const { partition, source: view } of (await source.partitions?.(s)) ?? []) {
        const of = partitions[s] ?? {};
        partitions[s] = of;
        of[String(partition)] = await copy(view, s, partition);
      }
    }
    out.end();
    await finished(out);
    const split = Object.keys(partitions).length > 0;
    const manifest: Manifest = {
      format: split ? EXPORT_FORMAT_PARTITIONED : EXPORT_FORMAT,
      source: source.description,
      exportedAt: opts.exportedAt ?? new Date().toISOString(),
      services,
      ...(split ? { partitions } : {}),
      lines,
      sha256: hash.digest('hex'),
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

/**
 * The lines of `file` from byte `start` (a line's start) to byte `end` (inclusive), a chunk of them
 * at a time, each with the byte offset where it starts and where the next begins; a `\r` before
 * the `\n` is not part of the line. Splits bytes on `\n` (faster than node:readline, and gives offsets).
 */
async function* lineChunks(file: string, start = 0, end?: number): AsyncGenerator<{ line: string; offset: number; next: number }[]> {
  const input = createReadStream(file, { start, ...(end === undefined ? {} : { end }), highWaterMark: 1 << 20 });
  let rest: Buffer | undefined;
  let base = start;
  const text = (buf: Buffer, from: number, to: number): string => buf.toString('utf8', from, to > from && buf[to - 1] === 13 ? to - 1 : to);
  for await (const chunk of input as AsyncIterable<Buffer>) {
    const buf = rest ? Buffer.concat([rest, chunk]) : chunk;
    const out: { line: string; offset: number; next: number }[] = [];
    let from = 0;
    for (let nl = buf.indexOf(10, from); nl !== -1; nl = buf.indexOf(10, from)) {
      out.push({ line: text(buf, from, nl), offset: base + from, next: base + nl + 1 });
      from = nl + 1;
    }
    rest = from < buf.length ? buf.subarray(from) : undefined;
    base += from;
    if (out.length > 0) yield out;
  }
  if (rest) yield [{ line: text(rest, 0, rest.length), offset: base, next: base + rest.length }];
}

/**
 * The bytes where each log's lines lie (from its first line to the end of its last), by
 * `sectionOf` (the service, or `<service>_p<k>`): a read skips the rest of the file.
 */
export type Ranges = Partial<Record<string, { start: number; end: number }>>;

/**
 * Checks an export against its manifest: the hash of its lines, the line count and each
 * service's (and each partition log's) count. Refuses (ExportError, naming what differs) an export altered after it was written.
 */
export async function verifyExport(file: string): Promise<Manifest> {
  return (await checkExport(file)).manifest;
}

async function checkExport(file: string): Promise<{ manifest: Manifest; ranges: Ranges }> {
  if (!existsSync(file)) throw new ExportError(`${file}: no such file`);
  let manifest: Manifest | undefined;
  const hash = createHash('sha256');
  const counts: Record<string, number> = {};
  const ranges: Record<string, { start: number; end: number }> = {};
  let n = 0;
  for await (const chunk of lineChunks(file)) {
    for (const { line, offset, next } of chunk) {
      if (manifest === undefined) {
        try {
          manifest = (JSON.parse(line) as { manifest: Manifest }).manifest;
        } catch {
          /* below */
        }
        if (!FORMATS.includes(manifest?.format as string)) throw new ExportError(`${file}: the first line is not an ${FORMATS.join(' or ')} manifest`);
        continue;
      }
      hash.update(line + '\n');
      n++;
      const m = /^\{"service":"([a-z]+)"(?:,"partition":(\d+),)?/.exec(line);
      const s = m ? sectionOf(m[1]!, m[2]) : '?';
      counts[s] = (counts[s] ?? 0) + 1;
      const r = ranges[s];
      if (r) r.end = next - 1;
      else ranges[s] = { start: offset, end: next - 1 };
    }
  }
  if (!manifest) throw new ExportError(`${file}: empty (no manifest)`);
  const problems: string[] = [];
  const digest = hash.digest('hex');
  if (digest !== manifest.sha256) problems.push(`sha256 of the lines is ${digest}, the manifest says ${manifest.sha256}`);
  if (n !== manifest.lines) problems.push(`${n} lines, the manifest says ${manifest.lines}`);
  const wanted = new Map<string, number>(Object.entries(manifest.services).map(([s, c]) => [s, c!.events]));
  for (const [s, parts] of Object.entries(manifest.partitions ?? {}))
    for (const [k, c] of Object.entries(parts ?? {})) {
      if (!/^(0|[1-9][0-9]{0,5})$/.test(k) || !SERVICES.includes(s as ServiceName))
        problems.push(`manifest: partition ${JSON.stringify(k)} of ${JSON.stringify(s)}`);
      wanted.set(sectionOf(s, k), c.events);
    }
  for (const s of new Set([...Object.keys(counts), ...wanted.keys()])) {
    const want = wanted.get(s) ?? 0;
    if ((counts[s] ?? 0) !== want) problems.push(`${s}: ${counts[s] ?? 0} events, the manifest says ${want}`);
  }
  if (problems.length > 0) throw new ExportError(`${file} does not match its manifest (altered after export?): ${problems.join('; ')}`);
  return { manifest, ranges: ranges as Ranges };
}

/** An export as a log source, checked against its manifest first (`verifyExport`). */
export async function fileSource(file: string): Promise<LogSource> {
  const { manifest, ranges } = await checkExport(file);
  return checkedFileSource(file, manifest, ranges);
}

/**
 * An export already checked against its manifest (by `fileSource`, in the thread that hands it to
 * a worker thread). Its partition logs (format /2) are the sources `partitions()` gives, as a
 * PostgreSQL source gives its `<service>_p<k>` schemas.
 */
export function checkedFileSource(file: string, manifest: Manifest, ranges: Ranges): LogSource {
  return fileView(file, manifest, ranges);
}

function fileView(file: string, manifest: Manifest, ranges: Ranges, partitionOf?: { service: ServiceName; partition: number }): LogSource {
  const present = SERVICES.filter((s) => manifest.services[s] !== undefined);
  const description = `export ${file} (of ${manifest.source}, ${manifest.exportedAt})`;
  const part = (s: ServiceName): number | undefined => (partitionOf?.service === s ? partitionOf.partition : undefined);
  return {
    description: partitionOf ? `${description} (${partitionOf.service} partition ${partitionOf.partition})` : description,
    ...(partitionOf ? {} : { reopen: { kind: 'file' as const, file, manifest, ranges } }),
    services: async () => present,
    count: async (s) => (part(s) === undefined ? manifest.services[s]?.events : manifest.partitions?.[s]?.[String(part(s))]?.events) ?? 0,
    async partitions(s) {
      if (partitionOf !== undefined) return [];
      return Object.keys(manifest.partitions?.[s] ?? {})
        .map(Number)
        .sort((a, b) => a - b)
        .map((partition) => ({ partition, source: fileView(file, manifest, ranges, { service: s, partition }) }));
    },
    async *read(s, batchSize = DEFAULT_BATCH) {
      // Only the bytes from the log's first line to its last (every line in them still picked by its start).
      const prefix = linePrefix(s, part(s));
      const range = ranges[sectionOf(s, part(s))];
      if (range === undefined) return;
      let batch: LogEvent[] = [];
      for await (const chunk of lineChunks(file, range.start, range.end)) {
        for (const { line, offset } of chunk) {
          if (!line.startsWith(prefix)) continue;
          batch.push(parseEventLine(line, `${file} (byte ${offset})`));
          if (batch.length >= batchSize) {
            yield batch;
            batch = [];
          }
        }
      }
      if (batch.length > 0) yield batch;
    },
    close: async () => undefined,
  };
}
