import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { connect, counterNonces, generateKeyPair, keyPairFromSeed, keySigner, untilHeight, type Ewx } from '@ewx/client';
import { freePort, startEmbeddedProcess, waitFor, type EmbeddedProcess } from '@ewx/platform/testing';
import { RoundState } from '@ewx/proto/voting';
import { runScenario, SCENARIO_GROUP, SCENARIO_SOLUTION, scenarioEnv, scenarioKeys } from '@ewx/audit/testing';

/**
 * The Prometheus endpoint of `npm start`'s process (the services the dashboard reads) after the
 * audit scenario's flow: `ewx_group_budget_remaining` equals the registry's answer (also after a
 * restart, read from the replayed state), `ewx_rounds_overdue` is 0 while every round is decided and
 * 1 for a round that cannot settle (a validator set of four where only this process attests), with
 * `ewx_rounds_overdue_oldest_blocks` counting from its deadline; `ewx_consumer_lag_messages` of the
 * embedded inboxes drains to 0.
 */

/** The samples of one metric: labels → value. */
function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`).exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    out.push({ labels, value: Number(m[2]) });
  }
  return out;
}

describe("npm start's /metrics: budget, overdue rounds and consumer lag gauges after a flow", { timeout: 900_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ewx-metrics-'));
  const keys = scenarioKeys(generateKeyPair());
  let system: EmbeddedProcess | undefined;
  let ewx: Ewx | undefined;
  let metricsPort = 0;
  after(async () => {
    ewx?.close();
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const one = async (name: string, labels: Record<string, string>): Promise<number | undefined> =>
    samples(await scrape(), name).find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value;
  const budgetOf = async (): Promise<number> => Number(BigInt((await ewx!.registry.getGroup({ namespace: SCENARIO_GROUP })).budget));

  test("after the scenario: the budget left equals the registry's, no round overdue, the inboxes drained", async () => {
    writeFileSync(join(dataDir, 'admin.key'), keys.admin.seed + '\n', { mode: 0o600 });
    metricsPort = await freePort();
    system = await startEmbeddedProcess({ ...scenarioEnv(keys.evaluator.address), DATA_DIR: dataDir, METRICS_PORT: String(metricsPort) });
    await runScenario({ address: system.address }, keys);
    ewx = connect({ address: system.address });
    const budget = await budgetOf();
    assert.ok(budget > 0 && budget < 500e18, `paid some of the 500 tokens: ${budget}`);
    assert.equal(await one('ewx_group_budget_remaining', { service: 'registry', group: SCENARIO_GROUP }), budget);
    assert.equal(await one('ewx_rounds_overdue', { service: 'voting' }), 0);
    assert.equal(await one('ewx_rounds_overdue_oldest_blocks', { service: 'voting' }), 0);
    const lag = await waitFor(
      "every embedded inbox at its producer's head",
      async () => {
        const s = samples(await scrape(), 'ewx_consumer_lag_messages');
        return s.length > 0 && s.every((x) => x.value === 0) ? s : undefined;
      },
      60_000,
      200,
    );
    // Each service's inbox group tails the logs it consumes (registry ← consensus, rewards, distance; …).
    assert.ok(
      lag.some((x) => x.labels.group?.includes('registry') && x.labels.topic?.includes('consensus')),
      JSON.stringify(lag),
    );
  });

  test('restarted with a validator set no single attestation satisfies: the budget gauge is read from the replayed state; a closed round that cannot settle is overdue', async () => {
    await system!.stop();
    ewx!.close();
    const validator = keyPairFromSeed(readFileSync(join(dataDir, 'validator.key'), 'utf8').trim());
    const others = [generateKeyPair(), generateKeyPair(), generateKeyPair()].map((k) => k.address);
    system = await startEmbeddedProcess({
      ...scenarioEnv(keys.evaluator.address),
      DATA_DIR: dataDir,
      METRICS_PORT: String(metricsPort),
      VALIDATOR_KEY: validator.seed,
      VALIDATORS: [validator.address, ...others].join(','),
    });
    ewx = connect({ address: system.address });
    assert.equal(await one('ewx_group_budget_remaining', { service: 'registry', group: SCENARIO_GROUP }), await budgetOf());

    const nonce = counterNonces(BigInt(Date.now()) * 1000n);
    const as = (k: typeof keys.admin): Ewx => connect({ address: system!.address, signer: keySigner(k, nonce) });
    const [registrar, admin, w0, w1] = [as(keys.registrar), as(keys.admin), as(keys.workers[0]!), as(keys.workers[1]!)];
    try {
      await registrar.voting.startRound({ solution: SCENARIO_SOLUTION, roundId: 'stuck-1' });
      for (const w of [w0, w1]) await w.voting.submitVote({ solution: SCENARIO_SOLUTION, roundId: 'stuck-1', result: Buffer.from('c0ffee', 'hex') });
      const round = await ewx.voting.getRound({ solution: SCENARIO_SOLUTION, roundId: 'stuck-1' });
      const h = Number(
        (await admin.consensus.produceBlocks({ count: Number(round.endBlock) - Number((await ewx.consensus.getStatus({})).height) + 2 })).height,
      );
      await untilHeight(ewx, h, { timeoutMs: 60_000 });
      await waitFor(
        'the round closed, waiting for attestations',
        async () =>
          (await ewx!.voting.getRound({ solution: SCENARIO_SOLUTION, roundId: 'stuck-1' })).state === RoundState.ROUND_STATE_OFF_CHAIN_VOTE ? true : undefined,
        60_000,
        100,
      );
      assert.equal(await one('ewx_rounds_overdue', { service: 'voting' }), 1);
      assert.equal(await one('ewx_rounds_overdue_oldest_blocks', { service: 'voting' }), h - Number(round.endBlock));
      assert.equal((await ewx.consensus.getNetwork({})).attestationsNeeded, 3, 'more than two thirds of four');
    } finally {
      for (const c of [registrar, admin, w0, w1]) c.close();
    }
  });
});
