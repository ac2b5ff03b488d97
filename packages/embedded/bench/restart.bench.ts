/**
 * Restart time of each service in the production mode: five separate processes on real Kafka and
 * PostgreSQL. Builds a log (RESTART_BENCH_BLOCKS manual blocks, which every service records, and
 * RESTART_BENCH_DEPOSITS deposits, which registry and rewards record), then for each service and
 * each signal (SIGKILL: a crash; SIGTERM: a redeploy) stops the process, starts a new one at once
 * and times, from the signal: the first answered query (GetStatus), the first accepted command and
 * health SERVING; with the length of the log the new process replayed. Ends by checking that
 * nothing was lost or recorded twice. One JSON line per figure, then a table.
 *
 *   npm run bench -w @ewx/embedded       (needs Kafka on 127.0.0.1:9092 and PostgreSQL; DEVELOPING.md)
 *
 * RESTART_BENCH_ROOT=<checkout> runs that checkout's built services (an older commit, to compare);
 * RESTART_BENCH_ENV="KAFKA_SESSION_TIMEOUT_MS=30000" adds settings to every process;
 * RESTART_BENCH_SERVICES / RESTART_BENCH_SIGNALS pick a subset (comma-separated);
 * RESTART_BENCH_LOGS=<folder> keeps every process's log there (<service>-<n>.log).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { generateKeyPair, nonceCounter, signCommand, type Signed } from '@ewx/platform';
import { freePort, healthStatus, isServing, realInfra, REPO_ROOT, uniqueNamespace, waitFor } from '@ewx/platform/testing';
import { ConsensusClient, ProduceBlocksRequest } from '@ewx/proto/consensus';
import { AddIdentityRequest, DistanceClient } from '@ewx/proto/distance';
import { DepositRequest, RegistryClient } from '@ewx/proto/registry';
import { RewardsClient, SetRewardPeriodLengthRequest } from '@ewx/proto/rewards';
import { StartRoundRequest, VotingClient } from '@ewx/proto/voting';

type Name = 'registry' | 'voting' | 'consensus' | 'rewards' | 'distance';
const ALL: Name[] = ['registry', 'voting', 'consensus', 'rewards', 'distance'];
const list = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const SERVICES = (list(process.env.RESTART_BENCH_SERVICES).length ? list(process.env.RESTART_BENCH_SERVICES) : ALL) as Name[];
const SIGNALS = (list(process.env.RESTART_BENCH_SIGNALS).length ? list(process.env.RESTART_BENCH_SIGNALS) : ['SIGKILL', 'SIGTERM']) as NodeJS.Signals[];
const BLOCKS = Number(process.env.RESTART_BENCH_BLOCKS ?? 3000);
const DEPOSITS = Number(process.env.RESTART_BENCH_DEPOSITS ?? 1000);
const ROOT = resolve(process.env.RESTART_BENCH_ROOT ?? REPO_ROOT);
const EXTRA = Object.fromEntries(list(process.env.RESTART_BENCH_ENV).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

const t0 = Date.now();
const note = (what: string): void => void process.stderr.write(`# ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}\n`);

const { infra, skip } = await realInfra();
if (!infra) {
  console.log(JSON.stringify({ bench: 'restart', skipped: skip }));
  process.exit(0);
}
const ns = uniqueNamespace('restart');
const admin = generateKeyPair();
const nonce = nonceCounter();
const env: Record<string, string> = {
  DATABASE_URL: infra.databaseUrl,
  KAFKA_BROKERS: infra.brokers.join(','),
  EWX_NAMESPACE: ns,
  ADMIN_ADDRESS: admin.address,
  BLOCK_TIME_MS: 'manual',
  LOG_LEVEL: 'info',
  ...EXTRA,
};

const LOGS = process.env.RESTART_BENCH_LOGS;
if (LOGS) mkdirSync(LOGS, { recursive: true });
let spawned = 0;

interface Proc {
  name: Name;
  address: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  out(): string;
}
function spawnService(name: Name, port: number): Proc {
  const child = spawn(process.execPath, [resolve(ROOT, `services/${name}/dist/main.js`)], {
    env: { ...process.env, ...env, GRPC_PORT: String(port), GRPC_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const file = LOGS ? resolve(LOGS, `${name}-${++spawned}.log`) : undefined;
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-200_000);
    if (file) appendFileSync(file, d);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { name, address: `127.0.0.1:${port}`, child, exited, out: () => out };
}

// Short reconnect backoff: the figures are the server's, not grpc-js's default backoff (1 s × 1.6ⁿ).
const CHANNEL = { 'grpc.initial_reconnect_backoff_ms': 20, 'grpc.min_reconnect_backoff_ms': 20, 'grpc.max_reconnect_backoff_ms': 100 };
type Ctor<C> = new (a: string, c: grpc.ChannelCredentials, o: object) => C;
const clientOf = <C>(C: Ctor<C>, address: string): C => new C(address, grpc.credentials.createInsecure(), CHANNEL);
type Unary = (req: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: never) => void) => void;
const call = <R>(client: object, method: string, req: unknown): Promise<R> =>
  new Promise((res, rej) => {
    (client as Record<string, Unary>)[method]!.call(client, req, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e: grpc.ServiceError | null, r: R) =>
      e ? rej(e) : res(r),
    );
  });
const CLIENTS: Record<Name, Ctor<grpc.Client>> = {
  registry: RegistryClient,
  voting: VotingClient,
  consensus: ConsensusClient,
  rewards: RewardsClient,
  distance: DistanceClient,
};
const status = (name: Name, address: string) => call<{ logPosition: bigint; height: bigint }>(clientOf(CLIENTS[name], address), 'getStatus', {});

const account = generateKeyPair().address;
let deposited = 0n;
let deposits = 0;
let identity = 1_000_000;
const sign = <T extends Signed>(method: string, req: T, encode: (m: T) => { finish(): Uint8Array }): T =>
  signCommand(admin, method, req, nonce(), (m) => encode(m).finish());
/** One command per service; resolves when the service took it (decided by its rules), rejects with the gRPC error otherwise. */
const COMMANDS: Record<Name, (address: string) => Promise<unknown>> = {
  registry: async (a) => {
    await call(clientOf(RegistryClient, a), 'deposit', sign('/ewx.v1.Registry/Deposit', { auth: undefined, account, amount: '7' }, DepositRequest.encode));
    deposited += 7n;
    deposits++;
  },
  // The signer is no registrar: the round rules refuse it for its role (checked before the solution
  // is looked up), so the command was taken and decided, not turned away while starting.
  voting: (a) =>
    call(
      clientOf(VotingClient, a),
      'startRound',
      sign('/ewx.v1.Voting/StartRound', { auth: undefined, solution: 'bench-none', roundId: `r${identity++}` }, StartRoundRequest.encode),
    ).catch((e: grpc.ServiceError) => {
      if (!(e.code === grpc.status.PERMISSION_DENIED && /auth\.signer: only a solution's registrar/.test(e.details))) throw e;
    }),
  consensus: (a) =>
    call(clientOf(ConsensusClient, a), 'produceBlocks', sign('/ewx.v1.Consensus/ProduceBlocks', { auth: undefined, count: 1 }, ProduceBlocksRequest.encode)),
  rewards: (a) =>
    call(
      clientOf(RewardsClient, a),
      'setRewardPeriodLength',
      sign('/ewx.v1.Rewards/SetRewardPeriodLength', { auth: undefined, length: 100 }, SetRewardPeriodLengthRequest.encode),
    ),
  distance: (a) =>
    call(
      clientOf(DistanceClient, a),
      'addIdentity',
      sign('/ewx.v1.Distance/AddIdentity', { auth: undefined, identity: identity++, member: false }, AddIdentityRequest.encode),
    ),
};

const procs = new Map<Name, Proc>();
const stopAll = async (): Promise<void> => {
  for (const p of procs.values())
    if (p.child.exitCode === null) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
};
process.on('exit', () => {
  for (const p of procs.values()) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});
const start = async (name: Name): Promise<Proc> => {
  const p = spawnService(name, await freePort());
  procs.set(name, p);
  await waitFor(
    `${name} SERVING`,
    async () => {
      if (p.child.exitCode !== null) throw new Error(`${name} exited: ${p.out().slice(-2000)}`);
      const s = await healthStatus(p.address, '');
      return s !== undefined && isServing(s) ? true : undefined;
    },
    180_000,
    100,
  );
  return p;
};

try {
  note(`starting the five services from ${ROOT}`);
  for (const n of ALL) await start(n);
  note(`building the logs: ${BLOCKS} blocks, ${DEPOSITS} deposits`);
  for (let left = BLOCKS; left > 0; left -= 500) {
    await call(
      clientOf(ConsensusClient, procs.get('consensus')!.address),
      'produceBlocks',
      sign('/ewx.v1.Consensus/ProduceBlocks', { auth: undefined, count: Math.min(500, left) }, ProduceBlocksRequest.encode),
    );
  }
  for (let i = 0; i < DEPOSITS; i++) await COMMANDS.registry(procs.get('registry')!.address);
  const settled = async (): Promise<bigint> => {
    const height = (await status('consensus', procs.get('consensus')!.address)).height;
    await waitFor(
      'every service to record every block and rewards every deposit',
      async () => {
        for (const n of ALL) if ((await status(n, procs.get(n)!.address)).height !== height) return undefined;
        const v = await call<{ deposits: number }>(clientOf(RewardsClient, procs.get('rewards')!.address), 'getAccountView', { address: account });
        return v.deposits === deposits ? true : undefined;
      },
      600_000,
      500,
    );
    return height;
  };
  await settled();
  note('logs built');

  interface Row {
    service: Name;
    signal: string;
    logEvents: number;
    stopMs?: number;
    queryMs: number;
    commandMs: number;
    servingMs: number;
  }
  const rows: Row[] = [];
  for (const name of SERVICES) {
    for (const signal of SIGNALS) {
      const old = procs.get(name)!;
      const logEvents = Number((await status(name, old.address)).logPosition);
      const t = performance.now();
      old.child.kill(signal);
      await old.exited;
      const stopMs = performance.now() - t;
      const p = spawnService(name, await freePort());
      procs.set(name, p);
      const alive = (): void => {
        if (p.child.exitCode !== null) throw new Error(`${name} exited: ${p.out().slice(-2000)}`);
      };
      let servingMs: number | undefined;
      const watchHealth = (async () => {
        for (;;) {
          const s = await healthStatus(p.address, '');
          if (s !== undefined && isServing(s)) {
            servingMs = performance.now() - t;
            return;
          }
          if (p.child.exitCode !== null) return;
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const replayed = await waitFor(
        `${name}: first answered query`,
        async () => {
          alive();
          return status(name, p.address);
        },
        180_000,
        20,
      );
      const queryMs = performance.now() - t;
      await waitFor(
        `${name}: first accepted command`,
        async () => {
          alive();
          try {
            await COMMANDS[name](p.address);
            return true;
          } catch (e) {
            const err = e as grpc.ServiceError;
            if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.DEADLINE_EXCEEDED) return undefined;
            throw e;
          }
        },
        180_000,
        20,
      );
      const commandMs = performance.now() - t;
      await watchHealth;
      const row: Row = {
        service: name,
        signal,
        logEvents: Number(replayed.logPosition) || logEvents,
        ...(signal === 'SIGKILL' ? {} : { stopMs: Math.round(stopMs) }),
        queryMs: Math.round(queryMs),
        commandMs: Math.round(commandMs),
        servingMs: Math.round(servingMs ?? NaN),
      };
      rows.push(row);
      console.log(JSON.stringify({ figure: 'restart', ...row }));
    }
  }

  note('checking that nothing was lost or recorded twice');
  const height = await settled();
  const db = new pg.Client({ connectionString: infra.databaseUrl });
  await db.connect();
  const problems: string[] = [];
  try {
    for (const n of ALL) {
      const schema = `ewx_${ns}_${n}`;
      const r =
        await db.query(`SELECT count(*)::int AS n, count(DISTINCT (metadata->>'source', metadata->>'sourceStream', metadata->>'sourceVersion'))::int AS d,
        count(*) FILTER (WHERE type = 'BlockProduced')::int AS blocks FROM ${schema}.events WHERE metadata->>'source' IS NOT NULL`);
      const { n: recorded, d: distinct, blocks } = r.rows[0] as { n: number; d: number; blocks: number };
      if (recorded !== distinct) problems.push(`${n}: ${recorded - distinct} inbox events recorded twice`);
      if (n !== 'consensus' && BigInt(blocks) !== height) problems.push(`${n}: ${blocks} blocks recorded, consensus produced ${height}`);
    }
  } finally {
    await db.end();
  }
  const view = await call<{ deposits: number; deposited: string }>(clientOf(RewardsClient, procs.get('rewards')!.address), 'getAccountView', {
    address: account,
  });
  const acct = await call<{ free: string }>(clientOf(RegistryClient, procs.get('registry')!.address), 'getAccount', { address: account });
  if (view.deposits !== deposits || view.deposited !== String(deposited))
    problems.push(`rewards: ${view.deposits} deposits of ${view.deposited}, expected ${deposits} of ${deposited}`);
  if (acct.free !== String(deposited)) problems.push(`registry: balance ${acct.free}, expected ${deposited}`);
  console.log(JSON.stringify({ figure: 'restart: nothing lost or recorded twice', ok: problems.length === 0, height: Number(height), deposits, problems }));

  const pad = (s: unknown, n: number): string => String(s).padStart(n);
  console.log(
    `\nrestart after a signal, ms from the signal (${ROOT === REPO_ROOT ? 'this build' : ROOT}${Object.keys(EXTRA).length ? `, ${process.env.RESTART_BENCH_ENV}` : ''}):`,
  );
  console.log(`${'service'.padEnd(10)}${pad('signal', 8)}${pad('log events', 11)}${pad('stop', 7)}${pad('query', 8)}${pad('command', 9)}${pad('SERVING', 9)}`);
  for (const r of rows)
    console.log(
      `${r.service.padEnd(10)}${pad(r.signal, 8)}${pad(r.logEvents, 11)}${pad(r.stopMs ?? '-', 7)}${pad(r.queryMs, 8)}${pad(r.commandMs, 9)}${pad(r.servingMs, 9)}`,
    );
  // Issue 13's goal is a restart after 1,000,000 events in < 5 s; a log that long takes hours to build
  // here, so the figure is extrapolated linearly (replay today folds every event; no snapshot exists).
  for (const r of rows)
    console.log(
      JSON.stringify({
        figure: 'restart extrapolated to 1,000,000 events (linear, whole SERVING time / events; no snapshot)',
        service: r.service,
        signal: r.signal,
        logEvents: r.logEvents,
        servingMs: r.servingMs,
        extrapolatedSeconds: Math.round(((r.servingMs / r.logEvents) * 1e6) / 1000),
        goalSeconds: 5,
      }),
    );
  await stopAll();
  process.exit(problems.length === 0 ? 0 : 1);
} catch (e) {
  process.stderr.write(
    `restart bench failed: ${(e as Error).message}\n${[...procs.values()].map((p) => `--- ${p.name}\n${p.out().slice(-3000)}`).join('\n')}\n`,
  );
  await stopAll();
  process.exit(1);
}
