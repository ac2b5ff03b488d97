import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  encodePosition,
  generateKeyPair,
  kafkaBus,
  nonceCounter,
  signCommand,
  silentLogger,
  toEnvelope,
  topicOf,
  type Bus,
  type KeyPair,
  type SolutionConfig,
} from '@ewx/platform';
import {
  expectStatus,
  freePort,
  insecureClient,
  realInfra,
  serviceEnv,
  rpc,
  startServiceProcess,
  uniqueNamespace,
  waitFor,
  type ServiceProcess,
} from '@ewx/platform/testing';
import { ConsensusClient, ProduceBlocksRequest } from '@ewx/proto/consensus';
import { RoundState, StartRoundRequest, SubmitVoteRequest, VotingClient } from '@ewx/proto/voting';

/**
 * End to end over real Kafka and PostgreSQL, every service a separate process: one voting process
 * and three consensus processes (three validators sharing the consensus store). The registry's and
 * rewards' input events are published by this test onto their topics in the platform's envelope
 * format, so the test depends only on the published contract. A solution with 10 workers (7 honest,
 * 2 wrong, 1 silent) runs several rounds; one validator is killed and restarted.
 */
const { infra, skip } = await realInfra();

describe('rounds settle through three validator processes (Kafka + PostgreSQL)', { skip, timeout: 240_000 }, () => {
  const admin = generateKeyPair();
  const registrar = generateKeyPair();
  const validatorKeys = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const workers = Array.from({ length: 10 }, () => generateKeyPair());
  const operators = Array.from({ length: 10 }, () => generateKeyPair().address);
  const honest = workers.slice(0, 7);
  const wrong = workers.slice(7, 9);
  // workers[9] stays silent.
  const nonces = new Map<string, () => bigint>();
  const nonce = (k: KeyPair): bigint => {
    let n = nonces.get(k.address);
    if (!n) {
      n = nonceCounter();
      nonces.set(k.address, n);
    }
    return n();
  };
  const ns = uniqueNamespace('rounds');
  const procs: ServiceProcess[] = [];
  let bus: Bus;
  let ports: { voting: number; consensus: number[] };
  let voting: VotingClient;
  let consensus: ConsensusClient[];

  const env = (i?: number): Record<string, string> => ({
    ...serviceEnv(infra!, ns, admin.address),
    VALIDATORS: validatorKeys.map((k) => k.address).join(','),
    ...(i === undefined ? {} : { VALIDATOR_KEY: validatorKeys[i]!.seed }),
  });
  const validatorProcs: ServiceProcess[] = [];
  const startConsensus = async (i: number, extra: Record<string, string> = {}): Promise<ServiceProcess> => {
    const p = await startServiceProcess('consensus', ports.consensus[i]!, { ...env(i), ...extra });
    procs.push(p);
    validatorProcs[i] = p;
    return p;
  };

  let position = 0n;
  const publish = async (source: 'registry' | 'rewards', streamId: string, version: number, type: string, data: object): Promise<void> => {
    const e = toEnvelope(source, { streamId, version, position: encodePosition([++position]), type, data: data as never });
    await bus.publish(topicOf(source, ns), [{ key: streamId, value: JSON.stringify(e) }]);
  };
  const blocks = async (count: number): Promise<bigint> =>
    (
      await rpc(
        consensus[0]!,
        'produceBlocks',
        signCommand(admin, '/ewx.v1.Consensus/ProduceBlocks', { auth: undefined, count }, nonce(admin), (m) => ProduceBlocksRequest.encode(m).finish()),
      )
    ).height;
  const startRound = (roundId: string, key = registrar, solution = 'sol') =>
    rpc(
      voting,
      'startRound',
      signCommand(key, '/ewx.v1.Voting/StartRound', { auth: undefined, solution, roundId }, nonce(key), (m) => StartRoundRequest.encode(m).finish()),
    );
  const vote = (w: KeyPair, roundId: string, result: string) =>
    rpc(
      voting,
      'submitVote',
      signCommand(w, '/ewx.v1.Voting/SubmitVote', { auth: undefined, solution: 'sol', roundId, result: Buffer.from(result, 'hex') }, nonce(w), (m) =>
        SubmitVoteRequest.encode(m).finish(),
      ),
    );
  const votingHeight = async (h: bigint): Promise<void> => {
    await waitFor(`voting at height ${h}`, async () => ((await rpc(voting, 'getStatus', {})).height >= h ? true : undefined), 30_000);
  };
  const roundState = (roundId: string) => rpc(voting, 'getRound', { solution: 'sol', roundId });
  const settled = (roundId: string, ms = 60_000) =>
    waitFor(
      `round ${roundId} settled or unresolved in voting`,
      async () => {
        const r = await roundState(roundId);
        return r.state === RoundState.ROUND_STATE_SETTLED || r.state === RoundState.ROUND_STATE_UNRESOLVED ? r : undefined;
      },
      ms,
      100,
    );

  /** A round the way the network runs it: start, 7 honest + 2 wrong votes, expiry by blocks. */
  async function runRound(roundId: string, voters: KeyPair[] = [...honest, ...wrong], start = true): Promise<void> {
    if (start) await startRound(roundId);
    const good = createHash('sha256').update(roundId).digest('hex');
    await Promise.all(voters.map((w) => vote(w, roundId, honest.includes(w) ? good : 'bad0' + Buffer.from(roundId).toString('hex'))));
    const r = await roundState(roundId);
    const h = await blocks(Number(r.endBlock) - Number((await rpc(consensus[0]!, 'getStatus', {})).height));
    await votingHeight(h);
  }

  before(async () => {
    bus = kafkaBus({ brokers: infra!.brokers, clientId: `${ns}-test`, log: silentLogger });
    ports = { voting: await freePort(), consensus: [await freePort(), await freePort(), await freePort()] };
    // The first consensus process creates the shared schema; the others then join it.
    await startConsensus(0);
    await Promise.all([startConsensus(1), startConsensus(2)]);
    procs.push(await startServiceProcess('voting', ports.voting, env()));
    voting = insecureClient(VotingClient, `127.0.0.1:${ports.voting}`);
    consensus = ports.consensus.map((p) => insecureClient(ConsensusClient, `127.0.0.1:${p}`));

    const config: SolutionConfig = {
      namespace: 'sol',
      group: 'grp',
      name: 'Solution',
      description: 'e2e',
      logicRef: 'bafy',
      expirationBlock: 100_000,
      maxWaitingThreshold: 5,
      voteThresholdPercent: 60,
      quorumPercent: 50,
      votingStartMethod: 'REGISTRAR',
      nominationsEnabled: false,
      unresolvedPolicy: 'RETRY_ONCE',
    };
    await publish('rewards', 'schedule', 0, 'RewardPeriodScheduleChanged', { fromPeriod: 0, firstBlock: 1, length: 1000 });
    await publish('registry', 'group:grp', 0, 'GroupRegistered', { group: 'grp', owner: registrar.address, config: {}, budget: '0', height: 0 });
    await publish('registry', 'solution:sol', 0, 'SolutionRegistered', { solution: 'sol', owner: registrar.address, config, height: 0 });
    await publish('registry', 'solution:probe', 0, 'SolutionRegistered', {
      solution: 'probe',
      owner: registrar.address,
      config: { ...config, namespace: 'probe', unresolvedPolicy: 'NONE' },
      height: 0,
    });
    for (let i = 0; i < 10; i++) {
      await publish('registry', `operator:${operators[i]}`, 0, 'OperatorSubscribed', {
        group: 'grp',
        operator: operators[i],
        stake: '1000',
        activeFromPeriod: 0,
        height: 0,
      });
      await publish('registry', `operator:${operators[i]}`, 1, 'WorkerConnected', { operator: operators[i], worker: workers[i]!.address, height: 0 });
    }
    await blocks(1);
    await votingHeight(1n);
  });

  after(async () => {
    for (const p of procs) await p.stop();
    await bus?.close();
  });

  test('7 honest, 2 wrong, 1 silent: rounds settle, votes are refused by the rules, metadata and the chain follow', async () => {
    // The registry's events arrive on several partitions: probe rounds of a second solution until
    // voting has recorded all ten workers, then start r1.
    let probe = 0;
    await waitFor(
      'voting to know the ten workers',
      async () => {
        const p = await startRound(`probe-${++probe}`, registrar, 'probe').catch(() => undefined);
        return p && p.eligible === 10 ? true : undefined;
      },
      30_000,
      200,
    );
    const r1 = await waitFor(
      'voting to know the solution',
      () =>
        startRound('r1').catch((e: grpc.ServiceError) => {
          if (e.code === grpc.status.NOT_FOUND) return undefined;
          throw e;
        }),
      30_000,
      200,
    );
    assert.equal(r1.state, RoundState.ROUND_STATE_ACTIVE);
    assert.equal(r1.eligible, 10);
    assert.equal(r1.tally, undefined);

    // Rules at the API: an outsider is unauthorized, a changed vote is refused, a repeat changes nothing.
    const outsider = generateKeyPair();
    await expectStatus(vote(outsider, 'r1', 'aa'), grpc.status.PERMISSION_DENIED);
    await expectStatus(startRound('r-by-worker', honest[0]), grpc.status.PERMISSION_DENIED);
    await runRound('r1', [...honest, ...wrong], false);
    const good1 = createHash('sha256').update('r1').digest('hex');
    await expectStatus(vote(honest[0]!, 'r1', good1), grpc.status.FAILED_PRECONDITION); // expired
    const s1 = await settled('r1');
    assert.equal(s1.state, RoundState.ROUND_STATE_SETTLED);
    assert.equal(Buffer.from(s1.result).toString('hex'), good1);
    assert.deepEqual(s1.tally, { eligible: 10, submitted: 9, top: 7 });

    await startRound('r2');
    const good2 = createHash('sha256').update('r2').digest('hex');
    assert.equal((await vote(honest[0]!, 'r2', good2)).accepted, true);
    assert.equal((await vote(honest[0]!, 'r2', good2)).accepted, false);
    await expectStatus(vote(honest[0]!, 'r2', 'ff'), grpc.status.ALREADY_EXISTS);
    await expectStatus(vote(honest[1]!, 'r2', ''), grpc.status.INVALID_ARGUMENT);
    await runRound('r2', [...honest.slice(1), ...wrong], false);
    await runRound('r3');
    for (const id of ['r2', 'r3']) assert.equal((await settled(id)).state, RoundState.ROUND_STATE_SETTLED);

    // RETRY_ONCE: two votes of ten is no quorum; the retry round starts by itself and settles.
    await runRound('r4', honest.slice(0, 2));
    const r4 = await settled('r4');
    assert.deepEqual([r4.state, r4.unresolvedReason], [RoundState.ROUND_STATE_UNRESOLVED, 'NO_QUORUM']);
    const retry = await waitFor('the automatic retry round', async () => roundState('r4#retry').catch(() => undefined));
    assert.equal(retry.retryOf, 'r4');
    await runRound('r4#retry', [...honest, ...wrong], false);
    assert.equal((await settled('r4#retry')).state, RoundState.ROUND_STATE_SETTLED);

    const listed = await rpc(voting, 'listRounds', { solution: 'sol', state: RoundState.ROUND_STATE_SETTLED, page: { pageSize: 2, pageToken: '' } });
    assert.deepEqual(
      listed.rounds.map((r) => r.roundId),
      ['r1', 'r2'],
    );
    const rest = await rpc(voting, 'listRounds', {
      solution: 'sol',
      state: RoundState.ROUND_STATE_SETTLED,
      page: { pageSize: 10, pageToken: listed.page!.nextPageToken },
    });
    assert.deepEqual(
      rest.rounds.map((r) => r.roundId),
      ['r3', 'r4#retry'],
    );

    // Vote metadata: four settled rounds; the unresolved r4 counts for nobody.
    const md = await waitFor('vote metadata of four rounds', async () => {
      const m = await rpc(consensus[1]!, 'getVoteMetadata', { group: 'grp', period: 0, operator: '', page: undefined });
      return m.operators.length === 10 && m.operators.every((o) => o.eligibleRounds === 4) ? m : undefined;
    });
    const byOp = new Map(md.operators.map((o) => [o.operator, o.correctVotes]));
    for (let i = 0; i < 7; i++) assert.equal(byOp.get(operators[i]!), 4, `honest operator ${i}`);
    for (let i = 7; i < 10; i++) assert.equal(byOp.get(operators[i]!), 0, `wrong or silent operator ${i}`);
    // reward_period (issue 10) asks the same; with a different deprecated period beside it, refused naming both.
    assert.deepEqual(await rpc(consensus[1]!, 'getVoteMetadata', { group: 'grp', period: 0, rewardPeriod: 0, operator: '', page: undefined }), md);
    await assert.rejects(
      rpc(consensus[1]!, 'getVoteMetadata', { group: 'grp', period: 1, rewardPeriod: 0, operator: '', page: undefined }),
      (e: grpc.ServiceError) =>
        e.code === grpc.status.INVALID_ARGUMENT &&
        e.details === 'reward_period: reward_period (0) and the deprecated period (1) differ: send reward_period only',
    );

    // The settlement of r1 carries all three validators' attestations.
    const st = await rpc(consensus[2]!, 'getSettlement', { solution: 'sol', roundId: 'r1' });
    assert.equal(st.state, 'SETTLED');
    assert.equal(st.roundState, RoundState.ROUND_STATE_SETTLED);
    assert.equal(st.attestations.length, 3);
    assert.ok(st.attestations.every((a) => !a.dissent));

    // Kill a validator: 2 of 3 is not more than two thirds, so r5 waits in OffChainVote with two
    // attestations; the restarted validator catches up from the log, attests, and r5 settles.
    await validatorProcs[2]!.kill();
    await runRound('r5');
    await waitFor(
      'two attestations of r5',
      async () => {
        const x = await rpc(consensus[0]!, 'getSettlement', { solution: 'sol', roundId: 'r5' });
        return x.attestations.length === 2 ? x : undefined;
      },
      90_000,
      200,
    );
    assert.equal((await roundState('r5')).state, RoundState.ROUND_STATE_OFF_CHAIN_VOTE);
    const waiting = await rpc(consensus[0]!, 'getSettlement', { solution: 'sol', roundId: 'r5' });
    assert.equal(waiting.state, 'CLOSED');
    // The same name in both services: OffChainVote.
    assert.equal(waiting.roundState, RoundState.ROUND_STATE_OFF_CHAIN_VOTE);
    assert.deepEqual(waiting.attestations.map((a) => a.validator).sort(), [validatorKeys[0]!.address, validatorKeys[1]!.address].sort());
    // A new port: the killed process's port may have been taken by another process meanwhile.
    ports.consensus[2] = await freePort();
    await startConsensus(2);
    consensus[2] = insecureClient(ConsensusClient, `127.0.0.1:${ports.consensus[2]}`);
    try {
      assert.equal((await settled('r5', 60_000)).state, RoundState.ROUND_STATE_SETTLED);
    } catch (e) {
      for (const [i, c] of consensus.entries()) {
        const x = await rpc(c, 'getSettlement', { solution: 'sol', roundId: 'r5' }).then(
          (r) => ({ state: r.state, attestations: r.attestations.length }),
          (err: Error) => err.message,
        );
        process.stderr.write(`# diagnostic consensus ${i}: ${JSON.stringify(x)}\n`);
      }
      for (const p of procs) process.stderr.write(`# diagnostic --- ${p.name}\n${p.output().slice(-3000)}\n`);
      throw e;
    }

    // The result chain links every settled result, and a worker's vote has an inclusion proof.
    const chain = await waitFor('consensus 1 to follow the settlement of r5', async () => {
      const c = (await rpc(consensus[1]!, 'getResultChain', { solution: 'sol', page: undefined })).entries;
      return c.length === 5 ? c : undefined;
    });
    assert.deepEqual(
      chain.map((e) => e.roundId),
      ['r1', 'r2', 'r3', 'r4#retry', 'r5'],
    );
    for (let i = 1; i < chain.length; i++) assert.equal(chain[i]!.prevHash, chain[i - 1]!.hash);
    const proof = await rpc(consensus[0]!, 'getVoteProof', { solution: 'sol', roundId: 'r3', worker: wrong[0]!.address });
    const sha = (...b: Buffer[]): string => createHash('sha256').update(Buffer.concat(b)).digest('hex');
    let h = sha(Buffer.from([0]), Buffer.from(wrong[0]!.address), Buffer.from([0x0a]), Buffer.from(proof.result));
    assert.equal(h, proof.leaf);
    for (const s of proof.steps) {
      assert.equal(s.group[s.position], h);
      h = sha(Buffer.from([1]), ...s.group.map((x) => Buffer.from(x, 'hex')));
    }
    assert.equal(h, proof.merkleRoot);
    assert.equal(proof.merkleRoot, (await roundState('r3')).merkleRoot);
  });
});
