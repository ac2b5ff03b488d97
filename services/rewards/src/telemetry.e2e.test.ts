import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import { generateKeyPair, nonceCounter } from '@ewx/platform';
import {
  freePort,
  produceBlocks,
  insecureClient,
  otlpEnv,
  otlpReceiver,
  realInfra,
  serviceEnv,
  rpc,
  seedStandaloneNetwork,
  signedFor,
  startServiceProcess,
  testGroupConfig,
  testSolutionConfig,
  uniqueNamespace,
  untilEligibleWorkers,
  waitFor,
  type ReceivedSpan,
  type ServiceProcess,
} from '@ewx/platform/testing';
import { ConsensusClient } from '@ewx/proto/consensus';
import { DepositRequest, RegistryClient } from '@ewx/proto/registry';
import { RewardsClient } from '@ewx/proto/rewards';
import { RoundState, StartRoundRequest, SubmitVoteRequest, VotingClient } from '@ewx/proto/voting';

/**
 * OpenTelemetry end to end: registry, voting, consensus and rewards as their own processes on real
 * Kafka and PostgreSQL, exporting spans over OTLP/HTTP (the standard OTEL_* variables) to an
 * in-memory receiver. A round's last vote, its settlement in consensus, the vote metadata recorded
 * by rewards, the period's close and the registry's credit of the reward are one trace; every
 * process serves the named metrics on its Prometheus endpoint.
 */
const { infra, skip } = await realInfra();
const G = 'otel.group';
const S = 'otel.solution';
const SERVICES = ['consensus', 'registry', 'rewards', 'voting'] as const;

describe('telemetry: one trace from a vote to the reward credit, and /metrics on every process', { skip, timeout: 300_000 }, () => {
  const admin = generateKeyPair();
  const validator = generateKeyPair();
  const nonce = nonceCounter();
  const ns = uniqueNamespace('otel');
  const procs: ServiceProcess[] = [];
  const R = generateKeyPair();
  const ops = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const workers = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  let ports: Record<string, number>;
  let metricsPorts: Record<string, number>;
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  const client = <C>(Ctor: new (a: string, c: grpc.ChannelCredentials) => C, name: string): C => insecureClient(Ctor, `127.0.0.1:${ports[name]}`);
  const signed = signedFor(nonce);
  const blocks = (count: number): Promise<bigint> => produceBlocks(client(ConsensusClient, 'consensus'), admin, nonce, count);
  const atHeight = (h: bigint): Promise<true> =>
    waitFor(
      `voting, registry and rewards at height ${h}`,
      async () => {
        const [v, r, w] = await Promise.all([
          rpc(client(VotingClient, 'voting'), 'getStatus', {}),
          rpc(client(RegistryClient, 'registry'), 'getStatus', {}),
          rpc(client(RewardsClient, 'rewards'), 'getStatus', {}),
        ]);
        return v.height >= h && r.height >= h && w.height >= h ? true : undefined;
      },
      30_000,
    );
  const appendOf =
    (service: string, type: string) =>
    (s: ReceivedSpan): boolean =>
      s.service === `ewx-${service}` && s.name === 'eventstore append' && String(s.attributes['ewx.event_types']).split(',').includes(type);

  before(async () => {
    receiver = await otlpReceiver();
    ports = {};
    metricsPorts = {};
    for (const name of SERVICES) {
      ports[name] = await freePort();
      metricsPorts[name] = await freePort();
    }
    const env = {
      ...serviceEnv(infra!, ns, admin.address),
      REWARD_PERIOD_BLOCKS: '10',
      REWARDS_SETTLEMENT_DELAY: '2',
      VALIDATORS: validator.address,
      VALIDATOR_KEY: validator.seed,
      ...otlpEnv(receiver.endpoint),
    };
    for (const name of SERVICES) procs.push(await startServiceProcess(name, ports[name]!, { ...env, METRICS_PORT: String(metricsPorts[name]) }));
  });
  after(async () => {
    if (process.env.OTEL_TEST_DUMP) writeFileSync(process.env.OTEL_TEST_DUMP, JSON.stringify(receiver.spans));
    for (const p of procs) await p.stop();
    await receiver?.close();
  });

  test('the last vote of a round and the credit of the reward it earned share one trace', async () => {
    const registry = client(RegistryClient, 'registry');
    const voting = client(VotingClient, 'voting');
    await waitFor('the reward calendar', () => rpc(client(RewardsClient, 'rewards'), 'getCurrentPeriod', {}));
    await atHeight(await blocks(1));
    const net = { registry, voting, nonce, admin, registrar: R, operators: ops, workers };
    await seedStandaloneNetwork(net, 'otel', testGroupConfig(G, { info: 'otel e2e' }), testSolutionConfig(S, G));
    // Subscribed in period 0 (blocks 1..10): eligible from period 1.
    await atHeight(await blocks(10));
    await untilEligibleWorkers(net, S, 3);
    await rpc(voting, 'startRound', signed(R, 'Voting/StartRound', { auth: undefined, solution: S, roundId: 'slice-1' }, StartRoundRequest.encode));
    for (let i = 0; i < 3; i++) {
      await rpc(
        voting,
        'submitVote',
        signed(
          workers[i]!,
          'Voting/SubmitVote',
          { auth: undefined, solution: S, roundId: 'slice-1', result: Buffer.from('c0ffee', 'hex') },
          SubmitVoteRequest.encode,
        ),
      );
    }
    await atHeight(await blocks(3));
    await waitFor(
      'the round settled',
      async () => {
        const r = await rpc(voting, 'getRound', { solution: S, roundId: 'slice-1' });
        return r.state === RoundState.ROUND_STATE_SETTLED ? r : undefined;
      },
      30_000,
    );
    // Period 1 (blocks 11..20) closes at 22 (settlement delay 2); the registry then credits it.
    await atHeight(await blocks(22 - 14));

    const spans = receiver.spans;
    const votes = spans.filter((s) => s.service === 'ewx-voting' && s.name === 'ewx.v1.Voting/SubmitVote' && s.kind === 2);
    assert.equal(votes.length, 3, 'a server span per SubmitVote call');
    // Period 0's credit (no votes) is in the trace of the block that closed it; period 1's continues
    // the trace of the round's last vote.
    const credit = await waitFor(
      "a RewardsCredited append in a vote's trace",
      async () => spans.find((s) => appendOf('registry', 'RewardsCredited')(s) && votes.some((v) => v.traceId === s.traceId)),
      60_000,
    );
    const trace = credit.traceId;
    assert.equal(trace, votes.at(-1)!.traceId, "the last vote's trace");
    const inTrace = (f: (s: ReceivedSpan) => boolean): ReceivedSpan | undefined => spans.find((s) => s.traceId === trace && f(s));
    // Every hop on the way, in the same trace: the vote's append, the round's close at its deadline,
    // the relay and Kafka, consensus's inbox and settlement, rewards' inbox and period close.
    for (const [what, f] of [
      ['the vote appended', appendOf('voting', 'VoteCast')],
      ['the round closed by voting', appendOf('voting', 'RoundClosed')],
      ['RoundClosed published to Kafka', (s: ReceivedSpan) => s.service === 'ewx-voting' && s.kind === 4 && s.attributes['ewx.event_type'] === 'RoundClosed'],
      ['RoundClosed consumed by consensus', (s: ReceivedSpan) => s.service === 'ewx-consensus' && s.kind === 5],
      ['the round settled by consensus', appendOf('consensus', 'RoundSettled')],
      ['the vote metadata recorded by rewards', (s: ReceivedSpan) => s.service === 'ewx-rewards' && s.name === 'rewards inbox record VoteMetadata'],
      ['the period closed by rewards', appendOf('rewards', 'RewardsComputed')],
      ['RewardsComputed recorded by the registry', (s: ReceivedSpan) => s.service === 'ewx-registry' && s.name === 'registry inbox record RewardsComputed'],
    ] as const)
      await waitFor(`${what}: a span in trace ${trace}`, async () => inTrace(f), 15_000);
    // Deadline decisions link the block that made them due.
    const close = inTrace((s) => s.service === 'ewx-voting' && s.name === 'voting execute round')!;
    assert.ok(
      close.links.length > 0 || spans.some((s) => s.spanId === close.parentSpanId && s.name === 'ewx.v1.Voting/SubmitVote'),
      'the round close links its trigger (the block) or follows the vote directly',
    );

    // Log lines carry trace ids: the services log at warn in tests, so look at any line that has one.
    const withIds = procs
      .map((p) => p.output())
      .join('')
      .split('\n')
      .filter((l) => l.includes('"trace_id"'));
    for (const l of withIds) assert.match(l, /"trace_id":"[0-9a-f]{32}","span_id":"[0-9a-f]{16}"/);

    // The Prometheus endpoint of every process, with the named metrics.
    const scrape = async (name: string): Promise<string> => (await fetch(`http://127.0.0.1:${metricsPorts[name]}/metrics`)).text();
    const expected: Record<string, string[]> = {
      voting: [
        'ewx_commands_total{',
        'code="OK"',
        'ewx_votes_total',
        'ewx_events_appended_total',
        'ewx_relay_lag_events',
        'ewx_consumer_lag_messages',
        'ewx_replay_duration_seconds_count',
        'ewx_dependency_up',
      ],
      consensus: [
        'ewx_round_settle_latency_seconds_bucket',
        'ewx_commands_total{',
        'ewx_relay_lag_events',
        'ewx_consumer_lag_messages',
        'ewx_replay_duration_seconds_bucket',
      ],
      rewards: ['ewx_period_close_duration_seconds_bucket', 'ewx_consumer_lag_messages', 'ewx_events_appended_total', 'ewx_replay_events_total'],
      registry: ['ewx_commands_total{', 'ewx_events_appended_total', 'ewx_relay_lag_events', 'ewx_consumer_lag_messages'],
    };
    for (const [name, metrics] of Object.entries(expected)) {
      const text = await scrape(name);
      for (const m of metrics) assert.ok(text.includes(m), `${name} /metrics serves ${m}:\n${text.slice(0, 3000)}`);
    }
    // A refused command is counted by its code.
    await rpc(
      registry,
      'deposit',
      signed(generateKeyPair(), 'Registry/Deposit', { auth: undefined, account: R.address, amount: '1' }, DepositRequest.encode),
    ).catch(() => undefined);
    assert.match(await scrape('registry'), /ewx_commands_total\{[^}]*code="PERMISSION_DENIED"[^}]*\} 1/);
  });
});
