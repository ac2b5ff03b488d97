import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { PGlite } from '@electric-sql/pglite';
import { openPglite, pgliteTemplatePath, preparedTemplatePath, unpackTemplate } from './pglite.js';

const dir = mkdtempSync(join(tmpdir(), 'ewx-pglite-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the cluster template is made once when missing, then new folders are unpacked from it; memory databases still work', async () => {
  const env = { EWX_PGLITE_TEMPLATE: join(dir, 'template.tar') };
  assert.equal(pgliteTemplatePath(env), env.EWX_PGLITE_TEMPLATE);
  const first = await openPglite(join(dir, 'a'), env);
  assert.ok(existsSync(env.EWX_PGLITE_TEMPLATE), 'template written');
  const made = statSync(env.EWX_PGLITE_TEMPLATE).mtimeMs;
  await first.exec('CREATE TABLE t (x int); INSERT INTO t VALUES (41)');
  await first.close();

  const second = await openPglite(join(dir, 'b'), env);
  assert.deepEqual(
    (await second.query(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 't'`)).rows,
    [{ n: 0 }],
    'a new folder starts empty, not from another database',
  );
  await second.close();
  const memory = await openPglite(undefined, env);
  assert.deepEqual((await memory.query('SELECT 1 + 1 AS two')).rows, [{ two: 2 }]);
  await memory.close();
  assert.equal(statSync(env.EWX_PGLITE_TEMPLATE).mtimeMs, made, 'the template was not made again');

  const reopened = await openPglite(join(dir, 'a'), env);
  assert.deepEqual((await reopened.query('SELECT x FROM t')).rows, [{ x: 41 }], 'an existing folder is opened as it is');
  await reopened.close();
});

test('EWX_PGLITE_TEMPLATE=off: no template is read or written', async () => {
  assert.equal(pgliteTemplatePath({ EWX_PGLITE_TEMPLATE: 'off' }), undefined);
  const db = await openPglite(join(dir, 'c'), { EWX_PGLITE_TEMPLATE: 'off' });
  assert.deepEqual((await db.query('SELECT 2 AS n')).rows, [{ n: 2 }]);
  await db.close();
});

test('a prepared template: the first new folder is prepared and kept; the next ones are unpacked from it, prepared already', async () => {
  const env = { EWX_PGLITE_TEMPLATE: join(dir, 'prep-template.tar') };
  let runs = 0;
  const prepared = {
    key: 'schema p1',
    run: async (db: PGlite) => {
      runs++;
      await db.exec('CREATE SCHEMA p1; CREATE TABLE p1.t (x int)');
    },
  };
  const first = await openPglite(join(dir, 'p1'), env, prepared);
  assert.equal(runs, 1);
  assert.ok(existsSync(preparedTemplatePath(env.EWX_PGLITE_TEMPLATE, prepared.key)), 'prepared template written');
  await first.exec('INSERT INTO p1.t VALUES (1)');
  await first.close();

  const second = await openPglite(join(dir, 'p2'), env, prepared);
  assert.equal(runs, 1, 'not prepared again');
  assert.deepEqual((await second.query('SELECT count(*)::int AS n FROM p1.t')).rows, [{ n: 0 }], 'the table is there, without the first folder’s rows');
  assert.deepEqual((await second.query(`SELECT datname FROM pg_database ORDER BY datname`)).rows, [{ datname: 'postgres' }]);
  await second.close();

  const other = await openPglite(join(dir, 'p3'), env, { ...prepared, key: 'schema p1, changed' });
  assert.equal(runs, 2, 'another key: prepared again');
  await other.close();
  const reopened = await openPglite(join(dir, 'p1'), env, prepared);
  assert.equal(runs, 2, 'an existing folder is opened as it is');
  assert.deepEqual((await reopened.query('SELECT x FROM p1.t')).rows, [{ x: 1 }]);
  await reopened.close();
});

test('unpackTemplate refuses entries outside the folder (the template is a shared cache file)', () => {
  const header = Buffer.alloc(512);
  header.write('../escape', 0, 'latin1');
  header.write('0000600\0', 100, 'latin1');
  header.write('00000000000\0', 124, 'latin1');
  header.write('0', 156, 'latin1');
  const tar = join(dir, 'evil.tar');
  writeFileSync(tar, Buffer.concat([header, Buffer.alloc(1024)]));
  assert.equal(unpackTemplate(tar, join(dir, 'evil')), false);
  assert.ok(!existsSync(join(dir, 'escape')));
});
