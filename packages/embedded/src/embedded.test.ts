import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { keyPairFromSeed, nonceCounter, signCommand } from '@ewx/platform';
import { freePort, healthClient, insecureClient, isServing, REPO_ROOT, rpc, waitFor } from '@ewx/platform/testing';
import { ConsensusClient, ProduceBlocksRequest } from '@ewx/proto/consensus';
import { DepositRequest, RegistryClient } from '@ewx/proto/registry';
import { RewardsClient } from '@ewx/proto/rewards';
import { DistanceClient, ImportWotRequest, RequestEvaluationRequest } from '@ewx/proto/distance';
import { generateKeyPair } from '@ewx/platform';

/** `npm start`'s process: all five services, PGlite and the in-process bus, one gRPC port. */
describe('embedded mode (the npm start process)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ewx-embedded-'));
  const children = new Set<ReturnType<typeof spawn>>();
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  const startEmbedded = async (port: number) => {
    const child = spawn(process.execPath, [resolve(REPO_ROOT, 'packages/embedded/dist/main.js')], {
      env: { ...process.env, DATA_DIR: dataDir, GRPC_PORT: String(port), BLOCK_TIME_MS: 'manual', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const t0 = Date.now();
    const health = healthClient(`127.0.0.1:${port}`);
    await waitFor(
      'embedded SERVING',
      () => new Promise<true | undefined>((res) => health.check({ service: 'ewx.v1.Registry' }, (e, r) => res(!e && isServing(r.status) ? true : undefined))),
      90_000,
      100,
    );
    health.close();
    return { child, out: () => out, startedInMs: Date.now() - t0 };
  };

  test('serves all five services with health and reflection, and keeps state across a restart', async () => {
    const port = await freePort();
    const first = await startEmbedded(port);
    assert.match(first.out(), new RegExp(`listening on 127\\.0\\.0\\.1:${port}`));

    const admin = keyPairFromSeed(readFileSync(join(dataDir, 'admin.key'), 'utf8').trim());
    const nonce = nonceCounter(BigInt(Date.now()));
    const address = `127.0.0.1:${port}`;
    const registry = insecureClient(RegistryClient, address);
    const rewards = insecureClient(RewardsClient, address);
    const consensus = insecureClient(ConsensusClient, address);
    const carol = 'ed25519:' + 'ab'.repeat(32);
    await rpc(
      registry,
      'deposit',
      signCommand(admin, '/ewx.v1.Registry/Deposit', { auth: undefined, account: carol, amount: '42' }, nonce(), (m) => DepositRequest.encode(m).finish()),
    );
    await rpc(
      consensus,
      'produceBlocks',
      signCommand(admin, '/ewx.v1.Consensus/ProduceBlocks', { auth: undefined, count: 5 }, nonce(), (m) => ProduceBlocksRequest.encode(m).finish()),
    );
    await waitFor('rewards to see the deposit and block 5', async () => {
      const [v, s] = await Promise.all([rpc(rewards, 'getAccountView', { address: carol }), rpc(rewards, 'getStatus', {})]);
      return v.deposited === '42' && s.height === 5n ? true : undefined;
    });

    // Across services in one process: a distance request reserves its price in the registry's ledger.
    const distance = insecureClient(DistanceClient, address);
    const wot = JSON.stringify({
      format: 'ewx-wot/1',
      identities: [
        { id: 0, member: true, certifiedBy: [1, 2] },
        { id: 1, member: true, certifiedBy: [0, 2] },
        { id: 2, member: true, certifiedBy: [0, 1] },
        { id: 3, member: false, certifiedBy: [0] },
      ],
    });
    await rpc(
      distance,
      'importWot',
      signCommand(admin, '/ewx.v1.Distance/ImportWot', { auth: undefined, json: wot }, nonce(), (m) => ImportWotRequest.encode(m).finish()),
    );
    const dave = generateKeyPair();
    const tenTokens = 10n * 10n ** 18n;
    await rpc(
      registry,
      'deposit',
      signCommand(admin, '/ewx.v1.Registry/Deposit', { auth: undefined, account: dave.address, amount: String(3n * tenTokens) }, nonce(), (m) =>
        DepositRequest.encode(m).finish(),
      ),
    );
    const requested = await rpc(
      distance,
      'requestEvaluation',
      signCommand(dave, '/ewx.v1.Distance/RequestEvaluation', { auth: undefined, identity: 3 }, 1n, (m) => RequestEvaluationRequest.encode(m).finish()),
    );
    assert.match(requested.holdId, /^distance:3:/);
    const daveAccount = await rpc(registry, 'getAccount', { address: dave.address });
    assert.equal(daveAccount.reserved, String(tenTokens));
    assert.equal(daveAccount.free, String(2n * tenTokens));
    // The admin's own nonce sequence is untouched by the distance service's holds.
    await rpc(
      registry,
      'deposit',
      signCommand(admin, '/ewx.v1.Registry/Deposit', { auth: undefined, account: carol, amount: '1' }, nonce(), (m) => DepositRequest.encode(m).finish()),
    );

    for (const service of ['ewx.v1.Registry', 'ewx.v1.Voting', 'ewx.v1.Consensus', 'ewx.v1.Rewards', 'ewx.v1.Distance']) {
      const health = healthClient(address);
      const status = await new Promise<string | number>((res, rej) => health.check({ service }, (e, r) => (e ? rej(e) : res(r.status))));
      health.close();
      assert.ok(isServing(status), `${service} health`);
    }

    const require = createRequire(import.meta.url);
    const reflectionProto = join(require.resolve('@grpc/reflection/package.json'), '../build/proto/grpc/reflection/v1/reflection.proto');
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(reflectionProto)) as unknown as {
      grpc: {
        reflection: {
          v1: {
            ServerReflection: new (
              a: string,
              c: grpc.ChannelCredentials,
            ) => grpc.Client & { serverReflectionInfo(): grpc.ClientDuplexStream<unknown, { listServicesResponse?: { service: { name: string }[] } }> };
          };
        };
      };
    };
    const reflection = new pkg.grpc.reflection.v1.ServerReflection(address, grpc.credentials.createInsecure());
    const names = await new Promise<string[]>((res, rej) => {
      const stream = reflection.serverReflectionInfo();
      stream.on('data', (d) => {
        res(d.listServicesResponse?.service.map((x: { name: string }) => x.name) ?? []);
        stream.end();
      });
      stream.on('error', rej);
      stream.write({ listServices: '' });
    });
    reflection.close();
    for (const n of ['ewx.v1.Registry', 'ewx.v1.Voting', 'ewx.v1.Consensus', 'ewx.v1.Rewards', 'ewx.v1.Distance'])
      assert.ok(names.includes(n), `reflection lists ${n}: ${names.join(', ')}`);

    first.child.kill('SIGTERM');
    await new Promise((r) => first.child.once('exit', r));
    const second = await startEmbedded(port);
    try {
      const r2 = insecureClient(RegistryClient, address);
      assert.equal((await rpc(r2, 'getAccount', { address: carol })).free, '43');
      assert.equal((await rpc(insecureClient(ConsensusClient, address), 'getStatus', {})).height, 5n);
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
    }
  });
});
