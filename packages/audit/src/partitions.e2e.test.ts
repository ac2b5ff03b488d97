import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { generateKeyPair } from '@ewx/client';
import { partitionLeases, schemaFor } from '@ewx/platform';
import { freePort, realInfra, startServiceProcess, uniqueNamespace, waitFor, type ServiceProcess } from '@ewx/platform/testing';
import { audit, ExportError, exportLogs, fileSource, formatReport, postgresSource, SERVICES, type AuditReport, type ServiceName } from './index.js';
import { runScenario, scenarioEnv, scenarioKeys } from './testing/index.js';

/**
 * The audit of a partitioned voting (VOTING_PARTITIONS=2, two voting replicas as separate
 * processes): each partition log (schema `voting_p<k>`) is audited as a voting log of its own, and
 * the cross-checks see the rounds closed in the partition logs. Without reading the partition logs
 * the audit would report every round decided by consensus as never closed in voting. An export of
 * those logs (`ewx log export`) holds the partition logs too: the audit of the file gives the same
 * report, and a byte changed in a partition section is refused by the manifest.
 */
const { infra, skip } = await realInfra();

describe('audit of a partitioned voting', { skip, timeout: 600_000 }, () => {
  const keys = scenarioKeys();
  const validator = generateKeyPair();
  const distanceKey = generateKeyPair();
  const ns = uniqueNamespace('auditp');
  const procs: ServiceProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'ewx-auditp-'));
  after(async () => {
    for (const p of procs) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  let direct: AuditReport | undefined;
  /** What must be the same whichever source the logs were read from (an export holds no stored snapshot: that check is PostgreSQL's only). */
  const facts = (r: AuditReport) => ({
    services: r.services.map(({ checks: { snapshot: _, ...checks }, ...s }) => ({ ...s, checks, lastPosition: s.lastPosition.toString() })),
    divergences: r.divergences.length,
    notes: r.notes.filter((n) => n.kind !== 'snapshot').map((n) => `${n.service}|${n.kind}|${n.position ?? ''}|${n.message}`),
    cross: r.cross,
    events: r.events,
  });

  test('the scenario through two voting replicas: every partition log audited, zero divergences', async () => {
    const ports = Object.fromEntries(await Promise.all([...SERVICES, 'voting2'].map(async (s) => [s, await freePort()]))) as Record<
      ServiceName | 'voting2',
      number
    >;
    const common = {
      DATABASE_URL: infra!.databaseUrl,
      KAFKA_BROKERS: infra!.brokers.join(','),
      EWX_NAMESPACE: ns,
      ADMIN_ADDRESS: keys.admin.address,
      ...scenarioEnv(keys.evaluator.address),
    };
    const voting = { ...common, VOTING_PARTITIONS: '2', KAFKA_SESSION_TIMEOUT_MS: '6000' };
    const env: Record<ServiceName, Record<string, string>> = {
      consensus: { ...common, VALIDATORS: validator.address, VALIDATOR_KEY: validator.seed },
      registry: { ...common, LEDGER_SERVICE_ACCOUNTS: distanceKey.address },
      voting: { ...voting, VOTING_REPLICA_ID: 'a' },
      rewards: common,
      distance: { ...common, DISTANCE_SERVICE_KEY: distanceKey.seed, REGISTRY_ADDRESS: `127.0.0.1:${ports.registry}` },
    };
    for (const s of ['consensus', 'registry', 'voting', 'rewards', 'distance'] as const) procs.push(await startServiceProcess(s, ports[s], env[s]));
    procs.push(await startServiceProcess('voting', ports.voting2, { ...voting, VOTING_REPLICA_ID: 'b' }));
    // The scenario starts once each replica holds its share (one partition each), on the default
    // 10 s leases: a partition that moves in the middle of a round (a rebalance, or a lease missed on
    // a loaded machine) is the fail-over tests' subject (services/voting), not this one's.
    const leases = await partitionLeases(infra!.databaseUrl, schemaFor(`${ns}_voting`), 2);
    try {
      await waitFor(
        'each voting replica to hold one partition',
        async () => {
          const live = (await leases.rows()).filter((r) => r.live);
          return live.length === 2 && new Set(live.map((r) => r.owner)).size === 2 ? true : undefined;
        },
        60_000,
        100,
      );
    } finally {
      await leases.close();
    }
    await runScenario({ addresses: Object.fromEntries(SERVICES.map((s) => [s, `127.0.0.1:${ports[s]}`])) as Record<ServiceName, string> }, keys);
    for (const p of [...procs].reverse()) await p.stop();
    procs.length = 0;

    const source = postgresSource(infra!.databaseUrl, ns);
    const report = await audit(source);
    await source.close();
    assert.deepEqual(report.divergences, [], formatReport(report));
    const parts = report.services.filter((s) => s.service === 'voting' && s.partition !== undefined);
    assert.deepEqual(
      parts.map((s) => s.partition),
      [0, 1],
    );
    for (const p of parts) assert.ok(p.events > 0, `partition ${p.partition} has events`);
    assert.equal(report.services.find((s) => s.service === 'voting' && s.partition === undefined)?.events, 0, 'the unsplit voting log is empty');
    assert.ok((report.cross['rounds-decided'] ?? 0) > 0, 'rounds closed in the partition logs are matched with consensus');
    assert.ok(parts.reduce((n, p) => n + (p.checks.vote ?? 0), 0) > 0, `votes re-decided in the partition logs: ${JSON.stringify(parts.map((p) => p.checks))}`);
    assert.match(formatReport(report), /voting_p0 .*\n.*voting_p1/);
    direct = report;
  });

  test('exported to a file (partition logs included) and audited from it: the same report; a byte changed in a partition section is refused', async () => {
    assert.ok(direct, 'the direct audit ran');
    const file = join(dir, 'logs.jsonl');
    const pg = postgresSource(infra!.databaseUrl, ns);
    const manifest = await exportLogs(pg, file);
    await pg.close();
    assert.equal(manifest.format, 'ewx-log-export/2');
    assert.deepEqual(Object.keys(manifest.partitions?.voting ?? {}), ['0', '1']);
    for (const p of direct.services.filter((s) => s.partition !== undefined))
      assert.equal(manifest.partitions!.voting![String(p.partition)]!.events, p.events, `partition ${p.partition}: every event exported`);
    const source = await fileSource(file);
    const report = await audit(source);
    await source.close();
    assert.deepEqual(report.divergences, [], formatReport(report));
    assert.deepEqual(facts(report), facts(direct));

    const text = readFileSync(file);
    const at = text.indexOf('{"service":"voting","partition":1,');
    assert.ok(at > 0, 'partition 1 has lines');
    const byte = text.indexOf('"version":', at) + '"version":'.length;
    const altered = Buffer.from(text);
    altered[byte] = altered[byte] === 0x39 ? 0x38 : altered[byte]! + 1;
    const bad = join(dir, 'altered.jsonl');
    writeFileSync(bad, altered);
    await assert.rejects(fileSource(bad), (e: Error) => e instanceof ExportError && /does not match its manifest/.test(e.message) && /sha256/.test(e.message));
  });
});
