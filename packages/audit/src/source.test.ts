import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { bindPage, embeddedSource, pageText, simpleQuery, type LogSource } from './source.js';
import type { LogEvent } from './types.js';

/**
 * The embedded source reads its pages as raw wire-protocol bytes (pageText), not through the
 * driver's parser: it must give exactly the rows the driver gives — non-ASCII text, escapes,
 * NULL metadata, big positions, pages that end exactly at the batch size — and the driver's
 * errors.
 */
describe('the embedded source reads the rows as the driver does', () => {
  let dir: string;
  let source: LogSource;
  const rows: { position: string; stream: string; version: number; type: string; data: unknown; metadata: unknown }[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ewx-audit-source-'));
    const db = await PGlite.create(join(dir, 'pglite'));
    await db.exec(
      'CREATE SCHEMA ewx_registry; CREATE TABLE ewx_registry.events (position bigint PRIMARY KEY, stream_id text NOT NULL, version integer NOT NULL, type text NOT NULL, data json NOT NULL, metadata json)',
    );
    const texts = ['plain', 'é — µ ✓ 😀', 'quote " backslash \\ newline \n tab \t', '\u0001 control', ''];
    for (let i = 0; i < 25; i++) {
      const position = i === 24 ? '9007199254740993' : String(3 * i + 1);
      const data = { i, text: texts[i % texts.length], nested: { list: [1, 'two', null, true, 2.5], amount: '123456789012345678901234567890' } };
      const metadata = i % 3 === 0 ? null : { signer: `ed25519:${'ab'.repeat(32)}`, nonce: String(i + 1), note: texts[(i + 1) % texts.length] };
      rows.push({ position, stream: `s:${i % 4}`, version: Math.floor(i / 4), type: i % 2 ? 'Deposited' : 'Transferred', data, metadata });
      await db.query('INSERT INTO ewx_registry.events VALUES ($1, $2, $3, $4, $5, $6)', [
        position,
        `s:${i % 4}`,
        Math.floor(i / 4),
        i % 2 ? 'Deposited' : 'Transferred',
        JSON.stringify(data),
        metadata === null ? null : JSON.stringify(metadata),
      ]);
    }
    await db.close();
    source = await embeddedSource(dir);
  });
  after(async () => {
    await source?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const expected = (): LogEvent[] =>
    rows.map((r) => ({
      service: 'registry',
      position: BigInt(r.position),
      streamId: r.stream,
      version: r.version,
      type: r.type,
      data: r.data as never,
      ...(r.metadata === null ? {} : { metadata: r.metadata as never }),
    }));

  for (const batch of [1, 5, 7, 25, 100]) {
    test(`pages of ${batch}: every row, in order, equal to what was written`, async () => {
      const got: LogEvent[] = [];
      const sizes: number[] = [];
      for await (const b of source.read('registry', batch)) {
        sizes.push(b.length);
        got.push(...b);
      }
      assert.deepEqual(got, expected());
      assert.ok(
        sizes.slice(0, -1).every((n) => n === batch),
        `pages ${sizes.join(',')}`,
      );
    });
  }

  test('pageText: the first column of the first row, NULL, no row, and an error with its message', async () => {
    const db = await PGlite.create();
    try {
      const raw = async (sql: string): Promise<Uint8Array> => {
        const chunks: Uint8Array[] = [];
        await db.execProtocolRawStream(simpleQuery(sql), { onRawData: (c) => void chunks.push(c.slice()) });
        return Buffer.concat(chunks);
      };
      assert.equal(pageText(await raw(`SELECT 'é — "x"'::text, 2`)), 'é — "x"');
      assert.equal(pageText(await raw(`SELECT 'ascii only'::text`)), 'ascii only');
      assert.equal(pageText(await raw('SELECT NULL::text')), null);
      assert.equal(pageText(await raw('SELECT 1 WHERE false')), null);
      assert.throws(() => pageText(new Uint8Array([0x44, 0, 0, 0, 200])), /truncated/);
      await raw('SELECT * FROM no_such_table').then(
        (bytes) => assert.throws(() => pageText(bytes), /no_such_table/),
        () => undefined,
      );
    } finally {
      await db.close();
    }
  });

  test('bindPage writes in only plain integers', () => {
    assert.equal(bindPage('a $1 b $2', '42', 10), 'a 42 b 10');
    for (const [after, limit] of [
      ['1; DROP TABLE x', 10],
      ['-1', 10],
      ['01', 10],
      ['1', 0],
      ['1', 1.5],
    ] as const)
      assert.throws(() => bindPage('$1 $2', after, limit), /page bounds/);
  });
});
