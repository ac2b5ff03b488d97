import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const DRIVERS = /^(pg|kafkajs|@electric-sql\/pglite|@grpc\/grpc-js|@kurrent\/kurrentdb-client)(\/|$)/;

/** Imports `module` in a fresh process whose resolver refuses the drivers; returns stderr ('' when it loaded). */
function importWithoutDrivers(module: string): { status: number | null; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ewx-pure-'));
  writeFileSync(
    join(dir, 'hook.mjs'),
    `export async function resolve(spec, ctx, next) {
  if (${DRIVERS}.test(spec)) throw new Error('driver loaded: ' + spec);
  return next(spec, ctx);
}\n`,
  );
  writeFileSync(
    join(dir, 'register.mjs'),
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hook.mjs')).href)});\n`,
  );
  const r = spawnSync(
    process.execPath,
    ['--import', pathToFileURL(join(dir, 'register.mjs')).href, '--input-type=module', '-e', `await import(${JSON.stringify(module)})`],
    { encoding: 'utf8' },
  );
  return { status: r.status, stderr: r.stderr };
}

test('@ewx/platform/domain loads no driver (pg, kafkajs, PGlite, gRPC, KurrentDB), so deciders run without them', () => {
  const r = importWithoutDrivers(new URL('./domain.js', import.meta.url).href);
  assert.equal(r.status, 0, r.stderr);
});

test('the check itself: the whole platform does load a driver', () => {
  const r = importWithoutDrivers(new URL('./index.js', import.meta.url).href);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /driver loaded: /);
});
