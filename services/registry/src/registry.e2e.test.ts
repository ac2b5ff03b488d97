import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  cosignCommand,
  generateKeyPair,
  kafkaBus,
  nonceCounter,
  envelopesOf,
  signCommand,
  silentLogger,
  TOKEN,
  topicOf,
  type Bus,
  type Consumer,
  type Envelope,
  type KeyPair,
  type Signed,
} from '@ewx/platform';
import {
  expectStatus,
  freePort,
  produceBlocks,
  insecureClient,
  realInfra,
  serviceEnv,
  rpc,
  startServiceProcess,
  uniqueNamespace,
  waitFor,
  type ServiceProcess,
} from '@ewx/platform/testing';
import { ConsensusClient } from '@ewx/proto/consensus';
import * as R from '@ewx/proto/registry';
import { RewardsClient } from '@ewx/proto/rewards';
import { StartRoundRequest, VotingClient } from '@ewx/proto/voting';

/**
 * The registry through gRPC on real Kafka and PostgreSQL, with consensus, voting and rewards as
 * separate processes: a group and a solution are registered, 5 operators subscribe and connect
 * workers, 3 workers are nominated; the published events arrive on the registry's Kafka topic
 * with the right fields, the voting service takes a 3-worker snapshot from them, and the rewards
 * service sees the deposits (the foundation's thin slice).
 */
const { infra, skip } = await realInfra();

interface Encodable<T> {
  encode(m: T): { finish(): Uint8Array };
}

describe('registry end to end: group, solution, 5 operators with workers, 3 nominations', { skip }, () => {
  const admin = generateKeyPair();
  const service = generateKeyPair();
  const registrar = generateKeyPair();
  const operators = Array.from({ length: 5 }, () => generateKeyPair());
  const workers = Array.from({ length: 5 }, () => generateKeyPair());
  const nonce = nonceCounter();
  const ns = uniqueNamespace('registry');
  const procs = new Map<string, ServiceProcess>();
  const seen: Envelope[] = [];
  let ports: Record<string, number>;
  let bus: Bus;
  let consumer: Consumer;
  let registry: R.RegistryClient;

  const env = (): Record<string, string> => ({
    ...serviceEnv(infra!, ns, admin.address),
    REWARD_PERIOD_BLOCKS: '10',
    LEDGER_SERVICE_ACCOUNTS: service.address,
  });
  const signed = <T extends Signed>(key: KeyPair, method: string, req: T, codec: Encodable<T>): T =>
    signCommand(key, `/ewx.v1.Registry/${method}`, req, nonce(), (m) => codec.encode(m).finish());
  /** ConnectWorker signed by the operator and, over the same payload with its own nonce, by the consenting worker (`by`; null: none). */
  const connectEncode = (m: R.ConnectWorkerRequest): Uint8Array => R.ConnectWorkerRequest.encode({ ...m, workerAuth: undefined }).finish();
  const connect = (op: KeyPair, worker: KeyPair, by: KeyPair | null = worker, workerNonce = nonce()): R.ConnectWorkerRequest => {
    const req: R.ConnectWorkerRequest = { auth: undefined, worker: worker.address, operator: op.address, workerAuth: undefined };
    const m = '/ewx.v1.Registry/ConnectWorker';
    return { ...signCommand(op, m, req, nonce(), connectEncode), workerAuth: by === null ? undefined : cosignCommand(by, m, req, workerNonce, connectEncode) };
  };
  const blocks = (count: number): Promise<bigint> => produceBlocks(insecureClient(ConsensusClient, `127.0.0.1:${ports.consensus}`), admin, nonce, count);
  const ofType = (type: string): Record<string, unknown>[] => seen.filter((e) => e.type === type).map((e) => e.data as Record<string, unknown>);

  before(async () => {
    ports = { consensus: await freePort(), registry: await freePort(), voting: await freePort(), rewards: await freePort() };
    await Promise.all(
      ['consensus', 'registry', 'voting', 'rewards'].map(async (n) => {
        procs.set(n, await startServiceProcess(n, ports[n]!, env()));
      }),
    );
    registry = insecureClient(R.RegistryClient, `127.0.0.1:${ports.registry}`);
    bus = kafkaBus({ brokers: infra!.brokers, clientId: 'registry-e2e', log: silentLogger });
    consumer = await bus.consume({
      groupId: `${ns}.e2e-observer`,
      topics: [topicOf('registry', ns)],
      handler: async (m) => {
        seen.push(...envelopesOf(m.value).map((d) => d.envelope));
      },
    });
  });
  after(async () => {
    await consumer?.stop();
    await bus?.close();
    for (const p of procs.values()) await p.stop();
  });

  test('registers, subscribes, connects, nominates; the events arrive on Kafka; voting snapshots the 3 nominated workers', async () => {
    for (const k of [registrar, ...operators]) {
      await rpc(registry, 'deposit', signed(admin, 'Deposit', { auth: undefined, account: k.address, amount: (1000n * TOKEN).toString() }, R.DepositRequest));
    }
    await rpc(
      registry,
      'signUpRegistrar',
      signed(registrar, 'SignUpRegistrar', { auth: undefined, friendlyName: 'Acme Energy', legalLocation: 'Zug, CH' }, R.SignUpRegistrarRequest),
    );
    const config: R.GroupConfig = {
      namespace: 'e2e.group',
      info: 'end to end',
      minStake: (10n * TOKEN).toString(),
      maxStake: (100n * TOKEN).toString(),
      maxOperators: 10,
      allowListEnabled: false,
      startBlock: 0n,
      subscriptionRewardPerBlock: TOKEN.toString(),
      votingRewardPerBlock: (2n * TOKEN).toString(),
      slaVotingThreshold: 50,
      operationStartBlock: 0n,
      operationEndBlock: 1_000_000n,
      withdrawalDelay: 1,
    };
    await rpc(
      registry,
      'registerGroup',
      signed(registrar, 'RegisterGroup', { auth: undefined, config, budget: (500n * TOKEN).toString(), allowList: [] }, R.RegisterGroupRequest),
    );
    assert.equal((await rpc(registry, 'getAccount', { address: registrar.address })).reserved, (500n * TOKEN).toString());

    // The solution needs the reward period length: wait until the rewards service's schedule arrived.
    const solution: R.SolutionConfig = {
      namespace: 'e2e.solution',
      group: 'e2e.group',
      name: 'E2E',
      description: 'end to end',
      logicRef: 'bafy-e2e',
      expirationBlock: 100_000n,
      maxWaitingThreshold: 3n,
      voteThresholdPercent: 60,
      quorumPercent: 50,
      votingStartMethod: 'REGISTRAR',
      nominationsEnabled: true,
      unresolvedPolicy: 'NONE',
    };
    await waitFor(
      'the registry to know the reward period schedule',
      async () => rpc(registry, 'registerSolution', signed(registrar, 'RegisterSolution', { auth: undefined, config: solution }, R.RegisterSolutionRequest)),
      30_000,
      250,
    );

    // Refusals through gRPC change nothing.
    const tooMuch = signed(operators[0]!, 'Subscribe', { auth: undefined, group: 'e2e.group', stake: (101n * TOKEN).toString() }, R.SubscribeRequest);
    assert.match(await expectStatus(rpc(registry, 'subscribe', tooMuch), grpc.status.INVALID_ARGUMENT), /^stake: must lie within/);
    const forged = {
      ...signed(operators[0]!, 'Subscribe', { auth: undefined, group: 'e2e.group', stake: (10n * TOKEN).toString() }, R.SubscribeRequest),
      stake: (99n * TOKEN).toString(),
    };
    await expectStatus(rpc(registry, 'subscribe', forged), grpc.status.UNAUTHENTICATED);

    // Nobody becomes a worker without its own consent (worker_auth); the refusals change nothing.
    const stranger = generateKeyPair();
    assert.match(await expectStatus(rpc(registry, 'connectWorker', connect(operators[0]!, stranger, null)), grpc.status.UNAUTHENTICATED), /^worker_auth: /);
    assert.match(
      await expectStatus(rpc(registry, 'connectWorker', connect(operators[0]!, stranger, operators[1]!)), grpc.status.PERMISSION_DENIED),
      /^worker_auth: signed by/,
    );
    const badSignature = connect(operators[0]!, stranger);
    badSignature.workerAuth = { ...badSignature.workerAuth!, signature: Buffer.alloc(64, 7) };
    assert.match(await expectStatus(rpc(registry, 'connectWorker', badSignature), grpc.status.UNAUTHENTICATED), /^worker_auth\.signature: /);
    // A consent given to operator 1 is no use to operator 0: it names its operator.
    const forOne = connect(operators[1]!, stranger);
    const taken = {
      ...signCommand(operators[0]!, '/ewx.v1.Registry/ConnectWorker', { ...forOne, auth: undefined }, nonce(), connectEncode),
      workerAuth: forOne.workerAuth,
    };
    assert.match(await expectStatus(rpc(registry, 'connectWorker', taken), grpc.status.PERMISSION_DENIED), /^operator: /);
    assert.equal((await rpc(registry, 'getOperator', { address: operators[0]!.address })).worker, '');
    assert.equal((await rpc(registry, 'getOperator', { address: operators[1]!.address })).worker, '');

    const stakes = operators.map((_, i) => BigInt(10 + 10 * i) * TOKEN);
    for (const [i, op] of operators.entries()) {
      await rpc(registry, 'subscribe', signed(op, 'Subscribe', { auth: undefined, group: 'e2e.group', stake: stakes[i]!.toString() }, R.SubscribeRequest));
      await rpc(registry, 'connectWorker', connect(op, workers[i]!));
    }
    const notOwner = signed(operators[0]!, 'NominateWorker', { auth: undefined, solution: 'e2e.solution', worker: workers[0]!.address }, R.NominationRequest);
    await expectStatus(rpc(registry, 'nominateWorker', notOwner), grpc.status.PERMISSION_DENIED);
    for (const wk of workers.slice(0, 3)) {
      await rpc(
        registry,
        'nominateWorker',
        signed(registrar, 'NominateWorker', { auth: undefined, solution: 'e2e.solution', worker: wk.address }, R.NominationRequest),
      );
    }

    // What the consumers of the registry's topic see.
    await waitFor(
      '5 subscriptions, 5 worker connections and 3 nominations on Kafka',
      () => (ofType('OperatorSubscribed').length >= 5 && ofType('WorkerConnected').length >= 5 && ofType('WorkerNominated').length >= 3 ? true : undefined),
      30_000,
    );
    const subs = ofType('OperatorSubscribed');
    assert.equal(subs.length, 5);
    for (const [i, op] of operators.entries()) {
      const s = subs.find((x) => x.operator === op.address)!;
      assert.equal(s.group, 'e2e.group');
      assert.equal(s.stake, stakes[i]!.toString());
      assert.equal(s.activeFromPeriod, 1, 'subscribed in period 0: active from period 1');
      assert.equal(typeof s.height, 'number');
    }
    assert.deepEqual(
      ofType('WorkerConnected')
        .map((x) => [x.operator, x.worker])
        .sort(),
      operators.map((o, i) => [o.address, workers[i]!.address]).sort(),
    );
    assert.deepEqual(
      ofType('WorkerNominated')
        .map((x) => x.worker)
        .sort(),
      workers
        .slice(0, 3)
        .map((w) => w.address)
        .sort(),
    );
    assert.ok(ofType('WorkerNominated').every((x) => x.solution === 'e2e.solution'));
    const registered = ofType('GroupRegistered')[0]!;
    assert.deepEqual(
      { group: registered.group, owner: registered.owner, budget: registered.budget },
      { group: 'e2e.group', owner: registrar.address, budget: (500n * TOKEN).toString() },
    );
    // One stream per group keeps a group's facts in order for consumers: registration before solution before nominations.
    const groupStream = seen.filter((e) => e.streamId === 'group:e2e.group').map((e) => e.type);
    assert.ok(groupStream.indexOf('GroupRegistered') < groupStream.indexOf('SolutionRegistered'));
    assert.ok(groupStream.indexOf('SolutionRegistered') < groupStream.indexOf('WorkerNominated'));

    // Queries.
    const group = await rpc(registry, 'getGroup', { namespace: 'e2e.group' });
    assert.equal(group.operators, 5);
    assert.equal(group.totalStake, stakes.reduce((a, b) => a + b, 0n).toString());
    const op0 = await rpc(registry, 'getOperator', { address: operators[0]!.address });
    assert.equal(op0.worker, workers[0]!.address);
    assert.equal(op0.subscriptions[0]?.stake, stakes[0]!.toString());
    assert.equal(op0.account?.reserved, stakes[0]!.toString());
    const pages: string[] = [];
    let token = '';
    do {
      const page = await rpc(registry, 'listOperators', { page: { pageSize: 2, pageToken: token }, group: 'e2e.group' });
      pages.push(...page.operators.map((o) => o.address));
      token = page.page?.nextPageToken ?? '';
    } while (token);
    assert.deepEqual(pages, operators.map((o) => o.address).sort());
    assert.deepEqual(
      (await rpc(registry, 'getSolution', { namespace: 'e2e.solution' })).nominatedWorkers,
      workers
        .slice(0, 3)
        .map((w) => w.address)
        .sort(),
    );

    // Voting: in period 1 the stakes are active; the registrar's round snapshots the 3 nominated workers only.
    await blocks(11);
    const voting = insecureClient(VotingClient, `127.0.0.1:${ports.voting}`);
    await waitFor('voting at height 11', async () => ((await rpc(voting, 'getStatus', {})).height === 11n ? true : undefined), 30_000);
    const round = await waitFor(
      'voting to start a round with a 3-worker snapshot',
      async () => {
        const start = signCommand(registrar, '/ewx.v1.Voting/StartRound', { auth: undefined, solution: 'e2e.solution', roundId: 'slice-1' }, nonce(), (m) =>
          StartRoundRequest.encode(m).finish(),
        );
        return rpc(voting, 'startRound', start);
      },
      30_000,
      250,
    );
    assert.equal(round.eligible, 3);

    // The foundation's thin slice: rewards sees the deposits.
    const rewards = insecureClient(RewardsClient, `127.0.0.1:${ports.rewards}`);
    const view = await waitFor(
      'rewards to see the operator deposit',
      async () => {
        const v = await rpc(rewards, 'getAccountView', { address: operators[4]!.address });
        return v.deposits === 1 ? v : undefined;
      },
      30_000,
    );
    assert.equal(view.deposited, (1000n * TOKEN).toString());
  });

  test('a worker leaves its operator (WorkerDisconnected on Kafka); its consent cannot be replayed', async () => {
    const [op, wk] = [generateKeyPair(), generateKeyPair()];
    const first = connect(op, wk);
    await rpc(registry, 'connectWorker', first);
    assert.equal((await rpc(registry, 'getOperator', { address: op.address })).worker, wk.address);
    await rpc(registry, 'disconnectWorker', signed(wk, 'DisconnectWorker', { auth: undefined }, R.DisconnectWorkerRequest));
    assert.equal((await rpc(registry, 'getOperator', { address: op.address })).worker, '');
    await waitFor('WorkerDisconnected on Kafka', () => ofType('WorkerDisconnected').find((x) => x.operator === op.address && x.worker === wk.address), 30_000);
    // Replays: the whole request (the operator's nonce is spent), then the worker's consent under a fresh operator signature.
    assert.match(await expectStatus(rpc(registry, 'connectWorker', first), grpc.status.PERMISSION_DENIED), /^nonce: /);
    const replayed = {
      ...signCommand(op, '/ewx.v1.Registry/ConnectWorker', { ...first, auth: undefined }, nonce(), connectEncode),
      workerAuth: first.workerAuth,
    };
    assert.match(await expectStatus(rpc(registry, 'connectWorker', replayed), grpc.status.PERMISSION_DENIED), /^worker_auth\.nonce: /);
    assert.equal((await rpc(registry, 'getOperator', { address: op.address })).worker, '');
    // A new consent connects it again.
    await rpc(registry, 'connectWorker', connect(op, wk));
    assert.equal((await rpc(registry, 'getOperator', { address: op.address })).worker, wk.address);
  });

  test('holds for other services: placed by the service account, idempotent, refused for others', async () => {
    const account = operators[4]!.address;
    const hold = { auth: undefined, holdId: 'e2e:eval:1', account, amount: (10n * TOKEN).toString(), purpose: 'distance-evaluation' };
    await rpc(registry, 'placeHold', signed(service, 'PlaceHold', hold, R.PlaceHoldRequest));
    await rpc(registry, 'placeHold', signed(service, 'PlaceHold', hold, R.PlaceHoldRequest));
    await expectStatus(rpc(registry, 'placeHold', signed(service, 'PlaceHold', { ...hold, amount: '1' }, R.PlaceHoldRequest)), grpc.status.ALREADY_EXISTS);
    await expectStatus(
      rpc(registry, 'placeHold', signed(operators[0]!, 'PlaceHold', { ...hold, holdId: 'e2e:eval:2' }, R.PlaceHoldRequest)),
      grpc.status.PERMISSION_DENIED,
    );
    // A reused nonce is refused (SPEC §1) and changes nothing.
    const n = nonce();
    const again = signCommand(service, '/ewx.v1.Registry/PlaceHold', { ...hold, holdId: 'e2e:eval:3' }, n, (m) => R.PlaceHoldRequest.encode(m).finish());
    await rpc(registry, 'placeHold', again);
    const reused = signCommand(service, '/ewx.v1.Registry/PlaceHold', { ...hold, holdId: 'e2e:eval:4' }, n, (m) => R.PlaceHoldRequest.encode(m).finish());
    assert.match(await expectStatus(rpc(registry, 'placeHold', reused), grpc.status.PERMISSION_DENIED), /nonce/);
    await expectStatus(rpc(registry, 'getHold', { holdId: 'e2e:eval:4' }), grpc.status.NOT_FOUND);
    const h = await rpc(registry, 'getHold', { holdId: 'e2e:eval:1' });
    assert.equal(h.status, 'HELD');
    const a = await rpc(registry, 'getAccount', { address: account });
    assert.equal(a.reserved, (50n * TOKEN + 20n * TOKEN).toString(), 'stake 50 + two holds of 10');
  });

  test('after kill -9 the registry rebuilds the same state from PostgreSQL; command latency', async (t) => {
    const before = {
      group: await rpc(registry, 'getGroup', { namespace: 'e2e.group' }),
      operators: await rpc(registry, 'listOperators', { page: { pageSize: 10, pageToken: '' }, group: '' }),
      treasury: await rpc(registry, 'getAccount', { address: 'ed25519:' + '0'.repeat(64) }),
    };
    await procs.get('registry')!.kill();
    procs.set('registry', await startServiceProcess('registry', ports.registry!, env()));
    registry = insecureClient(R.RegistryClient, `127.0.0.1:${ports.registry}`);
    assert.deepEqual(await rpc(registry, 'getGroup', { namespace: 'e2e.group' }), before.group);
    assert.deepEqual(await rpc(registry, 'listOperators', { page: { pageSize: 10, pageToken: '' }, group: '' }), before.operators);
    assert.deepEqual(await rpc(registry, 'getAccount', { address: 'ed25519:' + '0'.repeat(64) }), before.treasury);

    // Measured: sequential signed transfers through gRPC, each appended to PostgreSQL before the reply.
    const count = 100;
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      await rpc(registry, 'transfer', signed(operators[1]!, 'Transfer', { auth: undefined, to: operators[2]!.address, amount: '1' }, R.TransferRequest));
    }
    const ms = (performance.now() - t0) / count;
    t.diagnostic(`registry: ${ms.toFixed(2)} ms per signed command (gRPC + signature + PostgreSQL append), sequential`);
    assert.equal((await rpc(registry, 'getAccount', { address: operators[2]!.address })).free, (1000n * TOKEN - 30n * TOKEN + BigInt(count)).toString());
  });
});
