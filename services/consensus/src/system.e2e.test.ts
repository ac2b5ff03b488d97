import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { generateKeyPair, nonceCounter } from '@ewx/platform';
import {
  freePort,
  produceBlocks,
  insecureClient,
  testGroupConfig,
  testSolutionConfig,
  realInfra,
  serviceEnv,
  rpc,
  seedStandaloneNetwork,
  signedFor,
  startServiceProcess,
  uniqueNamespace,
  untilEligibleWorkers,
  waitFor,
  type ServiceProcess,
} from '@ewx/platform/testing';
import { ConsensusClient } from '@ewx/proto/consensus';
import { RegistryClient } from '@ewx/proto/registry';
import { RewardsClient } from '@ewx/proto/rewards';
import { RoundState, StartRoundRequest, SubmitVoteRequest, VotingClient } from '@ewx/proto/voting';

/**
 * The round driven through the real registry and rewards, every service its own process on Kafka
 * and PostgreSQL: the registrar registers a group and a solution, operators subscribe and connect
 * workers through the registry, the period calendar comes from rewards; a round runs in voting,
 * one validator settles it, and rewards records the vote metadata for the operators.
 */
const { infra, skip } = await realInfra();
const G = 'e2e.vote.group';
const S = 'e2e.vote.solution';

describe('a round through registry, voting, consensus and rewards', { skip, timeout: 180_000 }, () => {
  const admin = generateKeyPair();
  const validator = generateKeyPair();
  const nonce = nonceCounter();
  const ns = uniqueNamespace('system');
  const procs: ServiceProcess[] = [];
  const R = generateKeyPair();
  const ops = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const workers = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  let ports: Record<string, number>;
  const client = <C>(Ctor: new (a: string, c: grpc.ChannelCredentials) => C, name: string): C => insecureClient(Ctor, `127.0.0.1:${ports[name]}`);
  const signed = signedFor(nonce);
  const blocks = (count: number): Promise<bigint> => produceBlocks(client(ConsensusClient, 'consensus'), admin, nonce, count);
  const atHeight = (h: bigint): Promise<true> =>
    waitFor(
      `voting and registry at height ${h}`,
      async () => {
        const [v, r] = await Promise.all([rpc(client(VotingClient, 'voting'), 'getStatus', {}), rpc(client(RegistryClient, 'registry'), 'getStatus', {})]);
        return v.height >= h && r.height >= h ? true : undefined;
      },
      30_000,
    );

  before(async () => {
    ports = { consensus: await freePort(), registry: await freePort(), rewards: await freePort(), voting: await freePort() };
    const env = {
      ...serviceEnv(infra!, ns, admin.address),
      REWARD_PERIOD_BLOCKS: '10',
      REWARDS_SETTLEMENT_DELAY: '2',
      VALIDATORS: validator.address,
      VALIDATOR_KEY: validator.seed,
    };
    for (const name of ['consensus', 'registry', 'rewards', 'voting']) procs.push(await startServiceProcess(name, ports[name]!, env));
  });
  after(async () => {
    for (const p of procs) await p.stop();
  });

  test('registrar, operators and workers through the registry; the settled round reaches rewards', async () => {
    const registry = client(RegistryClient, 'registry');
    const voting = client(VotingClient, 'voting');
    await waitFor('the reward calendar', () => rpc(client(RewardsClient, 'rewards'), 'getCurrentPeriod', {}));
    await blocks(1);
    await atHeight(1n);
    const net = { registry, voting, nonce, admin, registrar: R, operators: ops, workers };
    await seedStandaloneNetwork(net, 'e2e', testGroupConfig(G, { info: 'voting e2e' }), testSolutionConfig(S, G));
    // Subscribed in period 0 (blocks 1..10): eligible from period 1.
    await atHeight(await blocks(10));
    await untilEligibleWorkers(net, S, 3);
    const round = await rpc(
      voting,
      'startRound',
      signed(R, 'Voting/StartRound', { auth: undefined, solution: S, roundId: 'slice-1' }, StartRoundRequest.encode),
    );
    assert.equal(round.period, 1);
    for (let i = 0; i < 3; i++) {
      const result = Buffer.from(i < 2 ? 'c0ffee' : 'bad0', 'hex');
      await rpc(
        voting,
        'submitVote',
        signed(workers[i]!, 'Voting/SubmitVote', { auth: undefined, solution: S, roundId: 'slice-1', result }, SubmitVoteRequest.encode),
      );
    }
    await atHeight(await blocks(3));
    const settled = await waitFor(
      'the round settled',
      async () => {
        const r = await rpc(voting, 'getRound', { solution: S, roundId: 'slice-1' });
        return r.state === RoundState.ROUND_STATE_SETTLED ? r : undefined;
      },
      30_000,
    );
    assert.equal(Buffer.from(settled.result).toString('hex'), 'c0ffee');
    const md = await rpc(client(ConsensusClient, 'consensus'), 'getVoteMetadata', { group: G, period: 1, operator: '', page: undefined });
    assert.deepEqual(
      new Map(md.operators.map((o) => [o.operator, [o.eligibleRounds, o.correctVotes]])),
      new Map([
        [ops[0]!.address, [1, 1]],
        [ops[1]!.address, [1, 1]],
        [ops[2]!.address, [1, 0]],
      ]),
    );
    for (let i = 0; i < 3; i++) {
      await waitFor(
        `rewards to record operator ${i}'s vote metadata`,
        async () => {
          const r = await rpc(client(RewardsClient, 'rewards'), 'getOperatorRewards', { operator: ops[i]!.address, group: G, period: 1 });
          return r.eligibleRounds === 1 && r.correctVotes === (i < 2 ? 1 : 0) ? true : undefined;
        },
        30_000,
      );
    }
  });
});
