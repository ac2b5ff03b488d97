import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { START, blockRangeOf, generateKeyPair, nonceCounter, postgresEventStore } from '@ewx/platform';
import {
  freePort,
  produceBlocks,
  healthStatus,
  insecureClient,
  realInfra,
  rpc,
  startServiceProcess,
  tcpProxy,
  uniqueNamespace,
  waitFor,
  type ServiceProcess,
} from '@ewx/platform/testing';
import { ConsensusClient } from '@ewx/proto/consensus';
import { RewardsClient } from '@ewx/proto/rewards';

/**
 * Health follows the dependencies: rewards runs with its PostgreSQL and Kafka connections through
 * TCP proxies this test cuts and restores (the shared servers keep running for everyone else),
 * while consensus, connected directly, goes on producing blocks. While either is cut, health is
 * NOT_SERVING (liveness stays SERVING); once restored, SERVING again, and every block produced
 * meanwhile is recorded once.
 */
const { infra, skip } = await realInfra();

describe('health: NOT_SERVING while the event store or the broker is unreachable, SERVING after, nothing lost', { skip, timeout: 420_000 }, () => {
  const admin = generateKeyPair();
  const nonce = nonceCounter();
  const ns = uniqueNamespace('health');
  const procs: ServiceProcess[] = [];
  let pg: Awaited<ReturnType<typeof tcpProxy>>;
  let kafka: Awaited<ReturnType<typeof tcpProxy>>;
  let ports: { consensus: number; rewards: number };
  const rewardsAt = () => `127.0.0.1:${ports.rewards}`;
  const blocks = (count: number): Promise<bigint> => produceBlocks(insecureClient(ConsensusClient, `127.0.0.1:${ports.consensus}`), admin, nonce, count);
  const height = async (): Promise<bigint> => (await rpc(insecureClient(RewardsClient, rewardsAt()), 'getStatus', {})).height;
  // Generous (the probe runs every 300 ms): CI runs this beside other heavy suites on two cores. On a
  // time-out the service's own log is in the message, to tell a slow probe from a stuck process.
  const health = (status: 'SERVING' | 'NOT_SERVING', what: string) =>
    waitFor(
      `rewards ${status} (${what})`,
      async () => {
        const s = await healthStatus(rewardsAt(), '');
        return s === status || s === (status === 'SERVING' ? 1 : 2) ? true : undefined;
      },
      120_000,
      100,
    ).catch((e: Error) => {
      throw new Error(`${e.message}; rewards' log:\n${procs[1]?.output().slice(-4000)}`);
    });
  const atHeight = (h: bigint) => waitFor(`rewards at height ${h}`, async () => ((await height().catch(() => 0n)) >= h ? true : undefined), 60_000);

  before(async () => {
    const db = new URL(infra!.databaseUrl);
    pg = await tcpProxy({ host: db.hostname, port: Number(db.port || 5432) });
    const [bHost, bPort] = infra!.brokers[0]!.split(':');
    kafka = await tcpProxy({ host: bHost!, port: Number(bPort) }, { rewritePort: true });
    ports = { consensus: await freePort(), rewards: await freePort() };
    const env = { EWX_NAMESPACE: ns, ADMIN_ADDRESS: admin.address, BLOCK_TIME_MS: 'manual', REWARD_PERIOD_BLOCKS: '100' };
    procs.push(await startServiceProcess('consensus', ports.consensus, { ...env, DATABASE_URL: infra!.databaseUrl, KAFKA_BROKERS: infra!.brokers.join(',') }));
    const proxied = new URL(infra!.databaseUrl);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(pg.port);
    procs.push(
      await startServiceProcess('rewards', ports.rewards, {
        ...env,
        DATABASE_URL: proxied.toString(),
        KAFKA_BROKERS: `127.0.0.1:${kafka.port}`,
        HEALTH_PROBE_INTERVAL_MS: '300',
        HEALTH_PROBE_TIMEOUT_MS: '1500',
      }),
    );
  });
  after(async () => {
    for (const p of procs) await p.stop();
    await pg?.close();
    await kafka?.close();
  });

  test('PostgreSQL cut, then the broker cut, under a running service', async () => {
    await atHeight(await blocks(2));
    assert.equal(await healthStatus(rewardsAt(), ''), 'SERVING');

    pg.cut();
    await health('NOT_SERVING', 'PostgreSQL unreachable');
    assert.equal(await healthStatus(rewardsAt(), 'liveness'), 'SERVING', 'liveness stays SERVING: the process is not restarted for it');
    assert.equal(await blocks(3), 5n);
    pg.restore();
    await health('SERVING', 'PostgreSQL back');
    await atHeight(5n);

    kafka.cut();
    await health('NOT_SERVING', 'Kafka unreachable');
    assert.equal(await blocks(2), 7n);
    kafka.restore();
    await health('SERVING', 'Kafka back');
    await atHeight(7n);

    // Nothing lost, nothing twice: each block recorded once in rewards' log, in order.
    const store = await postgresEventStore(infra!.databaseUrl, `${ns}_rewards`);
    try {
      // A block is one BlockProduced, a run of blocks one BlocksProduced {from, to}: each height once.
      const heights = (await store.readAll(START, 10_000)).flatMap((e) => {
        const r = blockRangeOf(e);
        return r ? Array.from({ length: r.to - r.from + 1 }, (_, i) => r.from + i) : [];
      });
      assert.deepEqual(heights, [1, 2, 3, 4, 5, 6, 7]);
    } finally {
      await store.close();
    }
    const out = procs[1]!.output();
    assert.match(out, /health: NOT_SERVING: event store unreachable/);
    assert.match(out, /health: NOT_SERVING: Kafka unreachable/);
  });
});
