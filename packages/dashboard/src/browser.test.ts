import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { connect, counterNonces, generateKeyPair, keyPairFromSeed, keySigner, untilHeight, untilRoundClosed, type Ewx } from '@ewx/client';
import { audit, embeddedSource, verifyBundle, type Bundle } from '@ewx/audit';
import { startGateway } from './gateway.js';
import { freePort, REPO_ROOT, startEmbeddedProcess, waitFor, type EmbeddedProcess } from '@ewx/platform/testing';
import { EvaluationOutcome } from '@ewx/proto/distance';
import { runScenario, SCENARIO_GROUP, SCENARIO_SOLUTION, scenarioEnv, scenarioKeys } from '@ewx/audit/testing';

/**
 * The dashboard in a real browser: Debian's Chromium, driven by playwright-core (no browser
 * download), against `npm start`'s process after the audit scenario's flow (deposits, a group,
 * three operators, rounds settled and unresolved, a distance evaluation, periods paid, a claim, a
 * withdrawal). The figures on the page are compared with the gRPC answers, a round settled while
 * the operator page is open moves its chart without a reload, and the screenshots the README shows
 * are written to docs/img/.
 */

const SHOTS = resolve(REPO_ROOT, 'docs/img');

function findChromium(): string | undefined {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
    } catch {
      /* next */
    }
  }
  return undefined;
}

async function startEmbedded(dataDir: string, env: Record<string, string>): Promise<EmbeddedProcess & { dashboard: string }> {
  const p = await startEmbeddedProcess({ ...env, DATA_DIR: dataDir, DASHBOARD_PORT: String(await freePort()) });
  const dashboard = await waitFor(
    'the embedded mode to print the dashboard URL',
    () => {
      if (p.child.exitCode !== null) throw new Error(`embedded exited: ${p.output().slice(-2000)}`);
      return /dashboard at (http:\/\/\S+)/.exec(p.output())?.[1];
    },
    120_000,
    100,
  ).catch(async (e: Error) => {
    await p.kill();
    throw e;
  });
  return { ...p, dashboard };
}

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
/** axe-core's WCAG 2 A and AA rules (labels, contrast, names, structure) on the page as shown: no violation. */
async function accessible(page: Page): Promise<void> {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const r = await (
      window as unknown as { axe: { run(c: unknown, o: unknown): Promise<{ violations: { id: string; nodes: { target: string[] }[] }[] }> } }
    ).axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } });
    return r.violations.map(
      (v) =>
        `${v.id}: ${v.nodes
          .slice(0, 3)
          .map((n) => n.target.join(' '))
          .join(', ')}`,
    );
  });
  assert.deepEqual(violations, []);
}

const text = (page: Page, testid: string): Promise<string> => page.getByTestId(testid).first().innerText();
const value = (page: Page, testid: string): Promise<string | null> => page.getByTestId(testid).first().getAttribute('data-value');
/** The rows of a table as text cells (header row left out). */
const rows = (page: Page, testid: string): Promise<string[][]> =>
  page
    .getByTestId(testid)
    .first()
    .evaluate((t) => [...t.querySelectorAll('tbody tr')].map((tr) => [...tr.querySelectorAll('th,td')].map((c) => (c as HTMLElement).innerText.trim())));

describe('the dashboard in headless Chromium against the embedded system', { timeout: 600_000 }, () => {
  const executable = findChromium();
  const dataDir = mkdtempSync(join(tmpdir(), 'ewx-dashboard-'));
  const keys = scenarioKeys(generateKeyPair());
  let system: Awaited<ReturnType<typeof startEmbedded>> | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let ewx: Ewx;

  before(async () => {
    if (!executable) return;
    writeFileSync(join(dataDir, 'admin.key'), keys.admin.seed + '\n', { mode: 0o600 });
    system = await startEmbedded(dataDir, scenarioEnv(keys.evaluator.address));
    await runScenario({ address: system.address }, keys);
    ewx = connect({ address: system.address });
    browser = await chromium.launch({ executablePath: executable, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    // bypassCSP only so that the test can inject axe-core: the page's own policy allows no inline script.
    page = await browser.newPage({ viewport: { width: 1100, height: 900 }, bypassCSP: true });
    mkdirSync(SHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    ewx?.close();
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("Chromium is installed (Debian's chromium; .ci/run installs it)", (t) => {
    if (!executable) {
      if (process.env.EWX_REQUIRE_INFRA === '1')
        assert.fail('no chromium on PATH (apt-get install chromium, or set CHROMIUM_PATH): the browser test cannot run');
      t.skip('no chromium on PATH');
      return;
    }
    assert.ok(existsSync(executable), executable);
  });

  const open = async (hash: string, ready: string): Promise<void> => {
    await page.goto(`${system!.dashboard}${hash}`);
    await page.getByTestId(ready).first().waitFor({ timeout: 30_000 });
  };

  test('network view: height, reward period, rounds per state and the distance pool equal the gRPC answers', async (t) => {
    if (!executable) return t.skip('no chromium');
    await open('#/network', 'height');
    const [status, current, pool] = await Promise.all([ewx.consensus.getStatus({}), ewx.rewards.getCurrentPeriod({}), ewx.distance.getPool({})]);
    assert.equal(await text(page, 'height'), String(status.height));
    assert.equal(await text(page, 'period'), String(current.period!.index));
    const rounds = (await ewx.voting.listRounds({ solution: SCENARIO_SOLUTION, page: { pageSize: 500, pageToken: '' } })).rounds;
    assert.equal(await text(page, 'rounds-SETTLED'), String(rounds.filter((r) => r.state === 3).length));
    assert.equal(await text(page, 'rounds-UNRESOLVED'), String(rounds.filter((r) => r.state === 4).length));
    assert.equal(await text(page, 'rounds-SETTLED'), '3');
    assert.equal(await text(page, 'evaluation-period'), String(pool.period));
    assert.equal(await text(page, 'pool-size'), String(pool.entries.length));
    assert.deepEqual(
      (await rows(page, 'groups')).map((r) => r[0]),
      [SCENARIO_GROUP],
    );
    // Read-only.
    assert.equal((await fetch(`${system!.dashboard}api/network`, { method: 'POST' })).status, 405);
    assert.match((await fetch(system!.dashboard)).headers.get('content-security-policy') ?? '', /default-src 'self'/);
    await page.screenshot({ path: join(SHOTS, 'dashboard-network.png'), fullPage: true });
    await accessible(page);
  });

  test('the gateway: a refused read keeps its gRPC meaning as an HTTP status, and only the built page is served', async (t) => {
    if (!executable) return t.skip('no chromium');
    const get = (path: string) => fetch(`${system!.dashboard}${path}`);
    const missing = await get('api/groups/no.such.group');
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { error: string }).error, /NOT_FOUND/);
    assert.equal((await get('api/operators/not-an-address')).status, 400);
    assert.equal((await get('api/distance/abc')).status, 404);
    assert.equal((await get('api/nothing')).status, 404);
    for (const p of ['../package.json', '%2e%2e/package.json', 'main.ts', 'index.html?x=1']) {
      const r = await get(p);
      assert.ok(p.startsWith('index.html') ? r.status === 200 : r.status === 404, `${p}: ${r.status}`);
    }
    // The page loads open without an error in the console.
    const errors: string[] = [];
    const listen = (m: { type(): string; text(): string }) => {
      if (m.type() === 'error') errors.push(m.text());
    };
    page.on('console', listen);
    await open('#/network', 'height');
    page.off('console', listen);
    assert.deepEqual(errors, []);
  });

  test('group view: budget left, stake and SLA % per operator equal the gRPC answers', async (t) => {
    if (!executable) return t.skip('no chromium');
    await open(`#/group/${SCENARIO_GROUP}`, 'group-operators');
    const [payouts, group] = await Promise.all([ewx.rewards.getGroupPayouts({ group: SCENARIO_GROUP }), ewx.registry.getGroup({ namespace: SCENARIO_GROUP })]);
    assert.equal(await value(page, 'budget-left'), payouts.budgetAvailable);
    assert.equal(await value(page, 'total-stake'), group.totalStake);
    assert.equal(await text(page, 'operators-count'), String(group.operators));
    // SLA % per operator: the newest closed period with rounds, as rewards computed it.
    const ops = (await ewx.registry.listOperators({ group: SCENARIO_GROUP })).operators;
    const shown: string[] = [];
    for (const o of ops) {
      const r = (await ewx.rewards.listOperatorRewards({ operator: o.address, group: SCENARIO_GROUP })).rewards
        .filter((x) => x.closed && x.eligibleRounds > 0)
        .sort((a, b) => b.period - a.period)[0];
      assert.ok(r, o.address);
      shown.push(await text(page, `sla-${o.address}`));
      assert.equal(shown.at(-1), `${Math.floor((r.correctVotes * 100) / r.eligibleRounds)}%${r.slaMet ? '' : ' (below threshold)'}`);
    }
    assert.ok(
      shown.every((x) => x === '100%'),
      `period 2's unanimous round: ${shown.join(', ')}`,
    );
    const chart = JSON.parse((await page.getByTestId('group-rewards-chart').getAttribute('data-series'))!);
    assert.deepEqual(
      chart.periods,
      payouts.periods.map((p) => p.period).sort((a, b) => a - b),
    );
    await page.screenshot({ path: join(SHOTS, 'dashboard-group.png'), fullPage: true });
    await accessible(page);
  });

  test('operator view: votes per period, rewards and unclaimed total equal the gRPC answers', async (t) => {
    if (!executable) return t.skip('no chromium');
    const op = keys.operators[0]!.address;
    await open(`#/operator/${op}`, 'votes-chart-table');
    const unclaimed = await ewx.rewards.getUnclaimedRewards({ operator: op });
    assert.equal(await value(page, 'unclaimed-total'), unclaimed.total);
    for (const [period, eligible, correct, missed] of await rows(page, 'votes-chart-table')) {
      const m = (await ewx.consensus.getVoteMetadata({ group: SCENARIO_GROUP, period: Number(period), operator: op })).operators[0];
      assert.deepEqual(
        [Number(eligible), Number(correct), Number(missed)],
        [m?.eligibleRounds ?? 0, m?.correctVotes ?? 0, (m?.eligibleRounds ?? 0) - (m?.correctVotes ?? 0)],
        `period ${period}`,
      );
    }
    // Period 1 of the scenario: operator 0 was right in both settled rounds.
    assert.deepEqual((await rows(page, 'votes-chart-table')).find((r) => r[0] === '1')?.slice(1, 3), ['2', '2']);
    const paid = (await ewx.rewards.listOperatorRewards({ operator: op, group: SCENARIO_GROUP })).rewards.filter((r) => r.closed);
    assert.ok(paid.length >= 2);
    for (const r of paid) assert.equal(await value(page, `reward-${SCENARIO_GROUP}-${r.period}`), r.total, `period ${r.period}`);
    await page.screenshot({ path: join(SHOTS, 'dashboard-operator.png'), fullPage: true });
    await accessible(page);
  });

  test('round view: tally, result and Merkle root; the inclusion proof of a vote checks in the page', async (t) => {
    if (!executable) return t.skip('no chromium');
    await open(`#/round/${SCENARIO_SOLUTION}/slice-1`, 'round-tally');
    const [r, s] = await Promise.all([
      ewx.voting.getRound({ solution: SCENARIO_SOLUTION, roundId: 'slice-1' }),
      ewx.consensus.getSettlement({ solution: SCENARIO_SOLUTION, roundId: 'slice-1' }),
    ]);
    assert.equal(await text(page, 'round-tally'), `${r.tally!.submitted} votes of ${r.tally!.eligible} eligible, top ${r.tally!.top}`);
    assert.equal(await text(page, 'round-result'), Buffer.from(r.result).toString('hex'));
    assert.equal(await text(page, 'merkle-root'), s.merkleRoot);
    assert.equal((await rows(page, 'attestations')).length, s.attestations.length);
    const net = await ewx.consensus.getNetwork({});
    assert.equal(await text(page, 'attestations-count'), `${s.attestations.length} (${net.attestationsNeeded} needed)`);
    // The worker choice is the round's snapshot.
    const snapshot = (await ewx.voting.getRoundSnapshot({ solution: SCENARIO_SOLUTION, roundId: 'slice-1' })).workers.map((w) => w.worker);
    assert.deepEqual(await page.locator('#proof-worker option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)), snapshot);
    // Keyboard only: choose worker 0 and check its vote.
    await page.locator('#proof-worker').focus();
    await page.selectOption('#proof-worker', keys.workers[0]!.address);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.locator('#proof-result[data-verdict]').waitFor({ timeout: 30_000 });
    assert.equal(await page.locator('#proof-result').getAttribute('data-verdict'), 'valid', await page.locator('#proof-result').innerText());
    await page.screenshot({ path: join(SHOTS, 'dashboard-round.png'), fullPage: true });
    await accessible(page);
  });

  test('distance view: identity status, median and the values each evaluator published equal the gRPC answers', async (t) => {
    if (!executable) return t.skip('no chromium');
    await open('#/distance/3', 'distance-status');
    const s = await ewx.distance.getIdentityStatus({ identity: 3 });
    assert.equal(await text(page, 'distance-status'), ['UNSPECIFIED', 'NON_EXISTENT', 'PENDING', 'VALID'][s.status]);
    assert.equal(await text(page, 'distance-median'), `${s.lastMedian / 1e7}%`);
    // Its evaluation of the scenario is settled and its pool no longer kept: the page says so.
    assert.equal(s.lastOutcome, EvaluationOutcome.EVALUATION_OUTCOME_VALID);
    assert.match(await page.getByTestId('distance-values-none').innerText(), /No evaluation pool is kept/);

    // A new evaluation: requested, then the evaluator publishes in its period; the page shows its value.
    const nonce = counterNonces(BigInt(Date.now()) * 1000n);
    const as = (k: typeof keys.admin) => connect({ address: system!.address, signer: keySigner(k, nonce) });
    const [requester, evaluator, admin] = [as(keys.requester), as(keys.evaluator), as(keys.admin)];
    try {
      const { evaluationPeriod } = await requester.distance.requestEvaluation({ identity: 3 });
      await waitFor(
        `distance period ${evaluationPeriod}`,
        async () => {
          if ((await ewx.distance.getPool({})).period >= evaluationPeriod) return true;
          const h = Number((await admin.consensus.produceBlocks({ count: 1 })).height);
          await untilHeight(ewx, h, { timeoutMs: 60_000 });
          return undefined;
        },
        60_000,
        10,
      );
      const size = (await ewx.distance.getPool({ period: evaluationPeriod })).entries.length;
      await evaluator.distance.publishResult({ evaluationPeriod, values: Array.from({ length: size }, (_, i) => 987_654_321 - i) });
      await open('#/network', 'height');
      await open('#/distance/3', 'distance-values');
      const pool = await ewx.distance.getPool({ period: evaluationPeriod });
      const at = pool.entries.findIndex((e) => e.identity === 3);
      assert.ok(at >= 0, `identity 3 in the pool of period ${evaluationPeriod}`);
      assert.deepEqual(
        pool.results.map((r) => r.evaluator),
        [keys.evaluator.address],
      );
      assert.equal(await text(page, 'distance-status'), 'PENDING');
      assert.deepEqual(
        (await rows(page, 'distance-values')).map((r) => r.slice(1)),
        pool.results.map((r) => [`${r.values[at]! / 1e7}%`, String(r.values[at])]),
      );
      assert.deepEqual(
        await page.getByTestId('distance-evaluator').evaluateAll((es) => es.map((e) => e.getAttribute('title'))),
        pool.results.map((r) => r.evaluator),
      );
    } finally {
      requester.close();
      evaluator.close();
      admin.close();
    }
    await page.screenshot({ path: join(SHOTS, 'dashboard-distance.png'), fullPage: true });
    await accessible(page);
  });

  test('with the operator page open, a round that settles moves its votes chart without a reload', async (t) => {
    if (!executable) return t.skip('no chromium');
    const op = keys.operators[0]!.address;
    await open(`#/operator/${op}`, 'votes-chart-table');
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    // The gateway follows the services' Watch streams (not polling) while the page is open.
    await waitFor(
      'the gateway to watch all five services',
      async () => {
        const live = (await (await fetch(`${system!.dashboard}api/live`)).json()) as { watching: string[] };
        return live.watching.length === 5 ? true : undefined;
      },
      30_000,
      100,
    );
    const period = (await ewx.rewards.getCurrentPeriod({})).period!.index;
    const before = (await rows(page, 'votes-chart-table')).find((r) => r[0] === String(period));
    assert.deepEqual(before?.slice(1, 3), ['0', '0'], `period ${period} before the round`);

    // A keyboard user on the group link: the live re-render must leave the focus there.
    await page.getByRole('link', { name: SCENARIO_GROUP }).first().focus();
    const nonce = counterNonces(BigInt(Date.now()) * 1000n);
    const as = (k: typeof keys.admin) => connect({ address: system!.address, signer: keySigner(k, nonce) });
    const registrar = as(keys.registrar);
    await registrar.voting.startRound({ solution: SCENARIO_SOLUTION, roundId: 'live-1' });
    for (const w of keys.workers.slice(0, 2)) {
      const c = as(w);
      await c.voting.submitVote({ solution: SCENARIO_SOLUTION, roundId: 'live-1', result: Buffer.from('beef', 'hex') });
      c.close();
    }
    const admin = as(keys.admin);
    const h = Number((await admin.consensus.produceBlocks({ count: 3 })).height);
    await untilHeight(ewx, h, { timeoutMs: 60_000 });
    await untilRoundClosed(ewx, SCENARIO_SOLUTION, 'live-1', { timeoutMs: 60_000 });
    registrar.close();
    admin.close();
    const m = await waitFor(
      'consensus to count the round for operator 0',
      async () => (await ewx.consensus.getVoteMetadata({ group: SCENARIO_GROUP, period, operator: op })).operators[0],
      30_000,
      100,
    );

    await page.waitForFunction(
      ({ p, e }) =>
        [...document.querySelectorAll('[data-testid="votes-chart-table"] tbody tr')].some(
          (tr) => tr.querySelector('th')?.textContent === String(p) && tr.querySelector('td')?.textContent === String(e),
        ),
      { p: period, e: m.eligibleRounds },
      { timeout: 30_000 },
    );
    const after = (await rows(page, 'votes-chart-table')).find((r) => r[0] === String(period));
    assert.deepEqual(after?.slice(1, 3), [String(m.eligibleRounds), String(m.correctVotes)]);
    assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'the page was reloaded');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('href')), `#/group/${SCENARIO_GROUP}`, 'focus kept across the update');
    const series = JSON.parse((await page.getByTestId('votes-chart').first().getAttribute('data-series'))!);
    assert.equal(series.series[0].values.at(-1), m.eligibleRounds);
    await page.screenshot({ path: join(SHOTS, 'dashboard-operator-live.png'), fullPage: true });
  });

  test('operator view: a withdrawal shows its timeline (unsubscribed, final period, release) as the registry answers', async (t) => {
    if (!executable) return t.skip('no chromium');
    const op = keys.operators[1]!;
    const c = connect({ address: system!.address, signer: keySigner(op, counterNonces(BigInt(Date.now()) * 1000n)) });
    try {
      await c.registry.unsubscribe({ group: SCENARIO_GROUP });
    } finally {
      c.close();
    }
    const sub = await waitFor(
      'the registry to record the unsubscription',
      async () => (await ewx.registry.getOperator({ address: op.address })).subscriptions.find((s) => s.group === SCENARIO_GROUP && s.unsubscribing),
      30_000,
      100,
    );
    await open(`#/operator/${op.address}`, 'withdrawal');
    const steps = (await page.getByTestId('withdrawal').innerText()).split('\n').map((x) => x.trim());
    assert.deepEqual(steps, [
      `unsubscribed in period ${sub.unsubscribedInPeriod}`,
      `final period ${sub.finalPeriod}: earns nothing`,
      `stake released when period ${sub.finalPeriod} closes`,
    ]);
    await page.screenshot({ path: join(SHOTS, 'dashboard-withdrawal.png'), fullPage: true });
  });

  /** The audit summary `npm start`'s own gateway showed beside the running system. */
  let besideRunning: { source: string; events: number; divergences: number; services: { service: string; events: number }[] } | undefined;

  /** Downloads operator 0's bundle for period 1 from the audit view shown and verifies it offline. */
  const downloadBundle = async (): Promise<void> => {
    await page.fill('#b-operator', keys.operators[0]!.address);
    await page.fill('#b-period', '1');
    await page.fill('#b-group', SCENARIO_GROUP);
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.getByRole('button', { name: 'Download bundle' }).click()]);
    const bundle = JSON.parse(readFileSync((await download.path())!, 'utf8')) as Bundle;
    const validator = keyPairFromSeed(readFileSync(join(dataDir, 'validator.key'), 'utf8').trim()).address;
    const verdict = verifyBundle(bundle, [validator]);
    assert.deepEqual(verdict.problems, []);
    assert.equal(verdict.checked.correct, 2, 'operator 0 was right in both settled rounds of period 1');
  };

  test("audit view beside the running system (npm start's gateway reads the services' stores): the summary, and the operator's bundle downloads and verifies", async (t) => {
    if (!executable) return t.skip('no chromium');
    await page.goto(`${system!.dashboard}#/audit`);
    await page.getByTestId('audit-events').waitFor({ timeout: 120_000 });
    const summary = (await (await fetch(`${system!.dashboard}api/audit`)).json()) as NonNullable<typeof besideRunning>;
    assert.match(summary.source, /^the running embedded system \(/);
    assert.equal(await text(page, 'audit-events'), String(summary.events));
    assert.equal(await text(page, 'audit-divergences'), String(summary.divergences));
    assert.equal(summary.divergences, 0, 'the scenario audits clean');
    assert.deepEqual(
      summary.services.map((x) => x.service),
      ['registry', 'voting', 'consensus', 'rewards', 'distance'],
    );
    besideRunning = summary;
    await downloadBundle();
  });

  test("audit view over the stopped system's folder: the summary equals a direct audit, and the operator's bundle downloads and verifies", async (t) => {
    if (!executable) return t.skip('no chromium');
    await system!.stop();
    const expected = await (async () => {
      const src = await embeddedSource(dataDir);
      try {
        return await audit(src);
      } finally {
        await src.close();
      }
    })();
    // Nothing was appended since: the running system's audit read the same logs as this one.
    assert.ok(besideRunning, 'the audit beside the running system ran');
    assert.equal(besideRunning.events, expected.events);
    assert.deepEqual(
      besideRunning.services.map((x) => [x.service, x.events]),
      expected.services.map((x) => [x.service, x.events]),
    );
    const gateway = await startGateway({ ewx, audit: () => embeddedSource(dataDir), pollMs: 60_000 }, await freePort());
    try {
      await page.goto(`${gateway.url}#/audit`);
      await page.getByTestId('audit-events').waitFor({ timeout: 120_000 });
      assert.equal(await text(page, 'audit-events'), String(expected.events));
      assert.equal(await text(page, 'audit-divergences'), String(expected.divergences.length));
      assert.equal(expected.divergences.length, 0, 'the scenario audits clean');
      await page.screenshot({ path: join(SHOTS, 'dashboard-audit.png'), fullPage: true });
      await accessible(page);
      await downloadBundle();
    } finally {
      await gateway.close();
    }
  });
});
