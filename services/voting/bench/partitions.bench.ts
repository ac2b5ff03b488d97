/**
 * Voting scaled out (VOTING_PARTITIONS=2, docs/SCALING.md section 4 item 5): batched signed votes
 * for two solutions (one in each partition) with one voting replica holding both partitions (the
 * baseline, same run), then with a second replica started (each holds one partition): votes sent to
 * each solution's owner, and all votes sent through one replica (which forwards half of them).
 * Consensus and both voting replicas are separate processes on PostgreSQL and Kafka. Prints figures.
 * Run: npx tsc -p services/voting/bench && npx tsx services/voting/bench/partitions.bench.ts
 * Knobs: BENCH_WORKERS (1000), BENCH_ROUNDS (2 per solution per phase), BENCH_VERIFY_THREADS.
 */
import { loadavg } from 'node:os';
import { encodePosition, generateKeyPair, kafkaBus, nonceCounter, partitionLeases, schemaFor, signCommand, silentLogger, toEnvelope, topicOf, type KeyPair } from '@ewx/platform';
import { freePort, insecureClient, realInfra, rpc, startServiceProcess, uniqueNamespace, waitFor, type ServiceProcess } from '@ewx/platform/testing';
import { ConsensusClient, ProduceBlocksRequest } from '@ewx/proto/consensus';
import { StartRoundRequest, SubmitVoteRequest, VotingClient } from '@ewx/proto/voting';
import { partitionOf } from '../src/app/partitions.js';

const WORKERS = Number(process.env.BENCH_WORKERS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const VERIFY_THREADS = process.env.BENCH_VERIFY_THREADS;
const BATCH = 500;
const IN_FLIGHT = 4;
const P = 2;
const t0 = Date.now();
const stage = (what: string): void => void process.stderr.write(`# ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}\n`);

const { infra, skip } = await realInfra();
if (!infra) {
  console.log(JSON.stringify({ bench: 'voting partitions', skipped: skip }));
  process.exit(0);
}
const solutions: string[] = [];
for (let i = 0; solutions.filter(Boolean).length < P; i++) solutions[partitionOf(`sol${i}`, P)] ??= `sol${i}`;
const ns = uniqueNamespace('parts');
const admin = generateKeyPair();
const registrar = generateKeyPair();
const env = { DATABASE_URL: infra.databaseUrl, KAFKA_BROKERS: infra.brokers.join(','), EWX_NAMESPACE: ns, ADMIN_ADDRESS: admin.address, BLOCK_TIME_MS: 'manual', LOG_LEVEL: 'error' };
const votingEnv = (id: string) => ({
  ...env,
  VOTING_PARTITIONS: String(P),
  VOTING_REPLICA_ID: id,
  VOTING_LEASE_MS: '3000',
  KAFKA_SESSION_TIMEOUT_MS: '6000',
  ...(VERIFY_THREADS !== undefined ? { VOTE_VERIFY_THREADS: VERIFY_THREADS } : {}),
});
const ports = { consensus: await freePort(), a: await freePort(), b: await freePort() };
const procs: ServiceProcess[] = [];
const bus = kafkaBus({ brokers: infra.brokers, clientId: `${ns}-bench`, log: silentLogger });
const leases = await partitionLeases(infra.databaseUrl, schemaFor(`${ns}_voting`), P);
const regNonce = nonceCounter();
try {
  stage('starting consensus and voting replica a');
  procs.push(await startServiceProcess('consensus', ports.consensus, env));
  procs.push(await startServiceProcess('voting', ports.a, votingEnv('a')));
  const consensus = insecureClient(ConsensusClient, `127.0.0.1:${ports.consensus}`);
  const A = insecureClient(VotingClient, `127.0.0.1:${ports.a}`);
  const B = insecureClient(VotingClient, `127.0.0.1:${ports.b}`);
  const workers: KeyPair[] = Array.from({ length: WORKERS }, () => generateKeyPair());
  let pos = 0n;
  const msg = (source: string, streamId: string, version: number, type: string, data: object) => ({
    key: streamId,
    value: JSON.stringify(toEnvelope(source, { streamId, version, position: encodePosition([++pos]), type, data: data as never })),
  });
  const config = (namespace: string) => ({
    namespace, group: 'grp', name: namespace, description: '', logicRef: 'x', expirationBlock: 1_000_000, maxWaitingThreshold: 900,
    voteThresholdPercent: 60, quorumPercent: 50, votingStartMethod: 'REGISTRAR', nominationsEnabled: false, unresolvedPolicy: 'NONE',
  });
  await bus.publish(topicOf('rewards', ns), [msg('rewards', 'schedule', 0, 'RewardPeriodScheduleChanged', { fromPeriod: 0, firstBlock: 1, length: 1000 })]);
  await bus.publish(topicOf('registry', ns), [
    msg('registry', 'group:grp', 0, 'GroupRegistered', { group: 'grp', owner: registrar.address, config: {}, budget: '0', height: 0 }),
    ...solutions.map((s) => msg('registry', `solution:${s}`, 0, 'SolutionRegistered', { solution: s, owner: registrar.address, config: config(s), height: 0 })),
  ]);
  for (let i = 0; i < WORKERS; i += 1000)
    await bus.publish(
      topicOf('registry', ns),
      workers.slice(i, i + 1000).flatMap((w, k) => {
        const op = `ed25519:${(i + k).toString(16).padStart(64, '0')}`;
        return [
          msg('registry', `operator:${op}`, 0, 'OperatorSubscribed', { group: 'grp', operator: op, stake: '1', activeFromPeriod: 0, height: 0 }),
          msg('registry', `operator:${op}`, 1, 'WorkerConnected', { operator: op, worker: w.address, height: 0 }),
        ];
      }),
    );
  await rpc(consensus, 'produceBlocks', signCommand(admin, '/ewx.v1.Consensus/ProduceBlocks', { auth: undefined, count: 1 }, nonceCounter()(), (m) => ProduceBlocksRequest.encode(m).finish()));
  const start = (via: VotingClient, solution: string, roundId: string) =>
    rpc(via, 'startRound', signCommand(registrar, '/ewx.v1.Voting/StartRound', { auth: undefined, solution, roundId }, regNonce(), (m) => StartRoundRequest.encode(m).finish()));
  let probe = 0;
  for (const s of solutions)
    await waitFor(`both partitions to record ${WORKERS} workers`, async () => ((await start(A, s, `probe${++probe}`).catch(() => undefined))?.eligible === WORKERS ? true : undefined), 600_000, 1000);
  stage(`both partitions know the ${WORKERS} workers`);

  let round = 0;
  /** One phase: ROUNDS new rounds per solution, every worker votes in each, in batches of BATCH (IN_FLIGHT in flight); `to(solution)` picks the replica. */
  const phase = async (name: string, to: (solution: string) => VotingClient) => {
    const ids = Array.from({ length: ROUNDS }, () => `r${++round}`);
    for (const s of solutions) for (const id of ids) await start(to(s), s, id);
    // Per round, one batch list: a worker's nonce grows with the round, so the rounds go one after the other.
    const perRound = ids.map((id, r) => {
      const batches: { via: VotingClient; votes: SubmitVoteRequest[] }[] = [];
      const bySolution = solutions.map((s) =>
        workers.map((w, i) =>
          signCommand(w, '/ewx.v1.Voting/SubmitVote', { auth: undefined, solution: s, roundId: id, result: Buffer.from([i % 10 < 7 ? 1 : 2]) }, BigInt(round * 10 + r + 1), (m) =>
            SubmitVoteRequest.encode(m).finish(),
          ),
        ),
      );
      // The two solutions' batches interleaved, so both partitions are busy at once.
      for (let i = 0; i < WORKERS; i += BATCH) for (const [k, votes] of bySolution.entries()) batches.push({ via: to(solutions[k]!), votes: votes.slice(i, i + BATCH) });
      return batches;
    });
    let refused = 0;
    const load = loadavg()[0]!;
    const t = performance.now();
    for (const batches of perRound) {
      let next = 0;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < batches.length) {
            const b = batches[next++]!;
            const r = await rpc(b.via, 'submitVotes', { votes: b.votes });
            refused += r.results.filter((x) => x.code !== 0).length;
          }
        }),
      );
    }
    const sec = (performance.now() - t) / 1000;
    const votes = perRound.flat().reduce((n, b) => n + b.votes.length, 0);
    stage(`${name}: ${Math.round(votes / sec)} votes/s`);
    return { votes, refused, seconds: +sec.toFixed(2), votesPerSecond: Math.round(votes / sec), loadAverageBefore: +load.toFixed(1) };
  };

  // A first phase warms the processes up (JIT, connections, caches) and is not counted.
  const warmUp = await phase('warm-up (one replica, not counted)', () => A);
  const one = await phase('one replica holds both partitions', () => A);
  stage('starting voting replica b');
  procs.push(await startServiceProcess('voting', ports.b, votingEnv('b')));
  const owners = await waitFor(
    'one partition per replica',
    async () => {
      const rows = (await leases.rows()).filter((r) => r.live);
      return rows.length === P && new Set(rows.map((r) => r.owner)).size === P ? new Map(rows.map((r) => [r.partition, r.owner])) : undefined;
    },
    120_000,
    200,
  );
  const ownerClient = (s: string) => (owners.get(partitionOf(s, P)) === 'a' ? A : B);
  // The moved partition is serving on b once a round starts there without UNAVAILABLE.
  for (const s of solutions) await waitFor(`${s} served by its owner`, () => start(ownerClient(s), s, `probe${++probe}`).catch(() => undefined), 120_000, 200);
  const two = await phase('two replicas, votes sent to each owner', ownerClient);
  const forwarded = await phase('two replicas, every vote through replica a (half forwarded)', () => A);
  // Back to one replica: b stops cleanly (gives its lease back), a takes its partition; the baseline again, same run.
  await procs.pop()!.stop();
  await waitFor('replica a to hold both partitions again', async () => ((await leases.rows()).every((r) => r.live && r.owner === 'a') ? true : undefined), 120_000, 200);
  for (const s of solutions) await waitFor(`${s} served by a`, () => start(A, s, `probe${++probe}`).catch(() => undefined), 120_000, 200);
  const oneAgain = await phase('one replica again (b stopped)', () => A);
  console.log(
    JSON.stringify(
      {
        bench: 'voting partitions: batched signed votes, 1 vs 2 voting replicas (VOTING_PARTITIONS=2), consensus + voting as separate processes on PostgreSQL and Kafka',
        workers: WORKERS, roundsPerSolutionPerPhase: ROUNDS, batch: BATCH, inFlight: IN_FLIGHT, verifyThreads: VERIFY_THREADS ?? 'default',
        warmUpNotCounted: warmUp, oneReplica: one, twoReplicasToOwner: two, twoReplicasThroughOne: forwarded, oneReplicaAgain: oneAgain,
        ratioTwoToOne: +((2 * two.votesPerSecond) / (one.votesPerSecond + oneAgain.votesPerSecond)).toFixed(2),
        ratioForwardedToOne: +((2 * forwarded.votesPerSecond) / (one.votesPerSecond + oneAgain.votesPerSecond)).toFixed(2),
        note: 'ratios to the mean of the two one-replica phases (before and after); every process and the client share the same cores',
        cores: (await import('node:os')).availableParallelism(),
        loadAverage: loadavg().map((x) => +x.toFixed(1)),
      },
      null,
      1,
    ),
  );
} finally {
  await bus.close();
  await leases.close();
  for (const p of procs.reverse()) await p.stop();
}
