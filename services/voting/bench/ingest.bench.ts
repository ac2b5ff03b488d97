/**
 * Signed votes through gRPC into the store, every service a separate process on PostgreSQL and
 * Kafka (consensus for the block clock, voting for the votes). Compares votes/s with a plain
 * batched PostgreSQL insert of the same rows and with the signature ceilings (ed25519 verifies per
 * second on one core with Node's crypto and with libsodium) measured in the same run, and prints
 * the CPU time voting and consensus spend per batched vote (load-independent, unlike votes/s on a
 * shared machine). Prints figures only.
 * Run: npm run bench -w @ewx/voting   (needs Kafka on 127.0.0.1:9092 and PostgreSQL; see DEVELOPING.md)
 * Knobs: BENCH_WORKERS (5000), BENCH_ROUNDS_PER_MODE (2: rounds of BENCH_WORKERS votes per mode),
 * BENCH_VERIFY_THREADS (voting's VOTE_VERIFY_THREADS), BENCH_SKIP_SINGLE=1 (batched mode only),
 * BENCH_PROFILE (a file voting `--require`s: an inspector profile; consensus too with
 * BENCH_PROFILE_CONSENSUS=1; with BENCH_PROFILE=bench/profile-window.cjs and BENCH_PROFILE_WINDOW=<dir>
 * each profiles only the batched window, written to <dir>), BENCH_NODE_OPTIONS (voting's
 * NODE_OPTIONS), BENCH_CONSENSUS_NODE_OPTIONS (consensus's), BENCH_SETUP_TIMEOUT_MS; the services'
 * own settings (e.g. SNAPSHOT_EVERY) pass through from the bench's environment. To compare with another build, run this file from that
 * build's checkout (the bench is only a client; alternate the runs).
 */
import pg from 'pg';
import { encodePosition, generateKeyPair, kafkaBus, nonceCounter, signCommand, silentLogger, toEnvelope, topicOf, type KeyPair } from '@ewx/platform';
import { freePort, insecureClient, realInfra, rpc, startServiceProcess, uniqueNamespace, waitFor, type ServiceProcess } from '@ewx/platform/testing';
import { ConsensusClient, ProduceBlocksRequest } from '@ewx/proto/consensus';
import { StartRoundRequest, SubmitVoteRequest, VotingClient } from '@ewx/proto/voting';

const WORKERS = Number(process.env.BENCH_WORKERS ?? 5000);
/** How long voting may take to record the workers' registry events (its inbox: one transaction per event). */
const SETUP_TIMEOUT_MS = Number(process.env.BENCH_SETUP_TIMEOUT_MS ?? 600_000);
/** Voting's VOTE_VERIFY_THREADS for this run (unset: the service's default). */
const VERIFY_THREADS = process.env.BENCH_VERIFY_THREADS;
const ROUNDS_PER_MODE = Number(process.env.BENCH_ROUNDS_PER_MODE ?? 2);
/** BENCH_SKIP_SINGLE=1: the batched mode only (no SubmitVote per vote; for a profile of the batched mode alone). */
const SKIP_SINGLE = process.env.BENCH_SKIP_SINGLE === '1';
/** The signature-check ceiling: ed25519 verifies per second on one core with Node's crypto, in this process. */
const verifyCeiling = async (): Promise<number> => {
  const { generateKeyPairSync, sign, verify } = await import('node:crypto');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const msgs = Array.from({ length: 2000 }, (_, i) => Buffer.from(`/ewx.v1.Voting/SubmitVote ${i} ${'x'.repeat(120)}`));
  const sigs = msgs.map((m) => sign(null, m, privateKey));
  let n = 0;
  const t = performance.now();
  while (performance.now() - t < 2000) for (let i = 0; i < msgs.length; i++, n++) if (!verify(null, msgs[i]!, publicKey, sigs[i]!)) throw new Error('verify');
  return Math.round(n / ((performance.now() - t) / 1000));
};
/** The same with libsodium (the optional sodium-native voting uses first), or undefined where it does not load. */
const sodiumCeiling = async (): Promise<number | undefined> => {
  let verify: ((s: Uint8Array, m: Uint8Array, k: Uint8Array) => boolean) | undefined;
  try {
    const m = (await import('node:module')).createRequire(import.meta.url)('sodium-native') as { crypto_sign_verify_detached: NonNullable<typeof verify> };
    verify = m.crypto_sign_verify_detached.bind(m);
  } catch {
    return undefined;
  }
  const { generateKeyPairSync, sign } = await import('node:crypto');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(12);
  const msgs = Array.from({ length: 2000 }, (_, i) => Buffer.from(`/ewx.v1.Voting/SubmitVote ${i} ${'x'.repeat(120)}`));
  const sigs = msgs.map((m) => sign(null, m, privateKey));
  let n = 0;
  const t = performance.now();
  while (performance.now() - t < 2000) for (let i = 0; i < msgs.length; i++, n++) if (!verify(sigs[i]!, msgs[i]!, raw)) throw new Error('verify');
  return Math.round(n / ((performance.now() - t) / 1000));
};
const rssMb = async (pid: number | undefined): Promise<number> => {
  const m = /VmRSS:\s+(\d+) kB/.exec(await (await import('node:fs/promises')).readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
};
/** CPU seconds of every process whose command is PostgreSQL or Kafka's JVM (shared infra: other users' work counts too), and this client's. */
const infraCpuSec = async (): Promise<{ postgres: number; kafka: number; client: number }> => {
  const fs = await import('node:fs/promises');
  let postgres = 0;
  let kafka = 0;
  for (const d of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const raw = await fs.readFile(`/proc/${d}/stat`, 'utf8').catch(() => '');
    const comm = /\((.*)\)/.exec(raw)?.[1];
    if (comm !== 'postgres' && comm !== 'java') continue;
    const f = raw.split(') ')[1]!.split(' ');
    // utime + stime, plus the reaped children's (a PostgreSQL backend that ended counts in the postmaster's).
    const s = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
    if (comm === 'postgres') postgres += s;
    else if ((await fs.readFile(`/proc/${d}/cmdline`, 'utf8').catch(() => '')).includes('kafka.Kafka')) kafka += s;
  }
  const c = process.cpuUsage();
  return { postgres, kafka, client: (c.user + c.system) / 1e6 };
};
/**
 * CPU seconds so far of the PostgreSQL backends serving each of `pids` (their TCP connections to
 * port 5432 matched to pg_stat_activity's client ports): the database's work for these processes
 * alone, unlike the machine-wide figure above. A backend that ended in between is not counted.
 */
const backendCpuSec = async (db: pg.Client, pids: Record<string, number | undefined>): Promise<Record<string, Map<number, number>>> => {
  const fs = await import('node:fs/promises');
  const portOf = new Map<string, number>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (await fs.readFile(f, 'utf8').catch(() => '')).split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 10 || !c[2]!.endsWith(':1538')) continue;
      portOf.set(c[9]!, Number.parseInt(c[1]!.split(':')[1]!, 16));
    }
  }
  const byPort = new Map((await db.query('SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL')).rows.map((r) => [r.client_port as number, r.pid as number]));
  const out: Record<string, Map<number, number>> = {};
  for (const [name, pid] of Object.entries(pids)) {
    const m = new Map<number, number>();
    for (const fd of await fs.readdir(`/proc/${pid}/fd`).catch(() => [])) {
      const inode = /^socket:\[(\d+)\]$/.exec(await fs.readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''))?.[1];
      const backend = inode === undefined ? undefined : byPort.get(portOf.get(inode) ?? -1);
      if (backend !== undefined) m.set(backend, await cpuSec(backend).catch(() => 0));
    }
    out[name] = m;
  }
  return out;
};
/** BENCH_PROFILE_WINDOW: SIGUSR2 to both services (bench/profile-window.cjs starts, then writes, a CPU profile). */
const profileSignal = (): void => {
  if (process.env.BENCH_PROFILE_WINDOW) for (const p of procs) p.child.kill('SIGUSR2');
};
/** CPU seconds a process used so far (all its threads: user + system), from /proc. */
const cpuSec = async (pid: number | undefined): Promise<number> => {
  const f = (await (await import('node:fs/promises')).readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const t0 = Date.now();
let watchdog: NodeJS.Timeout | undefined;
let procs: ServiceProcess[] = [];
/** Prints progress; a stage that takes more than 3 minutes ends the run with the processes' last output. */
const stage = (what: string): void => {
  process.stderr.write(`# ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}\n`);
  clearTimeout(watchdog);
  watchdog = setTimeout(() => {
    process.stderr.write(`# stuck after "${what}"\n${procs.map((p) => `--- ${p.name}\n${p.output().slice(-3000)}`).join('\n')}\n`);
    process.exit(1);
  }, 180_000);
  watchdog.unref();
};
const CONCURRENCY = 256;
const BATCH = 500;

const { infra, skip } = await realInfra();
if (!infra) { console.log(JSON.stringify({ bench: 'vote ingestion', skipped: skip })); process.exit(0); }
const ns = uniqueNamespace('bench');
const admin = generateKeyPair();
const registrar = generateKeyPair();
const env = { DATABASE_URL: infra.databaseUrl, KAFKA_BROKERS: infra.brokers.join(','), EWX_NAMESPACE: ns, ADMIN_ADDRESS: admin.address, BLOCK_TIME_MS: 'manual', LOG_LEVEL: 'error' };
const ports = { consensus: await freePort(), voting: await freePort() };
stage('starting consensus and voting');
const consensusNodeOptions = [process.env.BENCH_PROFILE && process.env.BENCH_PROFILE_CONSENSUS === '1' ? `--require ${process.env.BENCH_PROFILE}` : '', process.env.BENCH_CONSENSUS_NODE_OPTIONS ?? ''].join(' ').trim();
procs = [await startServiceProcess('consensus', ports.consensus, { ...env, ...(consensusNodeOptions ? { NODE_OPTIONS: consensusNodeOptions } : {}) }), await startServiceProcess('voting', ports.voting, {
  ...env, ...(VERIFY_THREADS !== undefined ? { VOTE_VERIFY_THREADS: VERIFY_THREADS } : {}), ...(process.env.BENCH_PROFILE || process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: `${process.env.BENCH_PROFILE ? `--require ${process.env.BENCH_PROFILE} ` : ''}${process.env.BENCH_NODE_OPTIONS ?? ''}` } : {}),
})];
const consensus = insecureClient(ConsensusClient, `127.0.0.1:${ports.consensus}`);
const voting = insecureClient(VotingClient, `127.0.0.1:${ports.voting}`);
const bus = kafkaBus({ brokers: infra.brokers, clientId: `${ns}-bench`, log: silentLogger });
const adminNonce = nonceCounter();
const regNonce = nonceCounter();

try {
  const workers: KeyPair[] = Array.from({ length: WORKERS }, () => generateKeyPair());
  let pos = 0n;
  const env_ = (source: string, streamId: string, version: number, type: string, data: object) =>
    ({ key: streamId, value: JSON.stringify(toEnvelope(source, { streamId, version, position: encodePosition([++pos]), type, data: data as never })) });
  const config = { namespace: 'sol', group: 'grp', name: 'bench', description: '', logicRef: 'x', expirationBlock: 1_000_000, maxWaitingThreshold: 900,
    voteThresholdPercent: 60, quorumPercent: 50, votingStartMethod: 'REGISTRAR', nominationsEnabled: false, unresolvedPolicy: 'NONE' };
  await bus.publish(topicOf('rewards', ns), [env_('rewards', 'schedule', 0, 'RewardPeriodScheduleChanged', { fromPeriod: 0, firstBlock: 1, length: 1000 })]);
  await bus.publish(topicOf('registry', ns), [
    env_('registry', 'group:grp', 0, 'GroupRegistered', { group: 'grp', owner: registrar.address, config: {}, budget: '0', height: 0 }),
    env_('registry', 'solution:sol', 0, 'SolutionRegistered', { solution: 'sol', owner: registrar.address, config, height: 0 }),
  ]);
  for (let i = 0; i < WORKERS; i += 1000) {
    await bus.publish(topicOf('registry', ns), workers.slice(i, i + 1000).flatMap((w, k) => {
      const op = `ed25519:${(i + k).toString(16).padStart(64, '0')}`;
      return [
        env_('registry', `operator:${op}`, 0, 'OperatorSubscribed', { group: 'grp', operator: op, stake: '1', activeFromPeriod: 0, height: 0 }),
        env_('registry', `operator:${op}`, 1, 'WorkerConnected', { operator: op, worker: w.address, height: 0 }),
      ];
    }));
  }
  await rpc(consensus, 'produceBlocks', signCommand(admin, '/ewx.v1.Consensus/ProduceBlocks', { auth: undefined, count: 1 }, adminNonce(), (m) => ProduceBlocksRequest.encode(m).finish()));
  stage('inputs published, block 1 produced');
  const rounds = Array.from({ length: 2 * ROUNDS_PER_MODE }, (_, i) => `r${i}`);
  let probe = 0;
  await waitFor(`voting to record ${WORKERS} workers`, async () => {
    const r = await rpc(voting, 'startRound', signCommand(registrar, '/ewx.v1.Voting/StartRound', { auth: undefined, solution: 'sol', roundId: `probe${++probe}` }, regNonce(), (m) => StartRoundRequest.encode(m).finish())).catch(() => undefined);
    if (r) stage(`probe ${probe}: ${r.eligible} eligible`);
    return r && r.eligible === WORKERS ? true : undefined;
  }, SETUP_TIMEOUT_MS, 2000);
  stage(`voting knows the ${WORKERS} workers (${probe} probes)`);
  for (const id of rounds) {
    await rpc(voting, 'startRound', signCommand(registrar, '/ewx.v1.Voting/StartRound', { auth: undefined, solution: 'sol', roundId: id }, regNonce(), (m) => StartRoundRequest.encode(m).finish()));
  }

  // Signed before the clock starts: signing is the workers' cost, not the service's.
  const signed = rounds.map((roundId) => workers.map((w, i) => signCommand(w, '/ewx.v1.Voting/SubmitVote',
    { auth: undefined, solution: 'sol', roundId, result: Buffer.from([i % 10 < 7 ? 1 : 2, roundId.length]) }, 1n + BigInt(rounds.indexOf(roundId)), (m) => SubmitVoteRequest.encode(m).finish())));

  const pool = async <T>(items: readonly T[], n: number, fn: (t: T) => Promise<unknown>): Promise<void> => {
    let next = 0;
    await Promise.all(Array.from({ length: n }, async () => { while (next < items.length) await fn(items[next++]!); }));
  };
  stage('votes signed');
  const ceilingBefore = await verifyCeiling();
  const sodiumBefore = await sodiumCeiling();
  stage(`signature ceiling: ${ceilingBefore} verifies/s on one core`);
  const rssBefore = await rssMb(procs[1]!.child.pid);
  // Mode 1: one SubmitVote call per vote, many in flight (what independent workers do).
  const single = SKIP_SINGLE ? [] : signed.slice(0, ROUNDS_PER_MODE).flat();
  let t = performance.now();
  let refused = 0;
  await pool(single, CONCURRENCY, (req) => rpc(voting, 'submitVote', req).catch(() => { refused++; }));
  const singleSec = (performance.now() - t) / 1000;
  stage('single calls done');
  // Mode 2: SubmitVotes, a gateway forwarding batches of individually signed votes.
  const batched = signed.slice(ROUNDS_PER_MODE).flat();
  const batches = Array.from({ length: Math.ceil(batched.length / BATCH) }, (_, i) => batched.slice(i * BATCH, (i + 1) * BATCH));
  const cpu0 = { voting: await cpuSec(procs[1]!.child.pid), consensus: await cpuSec(procs[0]!.child.pid) };
  const infra0 = await infraCpuSec();
  const probeDb = new pg.Client({ connectionString: infra.databaseUrl });
  await probeDb.connect();
  const servicePids = { voting: procs[1]!.child.pid, consensus: procs[0]!.child.pid };
  const backends0 = await backendCpuSec(probeDb, servicePids);
  profileSignal();
  t = performance.now();
  await pool(batches, 4, async (votes) => { const r = await rpc(voting, 'submitVotes', { votes }); refused += r.results.filter((x) => x.code !== 0).length; });
  const batchSec = (performance.now() - t) / 1000;
  const clientCpu = (await infraCpuSec()).client - infra0.client;
  const votingCpu = (await cpuSec(procs[1]!.child.pid)) - cpu0.voting;
  const rssAfter = await rssMb(procs[1]!.child.pid);
  const ceilingAfter = await verifyCeiling();
  const sodiumAfter = await sodiumCeiling();
  const ceiling = Math.round((ceilingBefore + ceilingAfter) / 2);
  const sodium = sodiumBefore !== undefined && sodiumAfter !== undefined ? Math.round((sodiumBefore + sodiumAfter) / 2) : undefined;

  const db = new pg.Client({ connectionString: infra.databaseUrl });
  await db.connect();
  // Votes are carried once: consensus records each VoteCast and VotesCast through its inbox. How long after the last answer it has them all.
  // (Inline, not @ewx/voting's castVotesSql: the same file also runs in a checkout of a build before VotesCast, as the baseline.)
  const VOTES_IN = `CASE WHEN type = 'VotesCast' THEN json_array_length(data->'votes') ELSE 1 END`;
  const voteCount = async (service: string): Promise<number> =>
    (await db.query(`SELECT coalesce(sum(${VOTES_IN}), 0)::int AS n FROM ewx_${ns}_${service}.events WHERE type IN ('VoteCast', 'VotesCast')`)).rows[0].n as number;
  const inVoting = await voteCount('voting');
  let inConsensus = 0;
  stage('batched calls done; waiting for consensus to record the votes');
  // (A build whose consensus does not record the votes has none: nothing to wait for.)
  if (await voteCount('consensus') > 0) {
    await waitFor('consensus to record every vote', async () => { inConsensus = await voteCount('consensus'); return inConsensus >= inVoting ? true : undefined; }, 170_000, 500)
      .catch(() => undefined);
  }
  const consensusLagSec = (performance.now() - t) / 1000 - batchSec;
  // CPU per vote (load-independent, unlike votes/s on a shared machine): voting until the last answer, consensus until it recorded them all.
  const consensusCpu = (await cpuSec(procs[0]!.child.pid)) - cpu0.consensus;
  const infra1 = await infraCpuSec();
  const backends1 = await backendCpuSec(probeDb, servicePids);
  await probeDb.end();
  profileSignal();
  /** Per service: its backends' CPU in the window (new ones counted whole), and how many of the first ones ended. */
  const backendUs = Object.fromEntries(
    Object.entries(backends1).map(([name, now]) => {
      let sec = 0;
      for (const [b, v] of now) sec += v - (backends0[name]!.get(b) ?? 0);
      const ended = [...backends0[name]!.keys()].filter((b) => !now.has(b)).length;
      return [name, { us: Math.round((sec / batched.length) * 1e6), backends: now.size, ended }];
    }),
  );
  const perVoteUs = (sec: number): number => Math.round((sec / batched.length) * 1e6);
  // Events of one append share recorded_at (the transaction's now()): the number of group commits.
  const commits = async (ids: string[]): Promise<number> => (await db.query(
    `SELECT count(DISTINCT recorded_at)::int AS n FROM ewx_${ns}_voting.events WHERE type IN ('VoteCast', 'VotesCast') AND stream_id = ANY($1)`, [ids.map((id) => `round:sol:${id}`)])).rows[0].n as number;
  // Consensus's records of the votes (its inbox): one transaction per run of one source stream in a fetched slice.
  const consensusCommits = (await db.query(`SELECT count(DISTINCT recorded_at)::int AS n FROM ewx_${ns}_consensus.events WHERE type IN ('VoteCast', 'VotesCast')`)).rows[0].n as number;
  // Rows that carry the votes in each log (one per vote with VoteCast alone; fewer with VotesCast).
  const voteRows = async (service: string): Promise<number> =>
    (await db.query(`SELECT count(*)::int AS n FROM ewx_${ns}_${service}.events WHERE type IN ('VoteCast', 'VotesCast')`)).rows[0].n as number;
  const rowsOfVotes = { voting: await voteRows('voting'), consensus: await voteRows('consensus') };
  const singleCommits = await commits(rounds.slice(0, ROUNDS_PER_MODE));
  const batchCommits = await commits(rounds.slice(ROUNDS_PER_MODE));
  // The newest snapshots each service kept (two per version): whether one fell in the batched window, and their size.
  const snapshots = Object.fromEntries(await Promise.all(['voting', 'consensus'].map(async (svc) => [svc,
    (await db.query(`SELECT events, pg_column_size(bytes) AS stored, octet_length(bytes) AS bytes FROM ewx_${ns}_${svc}.snapshots ORDER BY position DESC LIMIT 2`).catch(() => ({ rows: [] }))).rows
      .map((r) => ({ events: Number(r.events), bytes: r.bytes === null ? undefined : Number(r.bytes) }))])));
  const stored = inVoting;
  // Baseline: one VoteCast row per vote (a VotesCast's votes as the VoteCast rows they stand for), batched multi-row INSERTs into a table of the event store's shape.
  const recorded = (await db.query(`SELECT stream_id, version, type, data, metadata FROM ewx_${ns}_voting.events WHERE type IN ('VoteCast', 'VotesCast') ORDER BY position`)).rows;
  const nextVersion = new Map<string, number>();
  const rows = recorded.flatMap((r) => {
    if (r.type === 'VoteCast') return [r];
    const signers = (r.metadata as { signers: [string, string, string?][] }).signers;
    return (r.data as { votes: [string, string][] }).votes.map(([worker, result], i) => {
      const version = (nextVersion.get(r.stream_id) ?? 1_000_000) + 1;
      nextVersion.set(r.stream_id, version);
      const [, nonce, signature] = signers[i]!;
      return { stream_id: r.stream_id, version, type: 'VoteCast', data: { solution: r.data.solution, roundId: r.data.roundId, worker, result, height: r.data.height }, metadata: { signer: worker, nonce, signature } };
    });
  });
  const table = `ewx_${ns}_voting.baseline`;
  await db.query(`CREATE TABLE ${table} (position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream_id text NOT NULL, version integer NOT NULL, type text NOT NULL, data json NOT NULL, metadata json, recorded_at timestamptz NOT NULL DEFAULT now(), UNIQUE (stream_id, version))`);
  t = performance.now();
  for (let i = 0; i < rows.length; i += BATCH) {
    const chunk = rows.slice(i, i + BATCH);
    const params: unknown[] = [];
    const values = chunk.map((r, k) => { params.push(r.stream_id, r.version, r.type, JSON.stringify(r.data), JSON.stringify(r.metadata)); const b = k * 5; return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}::json, $${b + 5}::json)`; });
    await db.query(`INSERT INTO ${table} (stream_id, version, type, data, metadata) VALUES ${values.join(',')}`, params);
  }
  const baseSec = (performance.now() - t) / 1000;
  await db.end();
  const single_vps = Math.round(single.length / singleSec);
  const batch_vps = Math.round(batched.length / batchSec);
  const cpus = (await import('node:os')).availableParallelism();
  const base_rps = Math.round(rows.length / baseSec);
  console.log(JSON.stringify({
    bench: 'signed votes through gRPC into PostgreSQL (voting and consensus as separate processes, Kafka relay running)',
    workers: WORKERS, votes: single.length + batched.length, stored, refused,
    submitVote: { votes: single.length, seconds: +singleSec.toFixed(2), votesPerSecond: single_vps, appends: singleCommits, ratioToPlainInsert: +(single_vps / base_rps).toFixed(3) },
    submitVotes: { votes: batched.length, batch: BATCH, seconds: +batchSec.toFixed(2), votesPerSecond: batch_vps, appends: batchCommits, ratioToPlainInsert: +(batch_vps / base_rps).toFixed(3) },
    consensusRecordsVotes: { votes: inVoting, recorded: inConsensus, secondsAfterLastAnswer: +consensusLagSec.toFixed(1), appends: consensusCommits,
      note: 'consensus records VoteCast and VotesCast through its inbox: one append per run of one source stream in a fetched slice of at most 500 messages' },
    rowsCarryingVotes: rowsOfVotes,
    cpuPerBatchedVote: { votingUs: Math.round((votingCpu / batched.length) * 1e6), consensusUs: Math.round((consensusCpu / batched.length) * 1e6), votingCores: +(votingCpu / batchSec).toFixed(2),
      postgresUs: perVoteUs(infra1.postgres - infra0.postgres), kafkaUs: perVoteUs(infra1.kafka - infra0.kafka), clientUs: perVoteUs(clientCpu),
      postgresBackendsUs: backendUs,
      note: 'CPU time of each process (all threads) per batched vote; voting until the last answer, consensus, PostgreSQL (every backend), Kafka until consensus recorded the votes, this client (gRPC) until the last answer (its lag included); PostgreSQL and Kafka are shared: other users\' work in the window counts too' },
    verifyThreads: VERIFY_THREADS ?? 'default', snapshots,
    plainBatchedInsert: { rows: rows.length, batch: BATCH, seconds: +baseSec.toFixed(2), rowsPerSecond: base_rps },
    signatureCeiling: { ed25519VerifiesPerSecondOneCore: ceiling, before: ceilingBefore, after: ceilingAfter, ratioSubmitVote: +(single_vps / ceiling).toFixed(3), ratioSubmitVotes: +(batch_vps / ceiling).toFixed(3),
      cores: cpus, ratioSubmitVotesToAllCores: +(batch_vps / (ceiling * cpus)).toFixed(3),
      libsodiumVerifiesPerSecondOneCore: sodium ?? 'not installed', libsodiumBefore: sodiumBefore, libsodiumAfter: sodiumAfter,
      ratioSubmitVotesToLibsodium: sodium ? +(batch_vps / sodium).toFixed(3) : undefined },
    votingMemory: { rounds: rounds.length, votesPerRound: WORKERS, rssBeforeVotesMb: rssBefore, rssAfterVotesMb: rssAfter, bytesPerVote: Math.round((rssAfter - rssBefore) * 1024 * 1024 / (single.length + batched.length)),
      extrapolatedTo10kRoundsX1kVotesMb: Math.round(rssBefore + (rssAfter - rssBefore) * 1e7 / (single.length + batched.length)), note: 'RSS of the voting process after the votes; the extrapolation assumes every vote stays, which no longer holds: a closed round leaves the state (bench/memory.bench.ts measures the fold), and RSS does not shrink at once after a GC' },
    targetVotesPerSecond: 5000, issueGoalVotesPerSecond: 10_000, loadAverage: (await import('node:os')).loadavg().map((x) => +x.toFixed(1)),
  }, null, 1));
} finally {
  await bus.close();
  for (const p of procs) await p.stop();
}
