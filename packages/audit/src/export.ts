import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, renameSync, rmSync } from 'node:fs';
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
export const eventLine = (e: LogEvent): string =>
  JSON.stringify({
    service: e.service,
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
    !('data' in v)
  ) {
    throw new ExportError(`${where}: expected {service, position, streamId, version, type, data[, metadata]}`);
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

export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
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
      format: EXPORT_FORMAT,
      source: source.description,
      exportedAt: opts.exportedAt ?? new Date().toISOString(),
      services,
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

/** The bytes where each service's lines lie (from its first line to the end of its last): a read skips the rest of the file. */
export type Ranges = Partial<Record<ServiceName, { start: number; end: number }>>;

/**
 * Checks an export against its manifest: the hash of its lines, the line count and each
 * service's count. Refuses (ExportError, naming what differs) an export altered after it was written.
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
        if (manifest?.format !== EXPORT_FORMAT) throw new ExportError(`${file}: the first line is not an ${EXPORT_FORMAT} manifest`);
        continue;
      }
      hash.update(line + '\n');
      n++;
      const m = /^\{"service":"([a-z]+)"/.exec(line);
      const s = m?.[1] ?? '?';
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
  for (const s of new Set([...Object.keys(counts), ...Object.keys(manifest.services)])) {
    const want = manifest.services[s as ServiceName]?.events ?? 0;
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

/** An export already checked against its manifest (by `fileSource`, in the thread that hands it to a worker thread). */
export function checkedFileSource(file: string, manifest: Manifest, ranges: Ranges): LogSource {
  const present = SERVICES.filter((s) => manifest.services[s] !== undefined);
  return {
    description: `export ${file} (of ${manifest.source}, ${manifest.exportedAt})`,
    reopen: { kind: 'file', file, manifest, ranges },
    services: async () => present,
    count: async (s) => manifest.services[s]?.events ?? 0,
    async *read(s, batchSize = DEFAULT_BATCH) {
      // Only the bytes from the service's first line to its last (every line in them still picked by its service).
      const prefix = `{"service":"${s}"`;
      const range = ranges[s];
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
