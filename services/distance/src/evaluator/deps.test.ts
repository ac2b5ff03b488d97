import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const IMPORT = /^\s*import\s+(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm;

/** Every package the evaluator's compiled files import, following its own relative imports. */
function packagesOf(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else packages.add(spec);
    }
  };
  visit(entry);
  return packages;
}

test('the evaluator process imports the client kit, the distance contract and gRPC only: not the server platform', () => {
  const packages = [...packagesOf(resolve(DIST, 'evaluator.js'))].sort();
  assert.deepEqual(
    packages.filter((p) => !p.startsWith('node:')),
    ['@ewx/client/config', '@ewx/client/keys', '@ewx/client/nonces', '@ewx/client/signing', '@ewx/proto/distance', '@grpc/grpc-js', 'grpc-health-check'],
  );
});

test('started, the evaluator has loaded no database or Kafka driver', () => {
  // Loads the evaluator (a closed distance address: nothing to do), records every module URL it resolves
  // (a module hook), and stops once it logged its start.
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
    const seen = new Set();
    const { register } = await import('node:module');
    register('data:text/javascript,' + encodeURIComponent(\`
      export async function resolve(s, c, next) { const r = await next(s, c); if (c.parentURL) globalThis.port?.postMessage(r.url); return r; }
      export function initialize(d) { globalThis.port = d.port; }
    \`), { parentURL: import.meta.url, data: { port: (globalThis.ch = new MessageChannel()).port2 }, transferList: [globalThis.ch.port2] });
    globalThis.ch.port1.on('message', (u) => seen.add(u));
    globalThis.ch.port1.unref();
    const origWrite = process.stdout.write.bind(process.stdout);
    process.stdout.write = (chunk, ...rest) => {
      if (String(chunk).includes('evaluator started')) setTimeout(() => { process.stderr.write(JSON.stringify([...seen]) + '\\n'); process.exit(0); }, 200);
      return origWrite(chunk, ...rest);
    };
    await import(${JSON.stringify(resolve(DIST, 'evaluator.js'))});
  `,
    ],
    {
      encoding: 'utf8',
      env: { ...process.env, EVALUATOR_KEY: '11'.repeat(32), DISTANCE_ADDRESS: '127.0.0.1:9', EVALUATOR_POLL_MS: '600000', LOG_LEVEL: 'info' },
      timeout: 60_000,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const urls = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as string[];
  assert.ok(
    urls.some((u) => u.includes('/grpc-js/')),
    'the module list was captured',
  );
  for (const driver of ['/node_modules/pg/', '/node_modules/kafkajs/', '/@electric-sql/pglite/', '/packages/platform/']) {
    assert.ok(
      !urls.some((u) => u.includes(driver)),
      `${driver} was loaded: ${urls
        .filter((u) => u.includes(driver))
        .slice(0, 3)
        .join(', ')}`,
    );
  }
});
