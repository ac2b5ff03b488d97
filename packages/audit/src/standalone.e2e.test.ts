import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { generateKeyPair } from '@ewx/client';
import type { RoundSettledEvent } from '@ewx/platform';
import { freePort, realInfra, REPO_ROOT, startServiceProcess, uniqueNamespace, type ServiceProcess } from '@ewx/platform/testing';
import { audit, formatReport, postgresSource, readAllLogs, SERVICES, type ServiceName } from './index.js';
import { produceBlocks, runScenario, scenarioEnv, scenarioKeys } from './testing/index.js';

/**
 * The separate-process system on Kafka and PostgreSQL: a full run (four reward periods, rewards
 * credited and claimed, a distance evaluation), every process stopped and started again (no log
 * grows but by the one block produced after), then `ewx audit` over the five schemas.
 */
const { infra, skip } = await realInfra();
const CLI = resolve(REPO_ROOT, 'packages/cli/dist/main.js');

describe('standalone system: a restart is quiet, and the audit of PostgreSQL finds nothing', { skip, timeout: 600_000 }, () => {
  const keys = scenarioKeys();
  const validator = generateKeyPair();
  const distanceKey = generateKeyPair();
  const ns = uniqueNamespace('audit');
  let procs: ServiceProcess[] = [];
  after(async () => {
    for (const p of procs) await p.stop();
  });

  const startAll = async (): Promise<Record<ServiceName, string>> => {
    const ports = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, await freePort()]))) as Record<ServiceName, number>;
    const common = {
      DATABASE_URL: infra!.databaseUrl,
      KAFKA_BROKERS: infra!.brokers.join(','),
      EWX_NAMESPACE: ns,
      ADMIN_ADDRESS: keys.admin.address,
      ...scenarioEnv(keys.evaluator.address),
    };
    const env: Record<ServiceName, Record<string, string>> = {
      consensus: { ...common, VALIDATORS: validator.address, VALIDATOR_KEY: validator.seed },
      registry: { ...common, LEDGER_SERVICE_ACCOUNTS: distanceKey.address },
      voting: common,
      rewards: common,
      distance: { ...common, DISTANCE_SERVICE_KEY: distanceKey.seed, REGISTRY_ADDRESS: `127.0.0.1:${ports.registry}` },
    };
    for (const s of ['consensus', 'registry', 'voting', 'rewards', 'distance'] as const) procs.push(await startServiceProcess(s, ports[s], env[s]));
    return Object.fromEntries(SERVICES.map((s) => [s, `127.0.0.1:${ports[s]}`])) as Record<ServiceName, string>;
  };
  const stopAll = async (): Promise<void> => {
    for (const p of [...procs].reverse()) await p.stop();
    procs = [];
  };
  const counts = async (): Promise<Record<ServiceName, number>> => {
    const source = postgresSource(infra!.databaseUrl, ns);
    try {
      return Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, await source.count(s)]))) as Record<ServiceName, number>;
    } finally {
      await source.close();
    }
  };

  test('a full run; every process restarted: no log grows; the audit reports zero divergences', async () => {
    const end = await runScenario({ addresses: await startAll() }, keys);
    await stopAll();
    const before = await counts();
    const addresses = await startAll();
    assert.equal(await produceBlocks({ addresses }, keys.admin, 1), end.quietNext);
    await stopAll();
    assert.deepEqual(await counts(), Object.fromEntries(SERVICES.map((s) => [s, before[s] + 1])), 'each log grew by the one block only');

    const source = postgresSource(infra!.databaseUrl, ns);
    const report = await audit(source);
    // The largest log replayed in a worker thread over its own connection (parallel: true): the same report.
    const parallel = await audit(source, { parallel: true });
    const logs = await readAllLogs(source);
    await source.close();
    assert.deepEqual(report.divergences, [], formatReport(report));
    assert.equal(parallel.parallel?.length, 1);
    const findings = (r: typeof report): unknown => [r.divergences, r.notes, r.cross, r.services.map((x) => [x.service, x.events, x.checks])];
    assert.deepEqual(findings(parallel), findings(report));
    assert.deepEqual(
      report.notes.filter((n) => n.kind === 'pending'),
      [],
    );
    assert.equal(report.services.find((s) => s.service === 'consensus')!.checks.attestation, 4);
    assert.equal(report.services.find((s) => s.service === 'rewards')!.checks.decision, 4);
    for (const e of logs.consensus!.filter((x) => x.type === 'RoundSettled'))
      assert.deepEqual((e.data as unknown as RoundSettledEvent).validators, [validator.address]);

    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((res) =>
      execFile(
        process.execPath,
        [CLI, 'audit'],
        {
          env: { ...process.env, DATABASE_URL: infra!.databaseUrl, EWX_NAMESPACE: ns },
          timeout: 120_000,
        },
        (err, stdout, stderr) => res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      ),
    );
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(run.stdout, new RegExp(`^audit of PostgreSQL .* \\(namespace ${ns}\\)$`, 'm'));
    assert.match(run.stdout, /0 divergence\(s\), 0 pending/);
  });
});
