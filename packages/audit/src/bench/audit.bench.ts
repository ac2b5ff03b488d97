/**
 * Audit throughput against a plain read of the same rows, in the same run. Prints figures only
 * (a benchmark, not a test; goal: ≥ 150,000 events/s and ≥ 75 % of the raw read).
 *
 *   npm run bench -w @ewx/audit                                  # generates a log with the embedded system
 *   BENCH_SOURCE=postgres npm run bench -w @ewx/audit            # DATABASE_URL (+ EWX_NAMESPACE)
 *   BENCH_SOURCE=dir:/path/to/data npm run bench -w @ewx/audit   # an embedded data folder
 *   BENCH_SOURCE=file:logs.jsonl npm run bench -w @ewx/audit     # an export
 *
 * Generation (BENCH_OPERATORS operators with a worker each, BENCH_WAVES waves of
 * BENCH_ROUNDS rounds every worker votes in, then the period closed and paid) runs the five
 * services in this process on PGlite; the figures are then taken on the stopped folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, counterNonces, cosignWith, generateKeyPair, keySigner, signVote, untilHeight, untilPeriodPaid, type KeyPair } from '@ewx/client';
import { ALL_MODULES, embeddedKeys } from '@ewx/embedded';
import { runEmbedded } from '@ewx/platform';
import { freePort } from '@ewx/platform/testing';
import { ConnectWorkerRequest } from '@ewx/proto/registry';
import { audit, embeddedSource, fileSource, formatReport, postgresSource, type LogSource } from '../index.js';

const T = 10n ** 18n;
const OPERATORS = Number(process.env.BENCH_OPERATORS ?? 300);
const WAVES = Number(process.env.BENCH_WAVES ?? 40);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PERIOD = 4 * WAVES + 40;
const t0 = Date.now();
const stage = (what: string): void => { process.stderr.write(`# ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}\n`); };

async function generate(dataDir: string): Promise<void> {
  const admin = generateKeyPair();
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    DATA_DIR: dataDir, GRPC_PORT: String(port), ADMIN_ADDRESS: admin.address, BLOCK_TIME_MS: 'manual', LOG_LEVEL: 'error',
    REWARD_PERIOD_BLOCKS: String(PERIOD), REWARDS_SETTLEMENT_DELAY: '2',
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
    for (let i = 0; ; i++) { try { await ewx.rewards.getCurrentPeriod({}); break; } catch (e) { if (i > 100) throw e; await new Promise((r) => setTimeout(r, 100)); } }
    await blocksTo(1);
    const registrar = generateKeyPair();
    const operators = Array.from({ length: OPERATORS }, () => generateKeyPair());
    const workers = Array.from({ length: OPERATORS }, () => generateKeyPair());
    stage(`setting up ${OPERATORS} operators`);
    await ewx.registry.deposit({ account: registrar.address, amount: (1_000_000n * T).toString() });
    const R = ewx.withSigner(as(registrar));
    await R.registry.signUpRegistrar({ friendlyName: 'bench', legalLocation: 'DE' });
    await R.registry.registerGroup({
      config: { namespace: 'bench.group', info: '', minStake: T.toString(), maxStake: (1000n * T).toString(), maxOperators: OPERATORS + 1, allowListEnabled: false,
        startBlock: 0n, subscriptionRewardPerBlock: T.toString(), votingRewardPerBlock: T.toString(), slaVotingThreshold: 50, operationStartBlock: 1n, operationEndBlock: 1_000_000n, withdrawalDelay: 1 },
      budget: (100_000n * T).toString(), allowList: [],
    });
    await R.registry.registerSolution({ config: { namespace: 'bench.solution', group: 'bench.group', name: 'bench', description: '', logicRef: 'x', expirationBlock: 1_000_000n,
      maxWaitingThreshold: 3n, voteThresholdPercent: 60, quorumPercent: 50, votingStartMethod: 'REGISTRAR', nominationsEnabled: false, unresolvedPolicy: 'NONE' } });
    await Promise.all(operators.map(async (op, i) => {
      await ewx.registry.deposit({ account: op.address, amount: (100n * T).toString() });
      const o = ewx.withSigner(as(op));
      await o.registry.subscribe({ group: 'bench.group', stake: (BigInt(1 + (i % 50)) * T).toString() });
      const request: ConnectWorkerRequest = { auth: undefined, workerAuth: undefined, operator: op.address, worker: workers[i]!.address };
      const consent = await cosignWith(as(workers[i]!), '/ewx.v1.Registry/ConnectWorker', request, (m) => ConnectWorkerRequest.encode(m).finish());
      await o.registry.connectWorker({ ...request, workerAuth: { ...consent, signature: Buffer.from(consent.signature) } });
    }));
    await blocksTo(PERIOD + 1);
    let h = PERIOD + 1;
    for (let w = 0; w < WAVES; w++) {
      stage(`wave ${w + 1}/${WAVES}: ${ROUNDS} rounds × ${OPERATORS} votes`);
      const ids = Array.from({ length: ROUNDS }, (_, r) => `w${w}-r${r}`);
      for (const id of ids) await R.voting.startRound({ solution: 'bench.solution', roundId: id });
      for (const id of ids) {
        const votes = await Promise.all(workers.map((wk, i) => signVote(as(wk), { solution: 'bench.solution', roundId: id, result: Buffer.from(i % 7 === 0 ? 'bad0' : 'c0ffee', 'hex') })));
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

async function rawRead(source: LogSource): Promise<{ events: number; ms: number }> {
  const start = Date.now();
  let events = 0;
  for (const s of await source.services()) for await (const b of source.read(s)) events += b.length;
  return { events, ms: Date.now() - start };
}

const spec = process.env.BENCH_SOURCE;
let dataDir: string | undefined;
let source: LogSource;
if (spec === 'postgres') source = postgresSource(process.env.DATABASE_URL ?? '', process.env.EWX_NAMESPACE ?? '');
else if (spec?.startsWith('dir:')) source = await embeddedSource(spec.slice(4));
else if (spec?.startsWith('file:')) source = await fileSource(spec.slice(5));
else {
  dataDir = mkdtempSync(join(tmpdir(), 'ewx-audit-bench-'));
  await generate(dataDir);
  source = await embeddedSource(dataDir);
}
try {
  stage('raw read');
  const raw1 = await rawRead(source);
  stage('audit');
  const report = await audit(source);
  stage('raw read again');
  const raw2 = await rawRead(source);
  const raw = raw1.ms <= raw2.ms ? raw1 : raw2;
  const rate = (events: number, ms: number): number => Math.round((events * 1000) / Math.max(1, ms));
  process.stderr.write(formatReport(report).split('\n').slice(-9).join('\n') + '\n');
  console.log(JSON.stringify({
    bench: 'audit vs raw read', source: source.description, events: report.events, divergences: report.divergences.length,
    rawMs: raw.ms, rawEventsPerSecond: rate(raw.events, raw.ms), auditMs: report.ms, auditEventsPerSecond: rate(report.events, report.ms),
    auditShareOfRaw: Number((raw.ms / Math.max(1, report.ms)).toFixed(3)),
    perService: Object.fromEntries(report.services.map((s) => [s.service, s.events])),
  }));
} finally {
  await source.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}
