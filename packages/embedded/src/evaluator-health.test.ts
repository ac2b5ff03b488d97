import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { after, test } from 'node:test';
import { generateKeyPair, probeHealth, type Embedded } from '@ewx/platform';
import { freePort, REPO_ROOT, waitFor } from '@ewx/platform/testing';
import { runInMemory } from './index.js';

/** The evaluator's health port: liveness while it runs; readiness only while it reaches the distance service. */
const children: ChildProcess[] = [];
let system: Embedded | undefined;
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await system?.stop();
});

const evaluator = async (distance: string): Promise<string> => {
  const port = await freePort();
  const child = spawn(process.execPath, [resolve(REPO_ROOT, 'packages/embedded/dist/launch.js'), 'evaluator'], {
    env: {
      ...process.env,
      EVALUATOR_KEY: generateKeyPair().seed,
      DISTANCE_ADDRESS: distance,
      EVALUATOR_POLL_MS: '100',
      GRPC_HEALTH_PORT: String(port),
      LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  children.push(child);
  return `127.0.0.1:${port}`;
};

test('evaluator health: NOT_SERVING while the distance service is unreachable, SERVING once it answers', async () => {
  const nowhere = await freePort();
  const lost = await evaluator(`127.0.0.1:${nowhere}`);
  await waitFor('liveness SERVING', async () => ((await probeHealth(lost, 'liveness')) === 'SERVING' ? true : undefined), 30_000, 100);
  assert.equal(await probeHealth(lost, ''), 'NOT_SERVING');

  const grpcPort = await freePort();
  system = await runInMemory(grpcPort);
  const found = await evaluator(`127.0.0.1:${grpcPort}`);
  await waitFor('readiness SERVING', async () => ((await probeHealth(found, '')) === 'SERVING' ? true : undefined), 30_000, 100);
  assert.equal(await probeHealth(found, 'liveness'), 'SERVING');
  assert.equal(await probeHealth(lost, ''), 'NOT_SERVING', 'the other still cannot reach its distance service');
});
