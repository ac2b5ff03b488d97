import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openPglite, pgliteTemplatePath } from './pglite.js';

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
