import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { keyPairFromSeed, nonceCounter, signCommand, type KeyPair } from '@ewx/platform';
import { insecureClient, rpc, startEmbeddedProcess, waitFor, type EmbeddedProcess } from '@ewx/platform/testing';
import { ConsensusClient, ProduceBlocksRequest } from '@ewx/proto/consensus';
import { DepositRequest, RegistryClient } from '@ewx/proto/registry';
import { RewardsClient } from '@ewx/proto/rewards';
import { VotingClient } from '@ewx/proto/voting';
import { DistanceClient } from '@ewx/proto/distance';

/**
 * The README's promise for the embedded mode (`npm start`): a SIGKILL at any point loses no event
 * and applies none twice. Consumers tail the producers' logs with durable checkpoints, so what a
 * killed process had produced but not yet delivered is delivered after the restart.
 */
describe('embedded mode: kill -9 loses nothing', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ewx-crash-embedded-'));
  const children = new Set<EmbeddedProcess>();
  after(async () => {
    for (const c of children) await c.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const start = async () => {
    const p = await startEmbeddedProcess({ DATA_DIR: dataDir, BLOCK_TIME_MS: 'manual' });
    children.add(p);
    const { address } = p;
    return {
      address,
      out: p.output,
      consensus: insecureClient(ConsensusClient, address),
      registry: insecureClient(RegistryClient, address),
      rewards: insecureClient(RewardsClient, address),
      voting: insecureClient(VotingClient, address),
      distance: insecureClient(DistanceClient, address),
      kill: p.kill,
      stop: p.stop,
    };
  };
  type System = Awaited<ReturnType<typeof start>>;
  const heights = async (s: System): Promise<bigint[]> =>
    Promise.all([s.consensus, s.registry, s.voting, s.rewards, s.distance].map(async (c) => (await rpc(c as ConsensusClient, 'getStatus', {})).height));

  /** Counts recorded events straight from the PGlite folder (the process must be stopped). */
  const countInLog = async (query: string): Promise<Record<string, number>> => {
    const db = await PGlite.create(join(dataDir, 'pglite'));
    try {
      const out: Record<string, number> = {};
      for (const s of ['consensus', 'registry', 'voting', 'rewards', 'distance']) {
        const r = await db.query<{ n: number }>(query.replace('$SCHEMA', `ewx_${s}`));
        out[s] = Number(r.rows[0]!.n);
      }
      return out;
    } finally {
      await db.close();
    }
  };

  let admin!: KeyPair;
  const nonce = nonceCounter(BigInt(Date.now()) * 1000n);

  test('SIGKILL while producing 2,000 blocks: after a restart every service records every block, once', async () => {
    let sys = await start();
    admin = keyPairFromSeed(readFileSync(join(dataDir, 'admin.key'), 'utf8').trim());
    const produce = (s: System, count: number) =>
      rpc(
        s.consensus,
        'produceBlocks',
        signCommand(admin, '/ewx.v1.Consensus/ProduceBlocks', { auth: undefined, count }, nonce(), (m) => ProduceBlocksRequest.encode(m).finish()),
      );
    // 2,000 blocks in calls of 100, back to back; the process is killed while the sixth is running,
    // with the other services still delivering what consensus produced before.
    let produced = 0n;
    for (let i = 0; i < 5; i++) produced = (await produce(sys, 100)).height;
    const inFlight = produce(sys, 100).catch((e: Error) => e);
    await sys.kill();
    const cut = await inFlight;
    assert.ok(produced === 500n, `500 blocks before the kill (${produced})`);
    assert.ok(cut instanceof Error, 'the sixth call was cut by the kill');

    sys = await start();
    const h = (await rpc(sys.consensus, 'getStatus', {})).height;
    assert.ok(h >= 500n && h <= 600n, `consensus kept what it committed (${h})`);
    for (let i = 0; i < 3; i++) await produce(sys, 100);
    const after = (await produce(sys, 1)).height;
    assert.equal(after, h + 301n);
    await waitFor(`every service at height ${after}`, async () => ((await heights(sys)).every((x) => x === after) ? true : undefined), 120_000, 100);
    await sys.stop();

    // Every block exactly once in every log: consensus produced them, the others recorded them.
    // A block is one BlockProduced {height}, a run of blocks one BlocksProduced {from, to}: the heights they record.
    const covered = `SELECT generate_series(COALESCE((data->>'height')::int, (data->>'from')::int), COALESCE((data->>'height')::int, (data->>'to')::int)) AS h
      FROM $SCHEMA.events WHERE type IN ('BlockProduced', 'BlocksProduced')`;
    const blocks = await countInLog(`SELECT count(*)::int AS n FROM (${covered}) x`);
    const distinct = await countInLog(`SELECT count(DISTINCT h)::int AS n FROM (${covered}) x`);
    for (const [service, n] of Object.entries(blocks)) {
      assert.equal(n, Number(after), `${service}: ${n} blocks recorded for height ${after}`);
      assert.equal(distinct[service], Number(after), `${service}: every height once`);
    }
  });

  test('SIGKILL during a stream of deposits: the rewards service records each deposit once', async () => {
    let sys = await start();
    const account = 'ed25519:' + 'cd'.repeat(32);
    let expected = 0n;
    const deposit = async (s: System, amount: number): Promise<void> => {
      await rpc(
        s.registry,
        'deposit',
        signCommand(admin, '/ewx.v1.Registry/Deposit', { auth: undefined, account, amount: String(amount) }, nonce(), (m) => DepositRequest.encode(m).finish()),
      );
      expected += BigInt(amount);
    };
    for (let i = 1; i <= 60; i++) await deposit(sys, i);
    // Deposits accepted moments before the kill may not have reached the rewards service yet.
    await sys.kill();
    sys = await start();
    for (let i = 61; i <= 100; i++) await deposit(sys, i);
    await sys.kill();
    sys = await start();
    const view = await waitFor(
      'rewards to have recorded 100 deposits',
      async () => {
        const v = await rpc(sys.rewards, 'getAccountView', { address: account });
        return v.deposits >= 100 ? v : undefined;
      },
      60_000,
    );
    assert.equal(view.deposits, 100);
    assert.equal(view.deposited, String(expected));
    assert.equal((await rpc(sys.registry, 'getAccount', { address: account })).free, String(expected));
    await sys.stop();
    const counts = await countInLog(`SELECT count(*)::int AS n FROM $SCHEMA.events WHERE type = 'Deposited' AND data->>'account' = '${account}'`);
    assert.equal(counts.registry, 100);
    assert.equal(counts.rewards, 100);
  });
});
