/**
 * Load-and-fault suite (issue 13, item 6), run by hand: `npm run load-fault -- [options]`.
 * See `--help`. Five services as separate processes on the real Kafka and PostgreSQL, in a fresh
 * namespace (EWX_NAMESPACE) so nothing else on the broker or database is touched; sustained signed
 * votes while each service in turn is killed with SIGKILL and started again; then the checks.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { status as grpcStatus } from '@grpc/grpc-js';
import { connect, connectWorkerWithConsent, counterNonces, EwxCallError, generateKeyPair, keySigner, type Ewx, type KeyPair } from '@ewx/client';
import { testGroupConfig, testSolutionConfig } from '@ewx/client/testing';
import { RoundState, VotingClient } from '@ewx/proto/voting';
import { audit, formatReport, postgresSource, SERVICES, type ServiceName } from '@ewx/audit';
import { freePort, insecureClient, rpc, spawnServiceProcess, uniqueNamespace, waitFor } from '@ewx/platform/testing';
import { partitionOf } from '@ewx/voting/app/partitions';
import { castVotesSql } from '@ewx/voting/testing/votes-sql';

const HELP = `npm run load-fault -- [options]

Starts registry, voting, consensus, rewards and distance as separate processes on Kafka and
PostgreSQL (a fresh namespace per run), keeps signed votes flowing (rounds of --workers votes,
started one after the other), and in turn SIGKILLs each service and starts it again. Then checks:
no event lost (every accepted vote recorded; every block relayed to every inbox), none applied twice
(per-stream versions contiguous, no inbox event copied twice), every round settled exactly once,
and the audit (packages/audit: ledger invariant SPEC §2, replayed decisions) finds no divergence.
Prints p50/p99 latency vote → recorded and round end → settled, and votes/s per phase.

  --workers N          workers (one operator each) voting in every round (default 40)
  --phase-seconds S    length of each phase (a quiet baseline, then one per service) (default 20)
  --concurrency C      votes in flight (default 16)
  --block-ms MS        consensus block time (default 1000)
  --round-blocks B     a round's max waiting threshold in blocks (default 3)
  --block-run-max R    consensus BLOCK_RUN_MAX: blocks recorded as one run at the latest every R (default 1,
                       the standalone default; every service gets CONSENSUS_ADDRESS, so commands that read
                       the height ask for the counted blocks first, and each service asks for a run at its
                       own deadlines, e.g. the 20-block reward period's closes; deploy/k8s runs 7200)
  --services a,b       services to kill, in order (default all five)
  --voting-replicas N  N voting processes (N > 1: VOTING_PARTITIONS=N, one solution per partition, rounds
                       cycling through them; the client talks to the first replica, which forwards). In
                       voting's phase the second replica is SIGKILLed, the first takes its partitions
                       once the lease expires, then it is started again (default 1: one process)
  --voting-lease-ms MS VOTING_LEASE_MS with --voting-replicas (default 3000)
  --validators N       N consensus processes, one validator each, on the one consensus log (a settlement
                       needs more than two thirds of them: N = 1 or N ≥ 4 survives the loss of one), listed
                       in place order in every service's CONSENSUS_ADDRESS, as deploy/k8s runs 4. In
                       consensus's phase the producer (place 0) is SIGKILLed; the phase's figure is the
                       time until the standby at place 1 takes over (blocks advance again: about one
                       CLOCK_BEAT_TTL_MS, 3 block times, after the producer's last beat in PostgreSQL),
                       then place 0 is started again. The client reads
                       consensus from the last place (default 1)
  --restart-kafka CMD  also run CMD (e.g. "bash infra/kafka/stop.sh && bash infra/kafka/start.sh")
                       mid-run to restart the broker. Off by default: only on a dedicated machine.
  --restart-postgres CMD  the same for PostgreSQL. Off by default: only on a dedicated machine.
  --voting-session-ms MS  KAFKA_SESSION_TIMEOUT_MS of the voting replicas (default 6000). Longer: r0's start of
                       r1's partition (its inbox joins once r1's dead member expired) is still under way when
                       r1 is started again, so the hand-back begins during that start (the race of fail-back)
  --voting-logs DIR    voting processes log at LOG_LEVEL=info; their output (each process started, killed ones
                       included) is written to DIR/<replica>-<n>.log when the run ends (the hand-back's timeline)
  --help

Env: KAFKA_BROKERS (127.0.0.1:9092), DATABASE_URL (postgres://postgres@127.0.0.1:5432/ewx_test).
Exit code 0 when every check passes.`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(HELP);
  process.exit(0);
}
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : def;
};
for (const a of args)
  if (
    a.startsWith('--') &&
    ![
      '--workers',
      '--phase-seconds',
      '--concurrency',
      '--block-ms',
      '--round-blocks',
      '--block-run-max',
      '--services',
      '--voting-replicas',
      '--voting-lease-ms',
      '--validators',
      '--restart-kafka',
      '--restart-postgres',
      '--voting-logs',
      '--voting-session-ms',
    ].includes(a)
  ) {
    console.error(`load-fault: unknown option ${a} (see --help)`);
    process.exit(2);
  }
const num = (name: string, def: number): number => {
  const v = Number(opt(name, String(def)));
  if (!Number.isInteger(v) || v <= 0) {
    console.error(`load-fault: --${name} must be a positive integer`);
    process.exit(2);
  }
  return v;
};
const WORKERS = num('workers', 40);
const PHASE_MS = num('phase-seconds', 20) * 1000;
const CONCURRENCY = num('concurrency', 16);
const BLOCK_MS = num('block-ms', 1000);
const ROUND_BLOCKS = num('round-blocks', 3);
const BLOCK_RUN_MAX = num('block-run-max', 1);
const VOTING_REPLICAS = num('voting-replicas', 1);
const VOTING_LEASE_MS = num('voting-lease-ms', 3000);
const VOTING_SESSION_MS = num('voting-session-ms', 6000);
const VALIDATORS = num('validators', 1);
if (VALIDATORS === 2 || VALIDATORS === 3) {
  console.error(`load-fault: --validators ${VALIDATORS} cannot settle with one of them killed (more than two thirds must attest): use 1 or at least 4`);
  process.exit(2);
}
const KILL = opt('services', SERVICES.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as ServiceName[];
for (const s of KILL)
  if (!SERVICES.includes(s)) {
    console.error(`load-fault: unknown service ${s}`);
    process.exit(2);
  }
const RESTART_KAFKA = opt('restart-kafka', '');
const RESTART_PG = opt('restart-postgres', '');
const VOTING_LOG_DIR = opt('voting-logs', '');
const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const DB = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/ewx_test';

const T = 10n ** 18n;
const GROUP = 'load.group';
const SOLUTION = 'load.solution';
/** One solution per voting partition (the first names that fall in each), or the one solution. */
const SOLUTIONS: string[] = [];
if (VOTING_REPLICAS > 1)
  for (let i = 0; SOLUTIONS.filter(Boolean).length < VOTING_REPLICAS; i++) SOLUTIONS[partitionOf(`load${i}.solution`, VOTING_REPLICAS)] ??= `load${i}.solution`;
else SOLUTIONS.push(SOLUTION);
/** The voting logs: `voting`, or its partition logs. */
const VOTING_LOGS = VOTING_REPLICAS > 1 ? Array.from({ length: VOTING_REPLICAS }, (_, k) => `voting_p${k}`) : ['voting'];
const t0 = Date.now();
const note = (what: string): void => void console.error(`# ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number): number => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]!);
};
const transient = (e: unknown): boolean =>
  EwxCallError.is(e) &&
  [
    grpcStatus.UNAVAILABLE,
    grpcStatus.DEADLINE_EXCEEDED,
    grpcStatus.FAILED_PRECONDITION,
    grpcStatus.NOT_FOUND,
    grpcStatus.INTERNAL,
    grpcStatus.UNKNOWN,
  ].includes(e.code);
const seen = new Set<string>();
/** Prints each kind of refusal or failure the first time it is seen (progress, and what a retry was for). */
const firstSeen = (e: unknown): void => {
  const k = (e as Error).message
    .replace(/[0-9a-f]{16,}/g, '…')
    .replace(/\d+/g, 'N')
    .slice(0, 160);
  if (!seen.has(k)) {
    seen.add(k);
    note(`seen: ${(e as Error).message.slice(0, 300)}`);
  }
};
async function retry<R>(what: string, fn: () => Promise<R>, ms = 120_000): Promise<R> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      firstSeen(e);
      if (!transient(e) || Date.now() > end) throw new Error(`${what}: ${(e as Error).message}`);
      await sleep(200);
    }
  }
}

const ns = uniqueNamespace('loadfault');
const admin = generateKeyPair();
const registrar = generateKeyPair();
/** The validator set in place order: place 0 produces the blocks, the others stand by. */
const validators = Array.from({ length: VALIDATORS }, () => generateKeyPair());
const evaluator = generateKeyPair();
const distanceKey = generateKeyPair();
const operators = Array.from({ length: WORKERS }, () => generateKeyPair());
const workers = Array.from({ length: WORKERS }, () => generateKeyPair());
const ports = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, await freePort()]))) as Record<ServiceName, number>;
const addresses = Object.fromEntries(SERVICES.map((s) => [s, `127.0.0.1:${ports[s]}`])) as Record<ServiceName, string>;
/** Places 1.. of the validator set (place 0 is `consensus` at ports.consensus). */
const standbyPorts = await Promise.all(Array.from({ length: VALIDATORS - 1 }, () => freePort()));
const validatorAddresses = [addresses.consensus, ...standbyPorts.map((p) => `127.0.0.1:${p}`)];
const common = {
  DATABASE_URL: DB,
  KAFKA_BROKERS: BROKERS,
  EWX_NAMESPACE: ns,
  ADMIN_ADDRESS: admin.address,
  LOG_LEVEL: 'warn',
  BLOCK_TIME_MS: String(BLOCK_MS),
  BLOCK_RUN_MAX: String(BLOCK_RUN_MAX),
  REWARD_PERIOD_BLOCKS: '20',
  // Commands that read the height ask the producer to record its counted blocks first (RecordCountedBlocks).
  CONSENSUS_ADDRESS: validatorAddresses.join(','),
  REWARDS_SETTLEMENT_DELAY: '2',
  DISTANCE_PERIOD_BLOCKS: '10',
  DISTANCE_VALIDITY_PERIODS: '2',
  EVALUATORS: evaluator.address,
};
const envOf: Record<ServiceName, Record<string, string>> = {
  consensus: { ...common, VALIDATORS: validators.map((v) => v.address).join(','), VALIDATOR_KEY: validators[0]!.seed },
  registry: { ...common, LEDGER_SERVICE_ACCOUNTS: distanceKey.address },
  voting:
    VOTING_REPLICAS > 1
      ? {
          ...common,
          VOTING_PARTITIONS: String(VOTING_REPLICAS),
          VOTING_REPLICA_ID: 'r0',
          VOTING_LEASE_MS: String(VOTING_LEASE_MS),
          KAFKA_SESSION_TIMEOUT_MS: String(VOTING_SESSION_MS),
          ...(VOTING_LOG_DIR ? { LOG_LEVEL: 'info' } : {}),
        }
      : { ...common, ...(VOTING_LOG_DIR ? { LOG_LEVEL: 'info' } : {}) },
  rewards: common,
  distance: { ...common, DISTANCE_SERVICE_KEY: distanceKey.seed, REGISTRY_ADDRESS: addresses.registry },
};
type Proc = ReturnType<typeof spawnServiceProcess>;
const procs = new Map<ServiceName, Proc>();
/** Voting replicas after the first (the first is procs' `voting`, the client's address). */
const replicas: Proc[] = [];
const replicaPorts = await Promise.all(Array.from({ length: VOTING_REPLICAS - 1 }, () => freePort()));
/** Every voting process started (with --voting-logs: their output is written there at exit). */
const votingProcs: { name: string; p: Proc }[] = [];
const startReplica = async (i: number): Promise<void> => {
  const p = spawnServiceProcess('voting', replicaPorts[i]!, { ...envOf.voting, VOTING_REPLICA_ID: `r${i + 1}` });
  replicas[i] = p;
  votingProcs.push({ name: `r${i + 1}`, p });
  await p.serving(180_000);
};
/** Consensus processes at places 1.. of the validator set. */
const standbys: Proc[] = [];
const startStandby = async (i: number): Promise<void> => {
  const p = spawnServiceProcess('consensus', standbyPorts[i]!, { ...envOf.consensus, VALIDATOR_KEY: validators[i + 1]!.seed });
  standbys[i] = p;
  await p.serving(180_000);
};
process.on('exit', () => {
  if (VOTING_LOG_DIR) {
    mkdirSync(VOTING_LOG_DIR, { recursive: true });
    const n = new Map<string, number>();
    for (const { name, p } of votingProcs) {
      const i = (n.get(name) ?? 0) + 1;
      n.set(name, i);
      writeFileSync(join(VOTING_LOG_DIR, `${name}-${i}.log`), p.output());
    }
  }
  for (const p of [...procs.values(), ...replicas, ...standbys]) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});
const start = async (s: ServiceName): Promise<number> => {
  const t = performance.now();
  const p = spawnServiceProcess(s, ports[s], envOf[s]);
  procs.set(s, p);
  if (s === 'voting') votingProcs.push({ name: VOTING_REPLICAS > 1 ? 'r0' : 'voting', p });
  await p.serving(180_000);
  return performance.now() - t;
};

const nonce = counterNonces(BigInt(Date.now()) * 1000n);
// With several validators the client reads consensus from the last place: never killed.
const ewx = connect({ addresses: { ...addresses, consensus: validatorAddresses.at(-1)! }, signer: keySigner(admin, nonce), deadlineMs: 10_000, retry: false });
const by = (k: KeyPair): Ewx => ewx.withSigner(keySigner(k, nonce));
const W = workers.map((w) => by(w));
const R = by(registrar);

interface RoundTrack {
  id: string;
  solution: string;
  startedAt: number;
  endBlock: bigint;
  endSeenAt?: number;
  settledAt?: number;
  phase: string;
}
const rounds: RoundTrack[] = [];
const voteLatency: number[] = [];
const phaseStats: { phase: string; votes: number; seconds: number; retried: number; restartMs?: number }[] = [];
let accepted = 0;
let retriedVotes = 0;
let alreadyOnRetry = 0;
const acceptedPerRound = new Map<string, number>();
const unknownPerRound = new Map<string, number>();
let closedOnRetry = 0;

try {
  note(`namespace ${ns}; starting the five services (block ${BLOCK_MS} ms, ${WORKERS} workers)`);
  await start('consensus');
  for (let i = 0; i < VALIDATORS - 1; i++) await startStandby(i);
  if (VALIDATORS > 1) note(`${VALIDATORS} validators on one consensus log, CONSENSUS_ADDRESS=${common.CONSENSUS_ADDRESS}`);
  for (const s of ['registry', 'voting', 'rewards', 'distance'] as const) await start(s);
  for (let i = 0; i < VOTING_REPLICAS - 1; i++) await startReplica(i);
  if (VOTING_REPLICAS > 1) note(`${VOTING_REPLICAS} voting replicas, VOTING_PARTITIONS=${VOTING_REPLICAS}, solutions ${SOLUTIONS.join(', ')}`);
  note('setting up: deposits, a registrar, a group, a solution, operators with workers');
  await retry('reward calendar', () => ewx.rewards.getCurrentPeriod({}));
  await ewx.registry.deposit({ account: registrar.address, amount: (1000n * T).toString() });
  for (const o of operators) await ewx.registry.deposit({ account: o.address, amount: (10n * T).toString() });
  await R.registry.signUpRegistrar({ friendlyName: 'load', legalLocation: 'DE' });
  await retry('group', () =>
    R.registry.registerGroup({
      config: testGroupConfig(GROUP, {
        info: 'load',
        maxOperators: WORKERS,
        subscriptionRewardPerBlock: '1000',
        votingRewardPerBlock: '1000',
        operationEndBlock: 10_000_000n,
      }),
      budget: (500n * T).toString(),
      allowList: [],
    }),
  );
  for (const [i, solution] of SOLUTIONS.entries())
    await R.registry.registerSolution({
      config: testSolutionConfig(solution, GROUP, {
        name: i === 0 ? 'load' : `load${i}`,
        logicRef: 'bafy-load',
        expirationBlock: 10_000_000n,
        maxWaitingThreshold: BigInt(ROUND_BLOCKS),
      }),
    });
  const signer = (k: KeyPair) => keySigner(k, nonce);
  await Promise.all(
    operators.map(async (op, i) => {
      await by(op).registry.subscribe({ group: GROUP, stake: (2n * T).toString() });
      await connectWorkerWithConsent(ewx, signer(op), signer(workers[i]!));
    }),
  );
  // Subscriptions count from the next reward period: wait until voting sees every worker eligible.
  let probe = 0;
  for (const solution of SOLUTIONS)
    await retry(
      'voting to see every worker eligible',
      async () => {
        const r = await R.voting.startRound({ solution, roundId: `probe-${++probe}` });
        rounds.push({ id: `probe-${probe}`, solution, startedAt: performance.now(), endBlock: r.endBlock ?? 0n, phase: 'setup' });
        if (r.eligible !== WORKERS) throw new EwxCallError('probe', grpcStatus.FAILED_PRECONDITION, `${r.eligible} of ${WORKERS} eligible`);
      },
      300_000,
    );
  note(`setup done: ${WORKERS} workers eligible after ${probe} probe rounds`);

  // Watches the clock and the rounds: round end (consensus height ≥ its end block) → settled.
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      try {
        const h = (await ewx.consensus.getStatus({})).height;
        const now = performance.now();
        for (const r of rounds) if (r.endSeenAt === undefined && h >= r.endBlock) r.endSeenAt = now;
        for (const r of rounds.filter((x) => x.settledAt === undefined && x.endSeenAt !== undefined).slice(0, 20)) {
          const v = await ewx.voting.getRound({ solution: r.solution, roundId: r.id });
          if (v.state !== RoundState.ROUND_STATE_SETTLED && v.state !== RoundState.ROUND_STATE_UNRESOLVED) continue;
          const c = await ewx.consensus.getSettlement({ solution: r.solution, roundId: r.id });
          if (c.state === 'SETTLED' || c.state === 'UNRESOLVED') r.settledAt = performance.now();
        }
      } catch {
        /* a service is down: try again */
      }
      await sleep(100);
    }
  })();

  let roundNo = 0;
  const runPhase = async (phase: string, fault?: () => Promise<number | undefined>): Promise<void> => {
    const end = performance.now() + PHASE_MS;
    const before = accepted;
    const retriedBefore = retriedVotes;
    const t = performance.now();
    let faultMs: number | undefined;
    const faulting = fault
      ? (async () => {
          await sleep(PHASE_MS / 3);
          faultMs = await fault();
        })()
      : Promise.resolve();
    while (performance.now() < end) {
      const id = `r${++roundNo}`;
      const solution = SOLUTIONS[roundNo % SOLUTIONS.length]!;
      let tried = false;
      const started = await retry(`start ${id}`, async () => {
        try {
          return await R.voting.startRound({ solution, roundId: id });
        } catch (e) {
          // A start recorded before a crash (voting killed with the call in flight): the retry finds the round.
          if (tried && EwxCallError.is(e) && e.code === grpcStatus.ALREADY_EXISTS) return R.voting.getRound({ solution, roundId: id });
          tried = true;
          throw e;
        }
      });
      rounds.push({ id, solution, startedAt: performance.now(), endBlock: started.endBlock ?? 0n, phase });
      // All workers but the last vote: the round ends at its end block, not early.
      const voters = W.slice(0, WORKERS - 1);
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < voters.length) {
            const i = next++;
            const tv = performance.now();
            let tries = 0;
            for (;;) {
              try {
                await voters[i]!.voting.submitVote({ solution, roundId: id, result: Buffer.from([i % 10 < 7 ? 0xaa : 0xbb]) });
                break;
              } catch (e) {
                tries++;
                firstSeen(e);
                // A retry refused because the vote is already there: the first attempt was recorded before the crash.
                if (tries > 1 && EwxCallError.is(e) && (e.code === grpcStatus.ALREADY_EXISTS || /already voted|already/.test(e.message))) {
                  alreadyOnRetry++;
                  break;
                }
                // The round ended while the vote could not reach voting: refused, not recorded — unless an
                // attempt before a crash was recorded, so this vote counts as unknown in the checks.
                if (tries > 1 && EwxCallError.is(e) && /votes are closed/.test(e.message)) {
                  unknownPerRound.set(id, (unknownPerRound.get(id) ?? 0) + 1);
                  closedOnRetry++;
                  tries = -1;
                  break;
                }
                if (!transient(e) || performance.now() - tv > 180_000) throw new Error(`vote ${id}/${i}: ${(e as Error).message}`);
                await sleep(100);
              }
            }
            if (tries === -1) continue;
            if (tries > 0) retriedVotes++;
            voteLatency.push(performance.now() - tv);
            accepted++;
            acceptedPerRound.set(id, (acceptedPerRound.get(id) ?? 0) + 1);
          }
        }),
      );
    }
    await faulting;
    const seconds = (performance.now() - t) / 1000;
    phaseStats.push({
      phase,
      votes: accepted - before,
      seconds: +seconds.toFixed(1),
      retried: retriedVotes - retriedBefore,
      ...(faultMs !== undefined ? { restartMs: Math.round(faultMs) } : {}),
    });
    note(
      `${phase}: ${accepted - before} votes in ${seconds.toFixed(1)} s (${Math.round((accepted - before) / seconds)}/s), ${retriedVotes - retriedBefore} retried${faultMs !== undefined ? `, recovered ${Math.round(faultMs)} ms after the fault (back SERVING, or the take-over)` : ''}`,
    );
  };

  await runPhase('baseline (no fault)');
  for (const s of KILL) {
    if (s === 'voting' && VOTING_REPLICAS > 1) {
      // The second replica is killed; the first takes its partitions once their lease expired (the
      // phase's figure is that fail-over time), then the second is started again (and takes its share back).
      await runPhase('SIGKILL voting replica r1 (fail-over to r0)', async () => {
        note('SIGKILL voting replica r1');
        await replicas[0]!.kill();
        const t = performance.now();
        const db = new pg.Client({ connectionString: DB });
        await db.connect();
        try {
          await waitFor(
            'voting replica r0 to hold every partition',
            async () =>
              (await db.query(`SELECT count(*)::int AS n FROM ewx_${ns}_voting.partition_leases WHERE owner = 'r0' AND expires_at > now()`)).rows[0].n ===
              VOTING_REPLICAS
                ? true
                : undefined,
            120_000,
            50,
          );
        } finally {
          await db.end();
        }
        const failOver = performance.now() - t;
        note(`r0 holds every partition ${Math.round(failOver)} ms after the SIGKILL; starting r1 again`);
        const restart = performance.now();
        await startReplica(0);
        // The hand-back, not waited for (the load goes on): r1 holds a partition again (its lease: r0 has
        // stopped and released it; r1 serves it once started, see --voting-logs for when).
        void (async () => {
          const db2 = new pg.Client({ connectionString: DB });
          await db2.connect();
          try {
            await waitFor(
              'r1 to hold a partition again',
              async () =>
                (await db2.query(`SELECT count(*)::int AS n FROM ewx_${ns}_voting.partition_leases WHERE owner = 'r1' AND expires_at > now()`)).rows[0].n > 0
                  ? true
                  : undefined,
              300_000,
              50,
            );
            note(`hand-back: r1 holds its partition again ${Math.round(performance.now() - restart)} ms after it was started again`);
          } finally {
            await db2.end();
          }
        })().catch((e: Error) => note(`hand-back not seen: ${e.message}`));
        return failOver;
      });
      continue;
    }
    if (s === 'consensus' && VALIDATORS > 1) {
      // The producer is killed; blocks stop until the standby at place 1 takes over (the phase's
      // figure), then the producer is started again.
      await runPhase('SIGKILL the producing validator (take-over by place 1)', async () => {
        const h0 = (await ewx.consensus.getStatus({})).height;
        note(`SIGKILL consensus place 0 at height ${h0}`);
        await procs.get('consensus')!.kill();
        const t = performance.now();
        // Blocks the producer counted but did not record are lost (fewer than BLOCK_RUN_MAX): the
        // take-over is when the height passes where it was by a block the standby recorded.
        await waitFor('a standby to record blocks', async () => ((await ewx.consensus.getStatus({})).height > h0 + 1n ? true : undefined), 600_000, 100);
        const takeOver = performance.now() - t;
        note(`blocks advance again ${Math.round(takeOver)} ms after the SIGKILL; starting place 0 again`);
        await start('consensus');
        return takeOver;
      });
      continue;
    }
    await runPhase(`SIGKILL ${s}`, async () => {
      note(`SIGKILL ${s}`);
      await procs.get(s)!.kill();
      return start(s);
    });
  }
  const shell = (what: string, cmd: string) => async (): Promise<undefined> => {
    note(`${what}: ${cmd}`);
    const r = spawnSync('bash', ['-c', cmd], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`${what} failed with ${r.status}`);
    return undefined;
  };
  if (RESTART_KAFKA) await runPhase('restart Kafka', shell('restart Kafka', RESTART_KAFKA));
  if (RESTART_PG) await runPhase('restart PostgreSQL', shell('restart PostgreSQL', RESTART_PG));

  note('load stopped; waiting for every round to be settled or unresolved in voting and consensus');
  const waitEnd = Date.now() + 300_000;
  while (rounds.some((r) => r.settledAt === undefined) && Date.now() < waitEnd) await sleep(500);
  watching = false;
  await watcher;
  // Let every service catch up with the same height before the logs are read.
  const height = (await ewx.consensus.getStatus({})).height;
  await retry('every service at the last height', async () => {
    for (const s of SERVICES) if ((await ewx[s].getStatus({})).height < height) throw new EwxCallError('status', grpcStatus.FAILED_PRECONDITION, `${s} behind`);
  });
  // Each voting replica answers GetStatus from the lowest partition it holds: every partition is asked through its owner.
  for (const r of replicas)
    await retry('every voting replica at the last height', async () => {
      const v = insecureClient(VotingClient, r.address);
      try {
        if ((await rpc(v, 'getStatus', {})).height < height)
          throw new EwxCallError('status', grpcStatus.FAILED_PRECONDITION, `voting replica ${r.address} behind`);
      } catch (e) {
        throw EwxCallError.is(e) ? e : new EwxCallError('status', grpcStatus.UNAVAILABLE, (e as Error).message);
      } finally {
        v.close();
      }
    });
  for (const p of [...replicas, ...standbys, ...procs.values()]) await p.stop();

  note('checks');
  const problems: string[] = [];
  const unsettled = rounds.filter((r) => r.settledAt === undefined);
  if (unsettled.length)
    problems.push(
      `${unsettled.length} round(s) not settled: ${unsettled
        .slice(0, 5)
        .map((r) => r.id)
        .join(', ')}`,
    );
  const db = new pg.Client({ connectionString: DB });
  await db.connect();
  const checks: Record<string, unknown> = {};
  try {
    // A partitioned voting: its partition logs instead of `voting` (left empty).
    const LOGS = SERVICES.flatMap((s) => (s === 'voting' ? VOTING_LOGS : [s]));
    for (const s of LOGS) {
      const schema = `ewx_${ns}_${s}`;
      const gaps = (
        await db.query(
          `SELECT count(*)::int AS n FROM (SELECT stream_id FROM ${schema}.events GROUP BY stream_id HAVING max(version) + 1 <> count(*) OR min(version) <> 0) x`,
        )
      ).rows[0].n as number;
      if (gaps) problems.push(`${s}: ${gaps} stream(s) whose versions are not contiguous from 0`);
      const r = (
        await db.query(`SELECT count(*)::int AS n, count(DISTINCT (metadata->>'source', metadata->>'sourceStream', metadata->>'sourceVersion'))::int AS d,
        coalesce(sum(CASE WHEN type = 'BlockProduced' THEN 1 WHEN type = 'BlocksProduced' THEN (data->>'to')::int - (data->>'from')::int + 1 END), 0)::int AS blocks FROM ${schema}.events WHERE metadata->>'source' IS NOT NULL`)
      ).rows[0] as { n: number; d: number; blocks: number };
      if (r.n !== r.d) problems.push(`${s}: ${r.n - r.d} inbox event(s) recorded twice`);
      const all = (await db.query(`SELECT count(*)::int AS n FROM ${schema}.events`)).rows[0].n as number;
      checks[s] = { events: all, inboxEvents: r.n, blocks: s === 'consensus' ? Number(height) : r.blocks, streamsWithGaps: gaps };
      // The clock keeps running during the check: each log holds at least the blocks up to `height`
      // (every service reached it), and no more than consensus has produced (read after them, below).
      if (s !== 'consensus' && BigInt(r.blocks) < height) problems.push(`${s}: ${r.blocks} blocks recorded, consensus produced ${height}`);
    }
    const produced = (
      await db.query(
        `SELECT coalesce(sum(CASE WHEN type = 'BlockProduced' THEN 1 WHEN type = 'BlocksProduced' THEN (data->>'to')::int - (data->>'from')::int + 1 END), 0)::int AS blocks FROM ewx_${ns}_consensus.events WHERE metadata->>'source' IS NULL`,
      )
    ).rows[0].blocks as number;
    for (const s of LOGS) {
      const c = checks[s] as { blocks: number };
      if (s !== 'consensus' && c.blocks > produced) problems.push(`${s}: ${c.blocks} blocks recorded, more than the ${produced} consensus produced`);
    }
    const votes = (
      await db.query(
        `SELECT stream_id, count(*)::int AS n FROM (${VOTING_LOGS.map((l) => castVotesSql(`ewx_${ns}_${l}.events`)).join(' UNION ALL ')}) v GROUP BY stream_id`,
      )
    ).rows as {
      stream_id: string;
      n: number;
    }[];
    const byRound = new Map(votes.map((v) => [v.stream_id.split(':').pop()!, v.n]));
    let lost = 0;
    let twice = 0;
    for (const id of new Set([...acceptedPerRound.keys(), ...unknownPerRound.keys()])) {
      const n = acceptedPerRound.get(id) ?? 0;
      const got = byRound.get(id) ?? 0;
      if (got < n) lost += n - got;
      if (got > n + (unknownPerRound.get(id) ?? 0)) twice += got - n - (unknownPerRound.get(id) ?? 0);
    }
    if (lost) problems.push(`voting: ${lost} accepted vote(s) not recorded`);
    if (twice) problems.push(`voting: ${twice} vote(s) recorded more than accepted`);
    const settled = (
      await db.query(
        `SELECT data->>'roundId' AS id, count(*)::int AS n FROM ewx_${ns}_consensus.events WHERE type IN ('RoundSettled', 'RoundUnresolved') GROUP BY 1`,
      )
    ).rows as { id: string; n: number }[];
    const settledMap = new Map(settled.map((x) => [x.id, x.n]));
    const notOnce = rounds.filter((r) => settledMap.get(r.id) !== 1);
    if (notOnce.length)
      problems.push(
        `consensus: ${notOnce.length} round(s) not settled exactly once (${notOnce
          .slice(0, 5)
          .map((r) => `${r.id}×${settledMap.get(r.id) ?? 0}`)
          .join(', ')})`,
      );
    checks.votes = {
      accepted,
      recorded: [...byRound.values()].reduce((a, b) => a + b, 0),
      retried: retriedVotes,
      alreadyRecordedOnRetry: alreadyOnRetry,
      refusedAsClosedOnRetry: closedOnRetry,
      lost,
      twice,
    };
    checks.rounds = { started: rounds.length, settledOnce: rounds.length - notOnce.length };
  } finally {
    await db.end();
  }
  note(`audit over the PostgreSQL schemas${VOTING_REPLICAS > 1 ? ` (voting's ${VOTING_REPLICAS} partition logs each audited as a voting log)` : ''}`);
  const source = postgresSource(DB, ns);
  const report = await audit(source);
  await source.close();
  if (report.divergences.length) problems.push(`audit: ${report.divergences.length} divergence(s)\n${formatReport(report)}`);
  const ledger = report.services.find((s) => s.service === 'registry')?.checks['ledger-invariant'];
  checks.audit = { divergences: report.divergences.length, ledgerInvariantChecks: ledger, pending: report.notes.filter((n) => n.kind === 'pending').length };

  const roundLatency = rounds
    .filter((r) => r.phase !== 'setup' && r.settledAt !== undefined && r.endSeenAt !== undefined)
    .map((r) => r.settledAt! - r.endSeenAt!);
  const base = phaseStats[0]!;
  console.log(
    JSON.stringify(
      {
        suite: 'load and fault',
        namespace: ns,
        workers: WORKERS,
        concurrency: CONCURRENCY,
        blockMs: BLOCK_MS,
        blockRunMax: BLOCK_RUN_MAX,
        votingReplicas: VOTING_REPLICAS,
        phaseSeconds: PHASE_MS / 1000,
        latencyMs: {
          voteToRecorded: { p50: pct(voteLatency, 0.5), p99: pct(voteLatency, 0.99), n: voteLatency.length },
          roundEndToSettled: {
            p50: pct(roundLatency, 0.5),
            p99: pct(roundLatency, 0.99),
            n: roundLatency.length,
            note: `polled every 100 ms; a round ends at its end block (${ROUND_BLOCKS} blocks)`,
          },
        },
        throughput: phaseStats.map((p) => ({
          ...p,
          votesPerSecond: Math.round(p.votes / p.seconds),
          ofBaseline: +(p.votes / p.seconds / (base.votes / base.seconds)).toFixed(2),
        })),
        checks,
        ok: problems.length === 0,
        problems,
        loadAverage: loadavg().map((x) => +x.toFixed(1)),
      },
      null,
      1,
    ),
  );
  ewx.close();
  process.exit(problems.length ? 1 : 0);
} catch (e) {
  console.error(`load-fault failed: ${(e as Error).stack ?? e}\n${[...procs.values()].map((p) => `--- ${p.name}\n${p.output().slice(-3000)}`).join('\n')}`);
  process.exit(1);
}
