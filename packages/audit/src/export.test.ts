import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { EXPORT_FORMAT, EXPORT_FORMAT_PARTITIONED, ExportError, exportLogs, fileSource, parseEventLine, type Manifest } from './export.js';
import { memorySource, readAllLogs, type LogSource } from './source.js';
import type { LogEvent, ServiceName } from './types.js';

/**
 * The export format's round trip with and without partition logs (a partitioned voting): what is
 * written is what the file source gives back, log by log and partition by partition; an export
 * with no partition log is the /1 format as before; an altered partition section is refused.
 */
const ev = (service: ServiceName, position: number, streamId: string, version: number, extra: Record<string, unknown> = {}): LogEvent => ({
  service,
  position: BigInt(position),
  streamId,
  version,
  type: 'Something',
  data: { n: position, text: 'é "q" \\ ✓', ...extra } as never,
  ...(position % 2 === 0 ? { metadata: { nonce: String(position) } } : {}),
});

const logs = {
  registry: [ev('registry', 1, 'a', 0), ev('registry', 2, 'a', 1), ev('registry', 5, 'b', 0)],
  voting: [] as LogEvent[],
  consensus: [ev('consensus', 1, 'chain', 0), ev('consensus', 2, 'chain', 1)],
};
const parts: Record<number, LogEvent[]> = {
  0: [ev('voting', 1, 'round:s0:1', 0), ev('voting', 2, 'round:s0:1', 1), ev('voting', 3, 'round:s0:2', 0)],
  1: [ev('voting', 1, 'round:s1:1', 0), ev('voting', 4, 'round:s1:1', 1)],
};

/** Logs in memory whose voting is split in two partition logs (as `postgresSource` gives `voting_p<k>`). */
function partitioned(): LogSource {
  const base = memorySource(logs, 'partitioned logs in memory');
  return {
    ...base,
    partitions: async (s) =>
      s === 'voting' ? Object.entries(parts).map(([k, events]) => ({ partition: Number(k), source: memorySource({ ...logs, voting: events }) })) : [],
  };
}

const dir = mkdtempSync(join(tmpdir(), 'ewx-export-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const readPartition = async (source: LogSource, partition: number): Promise<LogEvent[]> => {
  const view = (await source.partitions!('voting')).find((p) => p.partition === partition)!.source;
  return (await readAllLogs(view)).voting!;
};

describe('log export with partition logs', () => {
  test('round trip: every log and every partition log read back as written; format /2 with partition counts', async () => {
    const file = join(dir, 'split.jsonl');
    const m = await exportLogs(partitioned(), file, { exportedAt: 'fixed' });
    assert.equal(m.format, EXPORT_FORMAT_PARTITIONED);
    assert.deepEqual(m.services.voting, { events: 0, lastPosition: '0' });
    assert.deepEqual(m.partitions, { voting: { '0': { events: 3, lastPosition: '3' }, '1': { events: 2, lastPosition: '4' } } });
    assert.equal(m.lines, 3 + 2 + 3 + 2);
    const src = await fileSource(file);
    assert.deepEqual(await src.services(), ['registry', 'voting', 'consensus']);
    assert.deepEqual(await readAllLogs(src), logs, 'the unsplit logs exactly, no partition line among them');
    const views = await src.partitions!('voting');
    assert.deepEqual(
      views.map((p) => p.partition),
      [0, 1],
    );
    for (const [k, events] of Object.entries(parts)) {
      assert.deepEqual(await readPartition(src, Number(k)), events, `partition ${k}`);
      const view = views.find((p) => p.partition === Number(k))!.source;
      assert.equal(await view.count('voting'), events.length);
      assert.deepEqual(await view.partitions!('voting'), [], 'a partition log is not split again');
    }
    assert.deepEqual(await src.partitions!('registry'), []);
    // Exported again from the file: the same lines, so the same hash.
    const again = await exportLogs(src, join(dir, 'again.jsonl'), { exportedAt: 'fixed' });
    assert.equal(again.sha256, m.sha256);
    assert.deepEqual(again.partitions, m.partitions);
  });

  test('no partition log: the /1 format, line for line as before, read by the same reader', async () => {
    const file = join(dir, 'plain.jsonl');
    const m = await exportLogs(memorySource(logs), file, { exportedAt: 'fixed' });
    assert.equal(m.format, EXPORT_FORMAT);
    assert.equal('partitions' in m, false);
    const lines = readFileSync(file, 'utf8').split('\n');
    assert.match(lines[1]!, /^\{"service":"registry","position":"1","streamId":"a","version":0,"type":"Something","data":/);
    const src = await fileSource(file);
    assert.deepEqual(await readAllLogs(src), logs);
    assert.deepEqual(await src.partitions!('voting'), []);
  });

  test('an export written before partitions (format /1, hand-made) still reads', async () => {
    const body = [
      '{"service":"registry","position":"7","streamId":"x","version":0,"type":"T","data":{"a":1}}',
      '{"service":"voting","position":"3","streamId":"round:s:1","version":0,"type":"T","data":{},"metadata":{"m":true}}',
    ]
      .map((l) => `${l}\n`)
      .join('');
    const manifest: Manifest = {
      format: EXPORT_FORMAT,
      source: 'old',
      exportedAt: 'then',
      services: { registry: { events: 1, lastPosition: '7' }, voting: { events: 1, lastPosition: '3' } },
      lines: 2,
      sha256: createHash('sha256').update(body).digest('hex'),
    };
    const file = join(dir, 'old.jsonl');
    writeFileSync(file, `${JSON.stringify({ manifest })}\n${body}`);
    const src = await fileSource(file);
    const all = await readAllLogs(src);
    assert.equal(all.voting![0]!.position, 3n);
    assert.deepEqual(all.voting![0]!.metadata, { m: true });
    assert.equal(all.registry![0]!.streamId, 'x');
    assert.deepEqual(await src.partitions!('voting'), []);
  });

  test('one byte changed in a partition section is refused; so is a line moved to another partition with the hash made to match', async () => {
    const file = join(dir, 'tamper.jsonl');
    await exportLogs(partitioned(), file, { exportedAt: 'fixed' });
    const text = readFileSync(file, 'utf8');
    const at = text.indexOf('{"service":"voting","partition":1,');
    assert.ok(at > 0);
    const digit = text.indexOf('"n":4', at) + 4;
    const changed = join(dir, 'changed.jsonl');
    writeFileSync(changed, text.slice(0, digit) + '5' + text.slice(digit + 1));
    await assert.rejects(fileSource(changed), (e: Error) => e instanceof ExportError && /sha256 of the lines/.test(e.message));

    // A partition-1 line relabelled as partition 0, the manifest's hash recomputed: the counts differ.
    const [head, ...rest] = text.split('\n');
    const moved = rest.map((l) => l.replace('{"service":"voting","partition":1,"position":"4"', '{"service":"voting","partition":0,"position":"4"'));
    const body = moved.join('\n');
    const m = JSON.parse(head!) as { manifest: Manifest };
    const forged = { manifest: { ...m.manifest, sha256: createHash('sha256').update(body).digest('hex') } };
    const relabelled = join(dir, 'relabelled.jsonl');
    writeFileSync(relabelled, `${JSON.stringify(forged)}\n${body}`);
    await assert.rejects(
      fileSource(relabelled),
      (e: Error) =>
        e instanceof ExportError && /voting_p0: 4 events, the manifest says 3/.test(e.message) && /voting_p1: 1 events, the manifest says 2/.test(e.message),
    );
  });

  test('a line with a partition that is not a whole number is refused, naming the field', () => {
    assert.throws(
      () => parseEventLine('{"service":"voting","partition":-1,"position":"1","streamId":"s","version":0,"type":"T","data":{}}', 'line 2'),
      /line 2: expected \{service\[, partition\], position/,
    );
    assert.equal(parseEventLine('{"service":"voting","partition":3,"position":"1","streamId":"s","version":0,"type":"T","data":{}}', 'x').service, 'voting');
  });
});
