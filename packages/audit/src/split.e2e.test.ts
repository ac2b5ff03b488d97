import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { createLogger, generateKeyPair, inboxGroupOf, nonceCounter, partitionLeases, schemaFor, topicOf, type KeyPair } from '@ewx/platform';
import {
  freePort,
  insecureClient,
  produceBlocks,
  realInfra,
  rpc,
  seedStandaloneNetwork,
  serviceEnv,
  signedFor,
  spawnServiceProcess,
  startServiceProcess,
  testGroupConfig,
  testSolutionConfig,
  uniqueNamespace,
  untilEligibleWorkers,
  waitFor,
  type ServiceProcess,
} from '@ewx/platform/testing';
import { ConsensusClient } from '@ewx/proto/consensus';
import { RegisterSolutionRequest, RegistryClient } from '@ewx/proto/registry';
import { RewardsClient } from '@ewx/proto/rewards';
import { RoundState, StartRoundRequest, SubmitVoteRequest, VotingClient } from '@ewx/proto/voting';
import { partitionOf } from '@ewx/voting/app/partitions';
import { solutionsByPartition, whileUnavailable } from '@ewx/voting/testing/replicas';
import { audit, formatReport, postgresSource } from './index.js';
import { votingConsumerLag } from './split.js';

/**
 * Scaling a running voting out: voting with one log (VOTING_PARTITIONS=1) beside consensus,
 * registry and rewards (separate processes, real Kafka, PostgreSQL and gRPC) runs rounds of two
 * solutions (one settled, one open); it is stopped, `ewx voting split --partitions 2` splits its log
 * (a dry run first), and two replicas start with VOTING_PARTITIONS=2. Every round reads back the
 * same through either replica (GetRound, GetRoundSnapshot, ListRounds), a late vote is refused the
 * same, the open round takes its last vote and settles, new rounds are decided; consensus recorded
 * each of voting's events once (none lost, none twice, before and after the split), and the audit
 * of every log finds nothing.
 */
const { infra, skip } = await realInfra();
const CLI = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));
const ewx = (args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) =>
    execFile(process.execPath, [CLI, ...args], { timeout: 120_000, env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
const P = 2;
const G = 'split.group';
const solutions = solutionsByPartition('split', P);

describe('ewx voting split: a running voting scaled out from one log to two partitions, then to four', { skip, timeout: 600_000 }, () => {
  const admin = generateKeyPair();
  const validator = generateKeyPair();
  const nonce = nonceCounter();
  const signed = signedFor(nonce);
  const ns = uniqueNamespace('splite');
  const R = generateKeyPair();
  const ops = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const workers = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const procs: ServiceProcess[] = [];
  const db = new pg.Pool({ connectionString: infra?.databaseUrl, max: 2 });
  after(async () => {
    for (const p of procs.reverse()) await p.stop();
    await db.end();
  });

  test('split with voting stopped: the same answers on two replicas, late votes refused the same, new rounds decided, consensus has every event once, the audit passes', async (t) => {
    let lapAt = performance.now();
    /** A diagnostic: how long each phase took (the machine is shared: not a benchmark). */
    const lap = (what: string): void => {
      const now = performance.now();
      t.diagnostic(`${what}: ${((now - lapAt) / 1000).toFixed(1)} s`);
      lapAt = now;
    };
    const ports: Record<string, number> = {};
    for (const n of ['consensus', 'registry', 'rewards', 'voting', 'a', 'b']) ports[n] = await freePort();
    const env = {
      ...serviceEnv(infra!, ns, admin.address),
      REWARD_PERIOD_BLOCKS: '10',
      REWARDS_SETTLEMENT_DELAY: '2',
      VALIDATORS: validator.address,
      VALIDATOR_KEY: validator.seed,
    };
    for (const name of ['consensus', 'registry', 'rewards']) procs.push(await startServiceProcess(name, ports[name]!, env));
    const single = await startServiceProcess('voting', ports.voting!, env);
    procs.push(single);
    const client = <C>(Ctor: new (a: string, c: grpc.ChannelCredentials) => C, name: string): C => insecureClient(Ctor, `127.0.0.1:${ports[name]}`);
    const V = client(VotingClient, 'voting');
    const consensus = client(ConsensusClient, 'consensus');
    const blocks = (n: number): Promise<bigint> => produceBlocks(consensus, admin, nonce, n);
    const vote = (w: KeyPair, solution: string, roundId: string, result: string): SubmitVoteRequest =>
      signed(w, 'Voting/SubmitVote', { auth: undefined, solution, roundId, result: Buffer.from(result, 'hex') }, SubmitVoteRequest.encode);
    const start = (via: VotingClient, solution: string, roundId: string) =>
      whileUnavailable(`round ${roundId} of ${solution} started`, () =>
        rpc(via, 'startRound', signed(R, 'Voting/StartRound', { auth: undefined, solution, roundId }, StartRoundRequest.encode)),
      );
    const settled = (via: VotingClient, solution: string, roundId: string) =>
      waitFor(
        `round ${roundId} of ${solution} settled`,
        async () => {
          const r = await rpc(via, 'getRound', { solution, roundId }).catch(() => undefined);
          return r?.state === RoundState.ROUND_STATE_SETTLED ? r : undefined;
        },
        60_000,
      );
    /** What a vote gets: accepted or not, or the refusal's code and message. */
    const outcome = (via: VotingClient, req: SubmitVoteRequest): Promise<string> =>
      whileUnavailable('a vote answered', () =>
        rpc(via, 'submitVote', req).then(
          (r) => `accepted ${r.accepted}`,
          (e: grpc.ServiceError) => {
            if (e.code === grpc.status.UNAVAILABLE) throw e;
            return `refused ${e.code} ${e.details}`;
          },
        ),
      );

    // The network, and rounds on one voting log: r1 of each solution settled, r2 open with two votes of three.
    await waitFor('the reward calendar', () => rpc(client(RewardsClient, 'rewards'), 'getCurrentPeriod', {}));
    await blocks(1);
    const registry = client(RegistryClient, 'registry');
    const net = { registry, voting: V, nonce, admin, registrar: R, operators: ops, workers };
    await seedStandaloneNetwork(net, 'split', testGroupConfig(G, { info: 'split' }), testSolutionConfig(solutions[0]!, G));
    await rpc(
      registry,
      'registerSolution',
      signed(R, 'Registry/RegisterSolution', { auth: undefined, config: testSolutionConfig(solutions[1]!, G) }, RegisterSolutionRequest.encode),
    );
    await blocks(10);
    for (const s of solutions) await untilEligibleWorkers(net, s, 3);
    for (const s of solutions) {
      await start(V, s, 'r1');
      for (let i = 0; i < 3; i++) assert.equal((await rpc(V, 'submitVote', vote(workers[i]!, s, 'r1', i < 2 ? 'c0ffee' : 'bad0'))).accepted, true);
    }
    await blocks(3);
    for (const s of solutions) await settled(V, s, 'r1');
    for (const s of solutions) {
      await start(V, s, 'r2');
      for (let i = 0; i < 2; i++) assert.equal((await rpc(V, 'submitVote', vote(workers[i]!, s, 'r2', 'beef'))).accepted, true);
    }
    const late = solutions.map((s) => vote(workers[2]!, s, 'r1', 'c0ffee'));
    const lateBefore = await Promise.all(late.map((req) => outcome(V, req)));
    for (const o of lateBefore) assert.match(o, /^refused /, 'a vote after the round closed');
    /** Every round of both solutions as answered through `via`: ListRounds, then GetRound and GetRoundSnapshot of each. */
    const answers = async (via: VotingClient): Promise<unknown> => {
      const out: Record<string, unknown> = {};
      for (const s of solutions) {
        const list = await whileUnavailable(`ListRounds of ${s}`, () =>
          rpc(via, 'listRounds', { solution: s, state: 0, page: { pageSize: 100, pageToken: '' } }),
        );
        out[`list ${s}`] = list;
        for (const r of list.rounds) {
          out[`round ${s} ${r.roundId}`] = await whileUnavailable('GetRound', () => rpc(via, 'getRound', { solution: s, roundId: r.roundId }));
          out[`snapshot ${s} ${r.roundId}`] = await whileUnavailable('GetRoundSnapshot', () =>
            rpc(via, 'getRoundSnapshot', { solution: s, roundId: r.roundId, page: { pageSize: 500, pageToken: '' } }),
          );
        }
      }
      return out;
    };
    const before = await answers(V);
    lap('the network, and rounds on one log');
    /** A Watch of rounds and votes from `from`, until `n` events came: `stream|version|type` of each. */
    const watched = async (via: VotingClient, from: string, n: (got: number) => Promise<boolean>): Promise<{ key: string; position: string }[]> => {
      const got: { key: string; position: string }[] = [];
      let failed: Error | undefined;
      const call = via.watch({ fromPosition: from, types: ['RoundStarted', 'VoteCast', 'VotesCast'], includeInputs: false });
      call.on('data', (e: { streamId: string; version: bigint; type: string; position: string }) =>
        got.push({ key: `${e.streamId}|${e.version}|${e.type}`, position: e.position }),
      );
      call.on('error', (e: grpc.ServiceError) => {
        if (e.code !== grpc.status.CANCELLED) failed = e;
      });
      await waitFor('the watched events', async () => {
        if (failed) throw failed;
        return (await n(got.length)) ? true : undefined;
      });
      call.cancel();
      return got;
    };
    const watchedBefore = await watched(V, '', async (got) => {
      const r = await db.query(`SELECT count(*)::int AS n FROM ${schemaFor(`${ns}_voting`)}.events WHERE type IN ('RoundStarted', 'VoteCast', 'VotesCast')`);
      return got >= r.rows[0].n;
    });
    const cut = Math.floor(watchedBefore.length / 2);
    assert.ok(Object.keys(before as object).length >= 2 + 2 * 2 * 2, 'r1 and r2 of both solutions (and the rounds the seeding ran)');

    // Voting stopped (every process). Started partitioned before the split, it refuses (its rounds are in the unsplit log).
    await single.stop();
    procs.splice(procs.indexOf(single), 1);
    const votingEnvOf = (id: string, partitions = P) => ({
      ...env,
      VOTING_PARTITIONS: String(partitions),
      VOTING_REPLICA_ID: id,
      VOTING_LEASE_MS: '3000',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
    });
    const refused = spawnServiceProcess('voting', ports.a!, votingEnvOf('a'));
    const code = refused.child.exitCode ?? (await new Promise<number | null>((r) => refused.child.once('exit', (c) => r(c))));
    assert.equal(code, 1);
    assert.match(
      refused.output(),
      /voting: VOTING_PARTITIONS=2, but voting's unsplit log \(schema ewx_\w+_voting\) holds events: split it first, with voting stopped \(ewx voting split --partitions 2/,
    );
    // A dry run: what would go where, nothing written.
    const S = schemaFor(`${ns}_voting`);
    const unsplitEvents = Number((await db.query(`SELECT count(*) AS n FROM ${S}.events`)).rows[0].n);
    const args = ['voting', 'split', '--partitions', String(P), '--database-url', infra!.databaseUrl, '--namespace', ns];
    const kafka = { KAFKA_BROKERS: infra!.brokers.join(',') };
    const dry = await ewx([...args, '--dry-run'], kafka);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`^would split ${S}: ${unsplitEvents} events up to position \\d+`));
    for (const s of solutions) assert.match(dry.stdout, new RegExp(`\\n  p${partitionOf(s, P)}: .*${s.replace(/\./g, '\\.')}`), `${s} in its partition`);
    assert.match(dry.stdout, /consumers of voting's topic: .*ewx-consensus/);
    assert.deepEqual(
      (await db.query(`SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE $1`, [`${S}_p%`])).rows,
      [],
      'a dry run writes nothing',
    );
    // Bad input: one line, exit 2.
    const bad = await ewx([...args.slice(0, 2), '--partitions', '1', ...args.slice(4)], kafka);
    assert.deepEqual([bad.code, bad.stderr], [2, 'ewx: partitions: expected a whole number from 2 to 64, got "1"\n']);

    // The split, retried while consensus has not read all of voting's topic yet (exit 4, saying so).
    const refusals: string[] = [];
    const split = await waitFor(
      'the split',
      async () => {
        const r = await ewx(args, kafka);
        if (r.code === 4 && /behind/.test(r.stderr)) {
          refusals.push(r.stderr.trim());
          return undefined;
        }
        return r;
      },
      60_000,
      200,
    );
    assert.equal(split.code, 0, split.stderr);
    t.diagnostic(`split after ${refusals.length} refusals (consumers behind): ${split.stdout.split('\n')[0]}`);
    for (const r of refusals) assert.match(r, /^ewx: voting split refused: consumers have not read all of voting's topic .*ewx-consensus \d+ behind/);
    assert.match(split.stdout, new RegExp(`^split ${S}: ${unsplitEvents} events`));
    const again = await ewx(args, kafka);
    assert.deepEqual([again.code, again.stdout.trim()], [0, `voting (${S}) is already split into 2 partition logs: start it with VOTING_PARTITIONS=2`]);

    // Each partition's inbox group starts where voting's inbox stopped, on every input topic.
    const offsetsOf = async (instance: string): Promise<string> => {
      const { Kafka } = await import('kafkajs');
      const admin = new Kafka({ clientId: 'split-e2e', brokers: infra!.brokers, logLevel: 0 }).admin();
      await admin.connect();
      try {
        const got = await admin.fetchOffsets({ groupId: inboxGroupOf(instance, ns), topics: ['registry', 'consensus', 'rewards'].map((x) => topicOf(x, ns)) });
        return JSON.stringify(got.map((t) => [t.topic, t.partitions.map((x) => [x.partition, x.offset]).sort()]).sort());
      } finally {
        await admin.disconnect();
      }
    };
    const votingOffsets = await offsetsOf('voting');
    assert.match(votingOffsets, /"[1-9][0-9]*"/, 'voting had read its inputs');
    for (let k = 0; k < P; k++) assert.equal(await offsetsOf(`voting_p${k}`), votingOffsets, `partition ${k}'s inbox group`);

    // Consensus's copies of voting's events before the partitioned start (each (stream, version) once).
    const C = schemaFor(`${ns}_consensus`);
    const copies = async (): Promise<string[]> =>
      (
        await db.query<{ k: string }>(
          `SELECT (metadata->>'sourceStream') || '|' || (metadata->>'sourceVersion') || '|' || type AS k FROM ${C}.events
           WHERE stream_id LIKE 'inbox:voting:%' ORDER BY position`,
        )
      ).rows.map((r) => r.k);
    const copiesBefore = await copies();
    assert.equal(new Set(copiesBefore).size, copiesBefore.length, 'consensus: each of voting’s events once before the split');

    // Two replicas on the partition logs.
    /** Replicas a and b on `n` partitions, each holding half. */
    const replicas: ServiceProcess[] = [];
    const startReplicas = async (n: number): Promise<void> => {
      for (const id of ['a', 'b']) replicas.push(await startServiceProcess('voting', ports[id]!, votingEnvOf(id, n)));
      procs.push(...replicas);
      const leases = await partitionLeases(infra!.databaseUrl, S, n);
      await waitFor(
        `each replica to hold ${n / 2} of ${n} partitions`,
        async () => {
          const live = (await leases.rows()).filter((r) => r.live);
          return live.length === n && ['a', 'b'].every((id) => live.filter((r) => r.owner === id).length === n / 2) ? true : undefined;
        },
        60_000,
        100,
      );
      await leases.close();
    };
    const stopReplicas = async (): Promise<void> => {
      for (const r of replicas.splice(0)) {
        await r.stop();
        procs.splice(procs.indexOf(r), 1);
      }
    };
    await startReplicas(P);
    lap('stopped, refused start, dry run, split into 2, two replicas holding one partition each');
    const A = client(VotingClient, 'a');
    const B = client(VotingClient, 'b');
    for (const [name, via] of [
      ['a', A],
      ['b', B],
    ] as const)
      assert.deepEqual(await answers(via), before, `every round through replica ${name} as before the split`);
    for (const via of [A, B]) assert.deepEqual(await Promise.all(late.map((req) => outcome(via, req))), lateBefore, 'the late votes refused the same');
    // A position X the unsplit voting sent is the merged token P2:X,X: a watcher resumes with exactly the rest.
    const X = watchedBefore[cut - 1]!.position;
    const rest = watchedBefore.slice(cut).map((e) => e.key);
    const resumed = await watched(B, `P2:${X},${X}`, async (got) => got >= rest.length);
    assert.deepEqual(
      resumed.map((e) => e.key).sort(),
      [...rest].sort(),
      `the watch resumed from P2:${X},${X} after the split: the events after ${X}, once each`,
    );

    // The open rounds take their last vote and settle; new rounds are decided (through both replicas).
    for (const s of solutions) assert.equal(await outcome(B, vote(workers[2]!, s, 'r2', 'beef')), 'accepted true');
    for (const s of solutions) {
      await start(A, s, 'r3');
      for (let i = 0; i < 3; i++) assert.equal(await outcome(i % 2 ? A : B, vote(workers[i]!, s, 'r3', i === 0 ? 'bad0' : 'd00d')), 'accepted true');
    }
    await blocks(3);
    for (const s of solutions) {
      assert.equal(Buffer.from((await settled(A, s, 'r2')).result).toString('hex'), 'beef');
      assert.equal(Buffer.from((await settled(B, s, 'r3')).result).toString('hex'), 'd00d');
    }

    // Consensus: every event of voting it takes, once — those from before the split unchanged and not
    // recorded again, the new ones from the partition logs (under keys voting_p<k>).
    const wanted = ['RoundStarted', 'RoundSnapshot', 'VoteCast', 'VotesCast', 'RoundClosed'];
    const published = async (n = P): Promise<string[]> => {
      const all: { p: string; k: string }[] = [];
      for (let k = 0; k < n; k++)
        for (const r of (
          await db.query<{ k: string }>(
            `SELECT stream_id || '|' || version || '|' || type AS k FROM ${S}_p${k}.events WHERE stream_id NOT LIKE 'inbox:%' AND type = ANY($1)`,
            [wanted],
          )
        ).rows)
          all.push({ p: String(k), k: r.k });
      return all.map((x) => x.k).sort();
    };
    const caughtUp = () =>
      waitFor(
        'consensus to read all of voting’s topic',
        async () => {
          const lag = await votingConsumerLag({ brokers: infra!.brokers, log: createLogger({}, 'error') }, ns);
          return lag.length > 0 && lag.every((l) => l.behind === 0) ? true : undefined;
        },
        60_000,
        200,
      );
    await caughtUp();
    const copiesAfter = await copies();
    assert.equal(new Set(copiesAfter).size, copiesAfter.length, 'consensus: each of voting’s events once');
    assert.deepEqual(copiesAfter.slice(0, copiesBefore.length), copiesBefore, 'consensus: what it had before the split, as it was');
    assert.deepEqual([...copiesAfter].sort(), await published(), "consensus: exactly the partition logs' events it takes");
    assert.ok(copiesAfter.length > copiesBefore.length, 'new events reached consensus from the partition logs');

    // Split again, 2 → 4, the replicas stopped: solution 0 moves to partition 2, solution 1 stays in 1.
    assert.deepEqual(
      solutions.map((s) => [partitionOf(s, 2), partitionOf(s, 4)]),
      [
        [0, 2],
        [1, 1],
      ],
    );
    const before4 = await answers(A);
    // The same late votes now (refused for their nonce: the worker voted since).
    const late4 = await Promise.all(late.map((req) => outcome(A, req)));
    for (const o of late4) assert.match(o, /^refused /);
    await stopReplicas();
    const args4 = ['voting', 'split', '--partitions', '4', '--database-url', infra!.databaseUrl, '--namespace', ns];
    const split4 = await waitFor(
      'the split into 4',
      async () => {
        const r = await ewx(args4, kafka);
        return r.code === 4 && /behind/.test(r.stderr) ? undefined : r;
      },
      60_000,
      200,
    );
    assert.equal(split4.code, 0, split4.stderr);
    assert.match(split4.stdout, /^split 2 partition logs into 4: /);
    for (const k of [2, 3])
      assert.equal(await offsetsOf(`voting_p${k}`), await offsetsOf(`voting_p${k - 2}`), `new partition ${k}'s inbox group: where ${k - 2}'s stopped`);
    await startReplicas(4);
    lap('answers compared, rounds decided, split into 4, replicas holding two each');
    for (const via of [A, B]) assert.deepEqual(await answers(via), before4, 'every round through each replica as before the split into 4');
    for (const via of [A, B]) assert.deepEqual(await Promise.all(late.map((req) => outcome(via, req))), late4, 'the late votes refused the same');
    for (const s of solutions) {
      await start(B, s, 'r4');
      for (let i = 0; i < 3; i++) assert.equal(await outcome(i % 2 ? B : A, vote(workers[i]!, s, 'r4', 'f00d')), 'accepted true');
    }
    await blocks(3);
    for (const s of solutions) assert.equal(Buffer.from((await settled(A, s, 'r4')).result).toString('hex'), 'f00d');
    await caughtUp();
    const copies4 = await copies();
    assert.equal(new Set(copies4).size, copies4.length, 'consensus: each of voting’s events once, after the second split');
    assert.deepEqual(copies4.slice(0, copiesAfter.length), copiesAfter, 'consensus: what it had before the second split, as it was');
    assert.deepEqual([...copies4].sort(), await published(4), "consensus: exactly the four partition logs' events it takes");

    lap('answers compared, rounds decided on 4 partitions');
    // The audit of every log (the partition logs and the empty unsplit one) finds nothing.
    for (const p of procs.reverse()) await p.stop();
    procs.length = 0;
    const source = postgresSource(infra!.databaseUrl, ns);
    const report = await audit(source);
    await source.close();
    lap('the audit');
    assert.deepEqual(report.divergences, [], formatReport(report));
    assert.deepEqual(
      report.services.filter((s) => s.service === 'voting' && s.partition !== undefined).map((s) => s.partition),
      [0, 1, 2, 3],
    );
    assert.equal(report.services.find((s) => s.service === 'voting' && s.partition === undefined)?.events ?? 0, 0, 'the unsplit log is empty');
    assert.ok((report.cross['rounds-decided'] ?? 0) >= 4 * P, 'the rounds of every side of both splits matched with consensus');
  });
});
