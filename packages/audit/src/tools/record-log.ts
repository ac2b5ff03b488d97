/**
 * Records the fixture `packages/audit/fixtures/recorded-log.jsonl`: the embedded system (npm start's
 * process) runs the audit scenario (testing/scenario.ts) on a fresh data folder, stops, and its five
 * logs are exported (`ewx log export` format). `recorded.test.ts` replays it with the services'
 * deciders, so a later change that alters what they decide fails there.
 *   npx tsc -b && node packages/audit/dist/tools/record-log.js [out.jsonl]
 * Record again only on purpose (a deliberate change of behaviour), and say why in the commit.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateKeyPair } from '@ewx/client';
import { freePort, healthClient, isServing, REPO_ROOT, waitFor } from '@ewx/platform/testing';
import { embeddedSource } from '../source.js';
import { exportLogs, fileSource } from '../export.js';
import { readAllLogs } from '../source.js';
import { RECORDED_LOG, recordedDecisions, runScenario, scenarioEnv, scenarioKeys } from '../testing/index.js';

async function main(): Promise<void> {
  const out = resolve(process.argv[2] ?? RECORDED_LOG);
  const dataDir = mkdtempSync(join(tmpdir(), 'ewx-record-'));
  const admin = generateKeyPair();
  const keys = scenarioKeys(admin);
  writeFileSync(join(dataDir, 'admin.key'), admin.seed + '\n', { mode: 0o600 });
  const port = await freePort();
  const child = spawn(process.execPath, [resolve(REPO_ROOT, 'packages/embedded/dist/main.js')], {
    env: { ...process.env, ...scenarioEnv(keys.evaluator.address), DATA_DIR: dataDir, GRPC_PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const address = `127.0.0.1:${port}`;
    const health = healthClient(address);
    await waitFor(
      'embedded SERVING',
      () =>
        new Promise<true | undefined>((res) => {
          health.check({ service: 'ewx.v1.Registry' }, (e, r) => res(!e && isServing(r.status) ? true : undefined));
        }),
      120_000,
      200,
    );
    health.close();
    const end = await runScenario({ address }, keys);
    child.kill('SIGTERM');
    await exited;
    const source = await embeddedSource(dataDir);
    try {
      const manifest = await exportLogs(source, out, { exportedAt: new Date().toISOString() });
      console.log(JSON.stringify({ out, height: end.height, services: manifest.services, lines: manifest.lines }));
    } finally {
      await source.close();
    }
    const logs = await readAllLogs(await fileSource(out));
    writeFileSync(out.replace(/\.jsonl$/, '') + '.decisions.json', JSON.stringify(recordedDecisions(logs), null, 2) + '\n');
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(REPO_ROOT, 'packages/audit/dist/tools/record-log.js')) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
