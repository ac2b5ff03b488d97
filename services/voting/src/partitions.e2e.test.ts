import { castVotesSql } from './testing/votes-sql.js';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import { createRuntime, createLogger, generateKeyPair, nonceCounter, postgresEventStore, schemaFor, type KeyPair } from '@ewx/platform';
import {
  produceBlocks,
  realInfra,
  rpc,
  seedStandaloneNetwork,
  signedFor,
  startServiceProcess,
  testGroupConfig,
  type ServiceProcess,
  testSolutionConfig,
  uniqueNamespace,
  untilEligibleWorkers,
  waitFor,
} from '@ewx/platform/testing';
import { ConsensusClient } from '@ewx/proto/consensus';
import { RegisterSolutionRequest, RegistryClient } from '@ewx/proto/registry';
import { RewardsClient } from '@ewx/proto/rewards';
import { RoundState, StartRoundRequest, SubmitVoteRequest, SubmitVotesRequest, VotingClient } from '@ewx/proto/voting';
import { partitionCategory } from './app/partitioned.js';
import { partitionOf } from './app/partitions.js';
import { evolveKeepingRounds, roundKey, votingDecider } from './domain/decider.js';
import { solutionsByPartition, startPartitionedNetwork, whileUnavailable as retryWhileUnavailable, type PartitionedNetwork } from './testing/replicas.js';

/**
 * Voting scaled out (VOTING_PARTITIONS=2): two replicas as separate processes on the real Kafka and
 * PostgreSQL, beside consensus, registry and rewards. Votes for solutions of both partitions are
 * accepted through either replica (forwarded to the partition's owner); one replica is killed with
 * SIGKILL; the other takes its partition once the lease expires, votes for it are accepted again,
 * rounds settle, no vote is lost or recorded twice, and each partition log replays to the state
 * the replicas answered with.
 */
const { infra, skip } = await realInfra();
const P = 2;
const G = 'scale.group';
/** The first solution names that fall in partitions 0 and 1. */
const solutions = solutionsByPartition('scale', P);

describe('voting partitioned across two replicas: routing, SIGKILL, fail-over', { skip, timeout: 300_000 }, () => {
  const admin = generateKeyPair();
  const validator = generateKeyPair();
  const nonce = nonceCounter();
  const signed = signedFor(nonce);
  const ns = uniqueNamespace('scale');
  const R = generateKeyPair();
  const ops = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const workers = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  let nw: PartitionedNetwork;
  /** Replica b2 of the first test (started there under VOTING_REPLICA_ID b2 on b's port). */
  let b2: ServiceProcess | undefined;
  const client = <C>(Ctor: new (a: string, c: grpc.ChannelCredentials) => C, name: string): C => nw.client(Ctor, name);
  const db = new pg.Pool({ connectionString: infra?.databaseUrl, max: 2 });

  /** Retries while the answer is UNAVAILABLE (a partition moving or starting); the refusals seen are kept. */
  const unavailableSeen: string[] = [];
  const whileUnavailable = <T>(what: string, fn: () => Promise<T>): Promise<T> => retryWhileUnavailable(what, fn, unavailableSeen);
  const vote = (w: KeyPair, solution: string, roundId: string, result: string): SubmitVoteRequest =>
    signed(w, 'Voting/SubmitVote', { auth: undefined, solution, roundId, result: Buffer.from(result, 'hex') }, SubmitVoteRequest.encode);
  const blocks = (count: number): Promise<bigint> => produceBlocks(client(ConsensusClient, 'consensus'), admin, nonce, count);
  const owners = (): Promise<Map<number, string | null>> => nw.owners();
  const settled = (via: VotingClient, solution: string, roundId: string) =>
    waitFor(
      `round ${roundId} of ${solution} settled`,
      async () => {
        const r = await rpc(via, 'getRound', { solution, roundId }).catch(() => undefined);
        return r?.state === RoundState.ROUND_STATE_SETTLED ? r : undefined;
      },
      60_000,
    );

  before(async () => {
    nw = await startPartitionedNetwork(infra!, { ns, admin, validator, partitions: P, votingEnv: { LOG_LEVEL: 'info' } });
  });
  after(async () => {
    await nw?.stop();
    await db.end();
  });

  test('two replicas share the partitions; votes through either; a SIGKILLed replica fails over; nothing lost or twice; logs replay; a paused owner is fenced out', async (t) => {
    // Each replica takes its fair share: one partition each.
    const shared = await waitFor(
      'each replica to hold one partition',
      async () => {
        const o = await owners();
        return o.size === P && new Set(o.values()).size === P ? o : undefined;
      },
      60_000,
      100,
    );
    const ownerOf = (s: string): 'a' | 'b' => shared.get(partitionOf(s, P)) as 'a' | 'b';
    const A = client(VotingClient, 'a');
    const B = client(VotingClient, 'b');
    const via = { a: A, b: B };
    const registry = client(RegistryClient, 'registry');
    await waitFor('the reward calendar', () => rpc(client(RewardsClient, 'rewards'), 'getCurrentPeriod', {}));
    await blocks(1);
    const net = { registry, voting: A, nonce, admin, registrar: R, operators: ops, workers };
    await seedStandaloneNetwork(net, 'scale', testGroupConfig(G, { info: 'scale-out' }), testSolutionConfig(solutions[0]!, G));
    await rpc(
      registry,
      'registerSolution',
      signed(R, 'Registry/RegisterSolution', { auth: undefined, config: testSolutionConfig(solutions[1]!, G) }, RegisterSolutionRequest.encode),
    );
    await blocks(10);
    // Through replica a for both solutions: one of them is forwarded to b.
    for (const s of solutions) await untilEligibleWorkers({ ...net, voting: A }, s, 3);

    // Round 1 of each solution: started through the replica that does NOT own it, votes through both.
    const accepted: { solution: string; roundId: string; worker: string; req: SubmitVoteRequest }[] = [];
    for (const s of solutions) {
      const other = via[ownerOf(s) === 'a' ? 'b' : 'a'];
      const r = await rpc(other, 'startRound', signed(R, 'Voting/StartRound', { auth: undefined, solution: s, roundId: 'r1' }, StartRoundRequest.encode));
      assert.equal(r.eligible, 3);
      for (let i = 0; i < 3; i++) {
        const req = vote(workers[i]!, s, 'r1', i < 2 ? 'c0ffee' : 'bad0');
        const res = await rpc(i % 2 === 0 ? A : B, 'submitVote', req);
        assert.equal(res.accepted, true);
        accepted.push({ solution: s, roundId: 'r1', worker: workers[i]!.address, req });
      }
    }
    await blocks(3);
    for (const s of solutions)
      for (const v of [A, B])
        assert.equal(Buffer.from((await settled(v, s, 'r1')).result).toString('hex'), 'c0ffee', `r1 of ${s} settled, read through both replicas`);

    // GetStatus through either replica answers for both partitions (each replica asks the other for the
    // partition it does not hold): its height is the lowest, so it reaching consensus's means both recorded it.
    const top = BigInt((await rpc(client(ConsensusClient, 'consensus'), 'getStatus', {})).height);
    await waitFor(
      "GetStatus through either replica at consensus's height",
      async () => {
        const [x, y] = await Promise.all([rpc(A, 'getStatus', {}), rpc(B, 'getStatus', {})]);
        return BigInt(x.height) >= top && BigInt(y.height) >= top ? true : undefined;
      },
      60_000,
      100,
    );

    // SIGKILL replica b. Until its lease expires, its partition is refused (UNAVAILABLE, naming b) or answered; then a takes it.
    const victim = 'b';
    const moved = solutions.find((s) => ownerOf(s) === victim)!;
    const kept = solutions.find((s) => ownerOf(s) !== victim)!;
    await nw.replicas.b.kill();
    const early = await rpc(A, 'getRound', { solution: moved, roundId: 'r1' }).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    t.diagnostic(
      `right after the kill, GetRound through a for b's partition: ${early ? `${early.code} ${early.details}` : 'answered (the lease had already moved)'}`,
    );
    if (early) {
      assert.equal(early.code, grpc.status.UNAVAILABLE);
      assert.match(early.details, /replica b|no live owner/);
    }
    await waitFor(
      'replica a to hold every partition',
      async () => {
        const o = await owners();
        return o.size === P && [...o.values()].every((x) => x === 'a') ? true : undefined;
      },
      60_000,
      100,
    );
    // The vote recorded by b before the kill, sent again through a: refused (the taken-over log has it), not recorded twice.
    const again = accepted.find((v) => v.solution === moved)!;
    const dup = await whileUnavailable('the resent vote to be answered', () =>
      rpc(A, 'submitVote', again.req).then(
        () => 'accepted',
        (e: grpc.ServiceError) => {
          if (e.code === grpc.status.UNAVAILABLE) throw e;
          return `${e.code}: ${e.details}`;
        },
      ),
    );
    assert.match(dup, /nonce|already/, `a resent vote is refused: ${dup}`);
    t.diagnostic(`the vote resent after the fail-over: ${dup}`);

    // Round 2 of both solutions through a alone, votes batched in one SubmitVotes across both partitions.
    for (const s of solutions)
      await whileUnavailable(`round r2 of ${s} started`, () =>
        rpc(A, 'startRound', signed(R, 'Voting/StartRound', { auth: undefined, solution: s, roundId: 'r2' }, StartRoundRequest.encode)),
      );
    const batch = solutions.flatMap((s) => workers.map((w, i) => ({ s, w, req: vote(w, s, 'r2', i < 2 ? 'c0ffee' : 'bad0') })));
    const res = await whileUnavailable('the batch answered', () => rpc(A, 'submitVotes', SubmitVotesRequest.fromPartial({ votes: batch.map((b) => b.req) })));
    assert.deepEqual(
      res.results.map((r) => [r.code, r.accepted]),
      batch.map(() => [0, true]),
      JSON.stringify(res.results),
    );
    for (const b of batch) accepted.push({ solution: b.s, roundId: 'r2', worker: b.w.address, req: b.req });
    await blocks(3);
    for (const s of [kept, moved]) assert.equal(Buffer.from((await settled(A, s, 'r2')).result).toString('hex'), 'c0ffee');
    const consensus = client(ConsensusClient, 'consensus');
    for (const s of solutions)
      for (const r of ['r1', 'r2']) {
        const c = await waitFor(`consensus settled ${r} of ${s}`, async () => {
          const x = await rpc(consensus, 'getSettlement', { solution: s, roundId: r });
          return x.state === 'SETTLED' ? x : undefined;
        });
        assert.equal(c.state, 'SETTLED');
      }

    // Every accepted vote is recorded once (a VoteCast, or one vote of a VotesCast) in its solution's partition log, none twice, none elsewhere.
    for (let k = 0; k < P; k++) {
      const schema = schemaFor(partitionCategory(ns, k));
      const rows = (await db.query<{ solution: string; round_id: string; worker: string }>(castVotesSql(`${schema}.events`))).rows;
      const got = rows.map((r) => `${r.solution}/${r.round_id}/${r.worker}`).sort();
      const want = accepted
        .filter((v) => partitionOf(v.solution, P) === k)
        .map((v) => `${v.solution}/${v.roundId}/${v.worker}`)
        .sort();
      assert.deepEqual(got, want, `partition ${k}: recorded votes = accepted votes`);
      // Replaying the partition log alone gives the state the replica answers with, and appends nothing.
      const store = await postgresEventStore(infra!.databaseUrl, partitionCategory(ns, k));
      const before = (await store.readAll('' as never, 1_000_000)).length;
      // The fold that keeps finished rounds in `rounds` (the service's leaves them there only in its solution index, read back by GetRound).
      const runtime = createRuntime(`replay_p${k}`, store, { ...votingDecider, evolve: evolveKeepingRounds }, createLogger({ test: 'replay' }));
      await runtime.start();
      const s = solutions[k]!;
      for (const roundId of ['r1', 'r2']) {
        const replayed = runtime.state().rounds.get(roundKey(s, roundId));
        const live = await rpc(A, 'getRound', { solution: s, roundId });
        assert.equal(replayed?.status, 'SETTLED');
        assert.equal(replayed?.result, Buffer.from(live.result).toString('hex'));
        assert.equal(replayed?.merkleRoot, live.merkleRoot);
        assert.equal(replayed?.submitted, live.tally?.submitted);
      }
      assert.equal(
        runtime.state().rounds.size > 0 && [...runtime.state().rounds.values()].every((r) => partitionOf(r.solution, P) === k),
        true,
        'only its own solutions',
      );
      await runtime.stop();
      assert.equal((await store.readAll('' as never, 1_000_000)).length, before, 'the replay appended nothing');
      await store.close();
    }
    // What a client saw while the partition moved: refusals that say why and name who.
    t.diagnostic(`UNAVAILABLE answers retried during the fail-over: ${unavailableSeen.length}; first: ${unavailableSeen[0] ?? '-'}`);
    for (const d of unavailableSeen) assert.match(d, /partition|starting/, d);

    // A paused owner (SIGSTOP past its lease): b, started again, takes its partition; once resumed, a
    // finds its lease lost, stops the partition, and forwards that partition's requests to b.
    b2 = await startServiceProcess('voting', nw.ports.b!, nw.votingEnvOf('b2'));
    nw.procs.push(b2);
    const split = await waitFor(
      'b2 to take a share',
      async () => {
        const o = await owners();
        return o.size === P && new Set(o.values()).size === P ? o : undefined;
      },
      60_000,
      100,
    );
    const paused = solutions.find((s) => split.get(partitionOf(s, P)) === 'a')!;
    nw.replicas.a.child.kill('SIGSTOP');
    try {
      await waitFor(
        "b2 to take the paused replica a's partition",
        async () => ([...(await owners()).values()].filter((x) => x === 'b2').length === P ? true : undefined),
        60_000,
        100,
      );
    } finally {
      nw.replicas.a.child.kill('SIGCONT');
    }
    await waitFor(
      'a to see its lease lost',
      () => (/partition lease lost to another replica: stopping it here/.test(nw.replicas.a.output()) ? true : undefined),
      30_000,
    );
    await whileUnavailable('round r3 started through a', () =>
      rpc(A, 'startRound', signed(R, 'Voting/StartRound', { auth: undefined, solution: paused, roundId: 'r3' }, StartRoundRequest.encode)),
    );
    const r3 = vote(workers[0]!, paused, 'r3', 'c0ffee');
    assert.equal((await whileUnavailable('a vote through a, for b2', () => rpc(A, 'submitVote', r3))).accepted, true);
    const k3 = partitionOf(paused, P);
    const cast = await db.query(`SELECT count(*)::int AS n FROM (${castVotesSql(`${schemaFor(partitionCategory(ns, k3))}.events`)}) v WHERE stream_id = $1`, [
      `round:${paused}:r3`,
    ]);
    assert.equal(cast.rows[0].n, 1, 'the vote through the formerly paused replica is recorded once');
  });
  test('hand-back: a replica restarted while the other still starts its partition gets it back; every vote sent meanwhile is answered (accepted, or UNAVAILABLE then accepted), none lost or twice', async (t) => {
    assert.ok(b2, 'the first test started b2');
    // b2 again, with a 30 s Kafka session: once it is SIGKILLed, its dead member stays that long in the
    // partition's consumer group, so a's start of that partition (its inbox joins once the member
    // expired) is still under way when b2, started again, makes a give the partition back: the race
    // found by load-fault (a's start then waited 60 s for an inbox catch-up its own guard refused).
    const env = { ...nw.votingEnvOf('b2'), KAFKA_SESSION_TIMEOUT_MS: '30000' };
    await b2!.stop();
    await waitFor('a to hold every partition', async () => ([...(await owners()).values()].every((x) => x === 'a') ? true : undefined), 60_000, 50);
    const b3 = await startServiceProcess('voting', nw.ports.b!, env);
    nw.procs.push(b3);
    const k = P - 1;
    const moved = solutions[k]!;
    // a gives back its highest partition: b2 gets partition k.
    await waitFor('b2 to hold the highest partition', async () => ((await owners()).get(k) === 'b2' ? true : undefined), 60_000, 100);
    // Its inbox a member of the partition's consumer group (started), so that its death holds a's join.
    const serving = new RegExp(`partition serving here[^\\n]*"partition":${k}[,}]`);
    await waitFor(`b2 to serve partition ${k}`, () => (serving.test(b3.output()) ? true : undefined), 60_000, 50);
    const A = client(VotingClient, 'a');
    // A unary call with a client's deadline (10 s, the load-fault client's): DEADLINE_EXCEEDED fails the test.
    const call = <Res>(method: 'startRound' | 'submitVote', req: unknown): Promise<Res> =>
      new Promise<Res>((resolve, reject) =>
        (A[method] as unknown as (...a: unknown[]) => void).call(
          A,
          req,
          new grpc.Metadata(),
          { deadline: Date.now() + 10_000 },
          (e: grpc.ServiceError | null, r: Res) => (e ? reject(e) : resolve(r)),
        ),
      );
    const refusals: string[] = [];
    /** `fn` until answered; only UNAVAILABLE is retried (its details kept); anything else (DEADLINE_EXCEEDED) fails at once. */
    const answered = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      for (const until = Date.now() + 120_000; ; ) {
        try {
          return await fn();
        } catch (e) {
          const err = e as grpc.ServiceError;
          if (err.code !== grpc.status.UNAVAILABLE || Date.now() > until) throw new Error(`${what}: ${err.code} ${err.details ?? err.message}`);
          refusals.push(err.details);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    await b3.kill();
    // Blocks the dead member did not consume, before a starts the partition: its inbox has them to
    // catch up with at its join (appends its guard refused on the unmended build).
    await blocks(2);
    await waitFor('a to hold every partition', async () => ([...(await owners()).values()].every((x) => x === 'a') ? true : undefined), 60_000, 50);
    const restartedAt = Date.now();
    let back: ServiceProcess | undefined;
    const again = startServiceProcess('voting', nw.ports.b!, env).then((p) => {
      back = p;
      nw.procs.push(p);
      return p;
    });
    again.catch(() => undefined);
    const lines = (p: ServiceProcess | undefined): string =>
      (p?.output() ?? '')
        .split('\n')
        .filter((l) => /partition|inbox: (joined|left)|start: /.test(l))
        .slice(-40)
        .join('\n');
    // Votes for the moving partition through a, from the restart until b2 holds it again and has
    // answered a whole round. Bounded: a hand-back that never completes fails here.
    const sent: { roundId: string; worker: string }[] = [];
    const closed: string[] = [];
    let servedAt: number | undefined;
    const giveUpAt = Date.now() + 150_000;
    for (let i = 0; servedAt === undefined; i++) {
      if (Date.now() > giveUpAt)
        assert.fail(
          `the hand-back did not complete: partition ${k} owned by ${(await owners()).get(k)}\n--- a\n${lines(nw.replicas.a)}\n--- b2 again\n${lines(back)}`,
        );
      const owner = (await owners()).get(k);
      const roundId = `h${i}`;
      const start = signed(R, 'Voting/StartRound', { auth: undefined, solution: moved, roundId }, StartRoundRequest.encode);
      /** The start height of the last refusal past the period's end, and the one blocks were produced after. */
      let refusedAt: string | undefined;
      let producedAfter: string | undefined = '-';
      for (;;) {
        const started = await answered(`round ${roundId} started through a`, () =>
          call('startRound', start).then(
            () => true,
            (e: grpc.ServiceError) => {
              // A retry of a start the owner recorded after its forwarder gave up.
              if (e.code === grpc.status.ALREADY_EXISTS && refusals.length > 0) return true;
              // The round would end after the reward period: blocks to the next one. The partition reads
              // its recorded height, which lags while its inbox catches up (its start, under load), so
              // the refusal may repeat until it has recorded them: bounded by time, not by a count.
              if (e.code === grpc.status.FAILED_PRECONDITION && /reward period/.test(e.details) && Date.now() < giveUpAt) {
                refusedAt = /\(start (\d+) /.exec(e.details)?.[1];
                return false;
              }
              throw e;
            },
          ),
        );
        if (started) break;
        // Past the period's end (5 blocks from any height of a 10-block period) when the partition
        // refused at a new height; at the same height it has not recorded the last ones yet: wait.
        if (refusedAt !== producedAfter) {
          producedAfter = refusedAt;
          await blocks(5);
        } else await new Promise((r) => setTimeout(r, 250));
      }
      let all = true;
      for (const w of workers) {
        const req = vote(w, moved, roundId, 'c0ffee');
        const res = await answered(`a vote of ${roundId} through a`, () =>
          call<{ accepted: boolean }>('submitVote', req).catch((e: grpc.ServiceError) => {
            // A retry of a vote the owner recorded after its forwarder gave up: refused by its nonce (checked recorded once below).
            if (e.code !== grpc.status.UNAVAILABLE && /nonce/.test(e.details) && refusals.length > 0) return { accepted: true };
            // Answered, refused: its round ended meanwhile (the blocks above); not recorded (checked below).
            if (e.code === grpc.status.FAILED_PRECONDITION && /votes are closed/.test(e.details)) {
              closed.push(e.details);
              return { accepted: false };
            }
            throw e;
          }),
        );
        if (res.accepted) sent.push({ roundId, worker: w.address });
        else all = false;
      }
      if (owner === 'b2' && back && all) servedAt = Date.now();
    }
    await again;
    t.diagnostic(
      `hand-back of partition ${k} to b2: ${sent.length} votes sent through a from the restart until b2 owned it and answered a round (${servedAt - restartedAt} ms after the restart, logged, not asserted); UNAVAILABLE answers retried: ${refusals.length}; first: ${refusals[0] ?? '-'}; refused as their round had ended: ${closed.length}`,
    );
    t.diagnostic(`a's lines of the hand-back:\n${lines(nw.replicas.a)}`);
    for (const d of refusals) assert.match(d, /partition|starting/, d);
    // Each vote sent is recorded once in the partition log.
    const cast = await db.query<{ stream_id: string; worker: string; n: number }>(
      `SELECT stream_id, worker, count(*)::int AS n FROM (${castVotesSql(`${schemaFor(partitionCategory(ns, k))}.events`)}) v WHERE stream_id LIKE $1 GROUP BY 1, 2`,
      [`round:${moved}:h%`],
    );
    assert.deepEqual(
      cast.rows.map((r) => `${r.stream_id}/${r.worker}/${r.n}`).sort(),
      sent.map((v) => `round:${moved}:${v.roundId}/${v.worker}/1`).sort(),
      'every vote of the hand-back recorded once',
    );
    assert.equal((await owners()).get(k), 'b2', `partition ${k} is back on b2`);
  });
});
