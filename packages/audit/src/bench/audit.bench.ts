/**
 * Audit throughput against a plain read of the same rows, in the same run. Prints figures only
 * (a benchmark, not a test; goal: ≥ 150,000 events/s and ≥ 75 % of the raw read).
 *
 *   npm run bench -w @ewx/audit                                  # generates a log with the embedded system
 *   BENCH_SOURCE=postgres npm run bench -w @ewx/audit            # DATABASE_URL (+ EWX_NAMESPACE)
 *   BENCH_SOURCE=dir:/path/to/data npm run bench -w @ewx/audit   # an embedded data folder
 *   BENCH_SOURCE=file:logs.jsonl npm run bench -w @ewx/audit     # an export
 *   BENCH_SOURCE=pgcopy npm run bench -w @ewx/audit              # the log copied into DATABASE_URL (a fresh namespace, dropped after)
 *   BENCH_KEEP=/path npm run bench -w @ewx/audit                 # generate into /path and keep it
 *
 * Prints the raw read of the same rows, the full audit (signatures in worker threads and in the
 * main thread), the REDUCED audit (--skip-signatures), their ratios, the time per phase and the
 * load average, all from the same run.
 *
 * Generation (BENCH_OPERATORS operators with a worker each, BENCH_WAVES waves of
 * BENCH_ROUNDS rounds every worker votes in, then the period closed and paid) runs the five
 * services in this process on PGlite; the figures are then taken on the stopped folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import pg from 'pg';
import { join, resolve } from 'node:path';
import {
  connect,
  connectWorkerWithConsent,
  counterNonces,
  generateKeyPair,
  keySigner,
  signVote,
  untilHeight,
  untilPeriodPaid,
  type KeyPair,
} from '@ewx/client';
import { testGroupConfig, testSolutionConfig } from '@ewx/client/testing';
import { ALL_MODULES, embeddedKeys } from '@ewx/embedded';
import { runEmbedded } from '@ewx/platform';
import { freePort } from '@ewx/platform/testing';
import { audit, embeddedSource, fileSource, formatReport, postgresSource, schemaOf, SERVICES, type AuditReport, type LogSource } from '../index.js';
import { nobleRate, signatureCeiling } from './ceiling.js';

process.env.LOG_LEVEL ??= 'error';
const T = 10n ** 18n;
const OPERATORS = Number(process.env.BENCH_OPERATORS ?? 300);
const WAVES = Number(process.env.BENCH_WAVES ?? 40);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PERIOD = 4 * WAVES + 40;
const t0 = Date.now();
const stage = (what: string): void => {
  process.stderr.write(`# ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}\n`);
};

async function generate(dataDir: string): Promise<void> {
  const admin = generateKeyPair();
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    DATA_DIR: dataDir,
    GRPC_PORT: String(port),
    ADMIN_ADDRESS: admin.address,
    BLOCK_TIME_MS: 'manual',
    LOG_LEVEL: 'error',
    REWARD_PERIOD_BLOCKS: String(PERIOD),
    REWARDS_SETTLEMENT_DELAY: '2',
  };
  embeddedKeys(env as NodeJS.ProcessEnv);
  const system = await runEmbedded(ALL_MODULES, env, { signals: false });
  const nonce = counterNonces(BigInt(Date.now()) * 1000n);
  const as = (k: KeyPair) => keySigner(k, nonce);
  const ewx = connect({ address: `127.0.0.1:${port}`, signer: as(admin), deadlineMs: 300_000 });
  try {
    const blocksTo = async (h: number): Promise<void> => {
      const now = Number((await ewx.consensus.getStatus({})).height);
      if (h > now) await ewx.consensus.produceBlocks({ count: h - now });
      await untilHeight(ewx, h, { timeoutMs: 300_000 });
    };
    for (let i = 0; ; i++) {
      try {
        await ewx.rewards.getCurrentPeriod({});
        break;
      } catch (e) {
        if (i > 100) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await blocksTo(1);
    const registrar = generateKeyPair();
    const operators = Array.from({ length: OPERATORS }, () => generateKeyPair());
    const workers = Array.from({ length: OPERATORS }, () => generateKeyPair());
    stage(`setting up ${OPERATORS} operators`);
    await ewx.registry.deposit({ account: registrar.address, amount: (1_000_000n * T).toString() });
    const R = ewx.withSigner(as(registrar));
    await R.registry.signUpRegistrar({ friendlyName: 'bench', legalLocation: 'DE' });
    await R.registry.registerGroup({
      config: testGroupConfig('bench.group', { info: '', maxStake: (1000n * T).toString(), maxOperators: OPERATORS + 1, operationEndBlock: 1_000_000n }),
      budget: (100_000n * T).toString(),
      allowList: [],
    });
    await R.registry.registerSolution({ config: testSolutionConfig('bench.solution', 'bench.group', { logicRef: 'x', expirationBlock: 1_000_000n }) });
    // The admin's deposits one after the other: its nonces must arrive in order.
    for (const op of operators) await ewx.registry.deposit({ account: op.address, amount: (100n * T).toString() });
    await Promise.all(
      operators.map(async (op, i) => {
        await ewx.registry.subscribe({ group: 'bench.group', stake: (BigInt(1 + (i % 50)) * T).toString() }, { signer: as(op) });
        await connectWorkerWithConsent(ewx, as(op), as(workers[i]!));
      }),
    );
    await blocksTo(PERIOD + 1);
    let h = PERIOD + 1;
    for (let w = 0; w < WAVES; w++) {
      stage(`wave ${w + 1}/${WAVES}: ${ROUNDS} rounds × ${OPERATORS} votes`);
      const ids = Array.from({ length: ROUNDS }, (_, r) => `w${w}-r${r}`);
      for (const id of ids) await R.voting.startRound({ solution: 'bench.solution', roundId: id });
      for (const id of ids) {
        const votes = await Promise.all(
          workers.map((wk, i) => signVote(as(wk), { solution: 'bench.solution', roundId: id, result: Buffer.from(i % 7 === 0 ? 'bad0' : 'c0ffee', 'hex') })),
        );
        for (let i = 0; i < votes.length; i += 2000) await ewx.voting.submitVotes({ votes: votes.slice(i, i + 2000) });
      }
      h += 4;
      await blocksTo(h);
    }
    stage('closing the period');
    await blocksTo(2 * PERIOD + 2);
    await untilPeriodPaid(ewx, 'bench.group', 1, { timeoutMs: 300_000 });
  } finally {
    ewx.close();
    await system.stop();
  }
}

/** CPU time of this process (all its threads) in ms since `from`. */
const cpuMs = (from: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1000;
};

async function rawRead(source: LogSource): Promise<{ events: number; ms: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const start = Date.now();
  let events = 0;
  for (const s of await source.services()) for await (const b of source.read(s)) events += b.length;
  return { events, ms: Date.now() - start, cpu: cpuMs(c0) };
}

/** An audit with its CPU time (this process, all threads). */
async function timed(source: LogSource, options: Parameters<typeof audit>[1]): Promise<AuditReport & { cpu: number }> {
  const c0 = process.cpuUsage();
  const r = await audit(source, options);
  return { ...r, cpu: cpuMs(c0) };
}

/**
 * BENCH_SOURCE=pgcopy (with DATABASE_URL): the log (generated, or BENCH_FROM=dir:… / file:…) copied
 * into a fresh namespace of that PostgreSQL, audited from there, and dropped at the end.
 */
async function copyToPostgres(from: LogSource, url: string): Promise<{ namespace: string; drop(): Promise<void> }> {
  const namespace = `abench${process.pid}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const s of await from.services()) {
      const schema = schemaOf(namespace, s);
      await client.query(`CREATE SCHEMA ${schema}`);
      // As the services' stores keep it (platform eventstore/sql.ts): json columns keep the data as written.
      await client.query(
        `CREATE TABLE ${schema}.events (position bigint PRIMARY KEY, stream_id text NOT NULL, version integer NOT NULL, type text NOT NULL, data json NOT NULL, metadata json)`,
      );
      for await (const b of from.read(s, 5000)) {
        const rows = b.map((e) => ({
          position: e.position.toString(),
          stream_id: e.streamId,
          version: e.version,
          type: e.type,
          data: e.data,
          metadata: e.metadata ?? null,
        }));
        await client.query(
          `INSERT INTO ${schema}.events SELECT * FROM json_to_recordset($1::json) AS x(position bigint, stream_id text, version integer, type text, data json, metadata json)`,
          [JSON.stringify(rows)],
        );
      }
      await client.query(`ANALYZE ${schema}.events`);
    }
  } finally {
    await client.end();
  }
  return {
    namespace,
    async drop() {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        for (const s of SERVICES) await c.query(`DROP SCHEMA IF EXISTS ${schemaOf(namespace, s)} CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}

const spec = process.env.BENCH_SOURCE;
let dataDir: string | undefined;
let source: LogSource;
let dropCopy: (() => Promise<void>) | undefined;
const openGiven = async (given: string | undefined): Promise<LogSource> => {
  if (given?.startsWith('dir:')) return embeddedSource(given.slice(4));
  if (given?.startsWith('file:')) return fileSource(given.slice(5));
  // BENCH_KEEP=/path: generate into that folder and keep it (audit it again with BENCH_SOURCE=dir:/path).
  const keep = process.env.BENCH_KEEP;
  dataDir = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), 'ewx-audit-bench-'));
  await generate(dataDir);
  if (keep) dataDir = undefined;
  return embeddedSource(keep ? resolve(keep) : dataDir!);
};
if (spec === 'postgres') source = postgresSource(process.env.DATABASE_URL ?? '', process.env.EWX_NAMESPACE ?? '');
else if (spec === 'pgcopy') {
  const url = process.env.DATABASE_URL ?? '';
  const from = await openGiven(process.env.BENCH_FROM);
  stage(`copying ${from.description} into PostgreSQL`);
  try {
    const copy = await copyToPostgres(from, url);
    dropCopy = copy.drop;
    source = postgresSource(url, copy.namespace);
  } finally {
    await from.close();
  }
} else source = await openGiven(spec);

const rate = (events: number, ms: number): number => Math.round((events * 1000) / Math.max(1, ms));
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
try {
  const loadBefore = load();
  stage('raw read');
  const raw1 = await rawRead(source);
  stage('audit (REDUCED: --skip-signatures)');
  const reduced1 = await timed(source, { signatures: false });
  stage('signature ceiling (node:crypto, bare verify loop)');
  const ceiling = await signatureCeiling(availableParallelism());
  const noble = await nobleRate();
  stage('audit (full: every signature, in worker threads)');
  const full = await timed(source, {});
  stage('audit (full, signatures in the main thread)');
  const serial = await timed(source, { signatureThreads: 0 });
  stage('audit (REDUCED: --skip-signatures), again');
  const reduced2 = await timed(source, { signatures: false });
  // Best of 2 by wall time; the CPU time, the lower of the two (the first read of a PGlite folder also warms its engine up).
  const reduced = { ...(reduced1.ms <= reduced2.ms ? reduced1 : reduced2), cpu: Math.min(reduced1.cpu, reduced2.cpu) };
  // A source a thread can open again (PostgreSQL, an export): the largest log replayed in a worker thread too.
  let parallel: (AuditReport & { cpu: number }) | undefined;
  if (source.reopen) {
    stage('audit (REDUCED, largest log in a worker thread: parallel)');
    parallel = await timed(source, { signatures: false, parallel: true });
  }
  stage('raw read again');
  const raw2 = await rawRead(source);
  const raw = { ...(raw1.ms <= raw2.ms ? raw1 : raw2), cpu: Math.min(raw1.cpu, raw2.cpu) };
  const loadAfter = load();
  process.stderr.write(formatReport(full).split('\n').slice(-9).join('\n') + '\n');
  const sigs = full.services.reduce((a, x) => a + (x.checks.signature ?? 0), 0);
  const ph = full.phases!;
  const row = (name: string, events: number, ms: number, cpu?: number): string =>
    `${name.padEnd(44)} ${String(rate(events, ms)).padStart(9)} events/s  (${ms.toFixed(0)} ms${cpu === undefined ? '' : `; ${cpu.toFixed(0)} ms of CPU: ${rate(events, cpu)} events per CPU-second`})`;
  /** The full audit's bound from signatures alone: every core verifying, at the ceiling measured now, for the share of events that carry a signature. */
  const signedShare = sigs / Math.max(1, full.events);
  const bound = ceiling.all / Math.max(1e-9, signedShare);
  // In CPU time (far steadier under load): the full audit's CPU beyond the reduced one's, per signature, against a bare verification's.
  const sigCpuMicros = ((full.cpu - reduced.cpu) * 1000) / Math.max(1, sigs);
  const idleBound = (availableParallelism() * 1e6) / ceiling.cpuMicros / Math.max(1e-9, signedShare);
  const lines = [
    `audit bench: ${source.description}, ${full.events} events (${sigs} command signatures), ${availableParallelism()} cores, load average ${loadBefore} → ${loadAfter}`,
    row('raw read of the same rows (best of 2; CPU: the lower)', raw.events, raw.ms, raw.cpu),
    row(`audit, full (signatures on ${full.signatureChecks?.threads ?? 0} worker threads)`, full.events, full.ms, full.cpu),
    row('audit, full (signatures in the main thread)', serial.events, serial.ms, serial.cpu),
    row('audit, REDUCED (--skip-signatures, best of 2; CPU: the lower)', reduced.events, reduced.ms, reduced.cpu),
    ...(parallel ? [row(`audit, REDUCED, ${parallel.parallel?.join(', ')} in a worker thread`, parallel.events, parallel.ms, parallel.cpu)] : []),
    `ratio to the raw read: full ${(raw.ms / full.ms).toFixed(3)}, main-thread ${(raw.ms / serial.ms).toFixed(3)}, reduced ${(raw.ms / reduced.ms).toFixed(3)} (goal ≥ 0.75; ≥ 150,000 events/s); in CPU time: reduced ${(raw.cpu / reduced.cpu).toFixed(3)}`,
    `signature ceiling (bare node:crypto verify, now): ${ceiling.perThread} per second on one thread, ${ceiling.all} on ${ceiling.threads} threads together; ${ceiling.cpuMicros} µs of CPU each (@noble/curves: ${noble} per second on one thread)`,
    `  ${sigs} of ${full.events} events carry a signature (${(100 * signedShare).toFixed(1)} %): the full audit is bound at ${Math.round(bound)} events/s by signatures now (${Math.round(idleBound)} on ${availableParallelism()} idle cores at that CPU cost); it ran at ${(rate(full.events, full.ms) / bound).toFixed(3)} of the bound now`,
    `  in CPU time: the full audit spent ${sigCpuMicros.toFixed(0)} µs per signature beyond the reduced audit, a bare verification ${ceiling.cpuMicros} µs: ${(ceiling.cpuMicros / Math.max(1e-9, sigCpuMicros)).toFixed(3)} of the ceiling`,
    'phases of the full audit (main thread; events/s if the phase were all):',
    row('  read + JSON decode', full.events, ph.read),
    row('  signatures: waiting for verdicts', full.events, ph.signatures),
    row('  replay: deciders, folds, checks', full.events, ph.replay),
    row('  cross checks', full.events, ph.cross),
    `  signature checks: ${sigs} in ${ph.signatureThreadsMs.toFixed(0)} ms of worker-thread time (${rate(sigs, ph.signatureThreadsMs)} per second per thread)`,
    'phases of the reduced audit:',
    row('  read + JSON decode', reduced.events, reduced.phases!.read),
    row('  replay: deciders, folds, checks', reduced.events, reduced.phases!.replay),
    row('  cross checks', reduced.events, reduced.phases!.cross),
  ];
  console.log(lines.join('\n'));
  console.log(
    JSON.stringify({
      bench: 'audit vs raw read',
      source: source.description,
      events: full.events,
      signatures: sigs,
      divergences: [full, serial, reduced].map((r) => r.divergences.length),
      cores: availableParallelism(),
      loadBefore,
      loadAfter,
      rawMs: raw.ms,
      rawEventsPerSecond: rate(raw.events, raw.ms),
      auditMs: full.ms,
      auditEventsPerSecond: rate(full.events, full.ms),
      auditShareOfRaw: Number((raw.ms / Math.max(1, full.ms)).toFixed(3)),
      rawCpuMs: Math.round(raw.cpu),
      auditCpuMs: Math.round(full.cpu),
      reducedCpuMs: Math.round(reduced.cpu),
      signatureCeiling: {
        ...ceiling,
        noblePerThread: noble,
        signedShare: Number(signedShare.toFixed(3)),
        boundEventsPerSecond: Math.round(bound),
        idleBoundEventsPerSecond: Math.round(idleBound),
        auditCpuMicrosPerSignature: Math.round(sigCpuMicros),
      },
      fullShareOfBound: Number((rate(full.events, full.ms) / bound).toFixed(3)),
      signatureChecks: full.signatureChecks,
      mainThreadAuditMs: serial.ms,
      mainThreadAuditEventsPerSecond: rate(serial.events, serial.ms),
      reducedAuditMs: reduced.ms,
      reducedAuditEventsPerSecond: rate(reduced.events, reduced.ms),
      parallelReducedMs: parallel?.ms,
      parallelReducedCpuMs: parallel && Math.round(parallel.cpu),
      reducedShareOfRaw: Number((raw.ms / Math.max(1, reduced.ms)).toFixed(3)),
      phases: { full: full.phases, reduced: reduced.phases },
      perService: Object.fromEntries(full.services.map((x) => [x.service, x.events])),
    }),
  );
} finally {
  await source.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  await dropCopy?.();
}
