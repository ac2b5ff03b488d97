import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runInMemory } from '@ewx/embedded';
import type { Embedded } from '@ewx/platform';
import { freePort, waitFor } from '@ewx/platform/testing';
import { clockNonces, connect, counterNonces, generateKeyPair, keySigner, untilHeight, untilRoundClosed, type Ewx, writeKeyFile } from '@ewx/client';
import { RoundState } from '@ewx/proto/voting';
import { pino } from 'pino';
import {
  clientReads,
  startHealthServer,
  startWorker,
  type Handler,
  type HandlerRegistry,
  type NetworkReads,
  type VoteOutcome,
  type WorkerOptions,
  type WorkerRuntime,
} from './index.js';
import { connectWorker, newAccount, setUpScenario, subscribe, type Scenario } from './scenario.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
const PERIOD = 12;
const honestResult = (solution: string, roundId: string): Buffer => createHash('sha256').update(`${solution}/${roundId}`).digest();
const honest: Handler = { source: 'test: honest', compute: (r) => honestResult(r.solution, r.roundId) };
const wrong: Handler = { source: 'test: wrong', compute: (r) => `wrong ${r.worker} ${r.roundId}` };
const silent: Handler = { source: 'test: silent', compute: () => undefined };
const registry = (h: Handler): HandlerRegistry =>
  new Map([
    ['bafy-registrar-logic', h],
    ['bafy-worker-logic', h],
  ]);
const quiet = pino({ level: 'silent' });

/** Counter value from Prometheus text, summed over label sets matching `labels`. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => ls[k] === v)) sum += Number(m[3]);
  }
  return sum;
}
const metricsOf = (w: WorkerRuntime): Promise<string> => w.metrics.registry.metrics();
const get = async (port: number, path: string): Promise<{ status: number; body: string }> => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
};

describe('ewx-worker against the embedded system: honest, wrong and silent runtimes', { timeout: 300_000 }, () => {
  const admin = generateKeyPair();
  let system: Embedded;
  let ewx: Ewx;
  let scenario: Scenario;
  const runtimes: WorkerRuntime[] = [];
  const outcomes: VoteOutcome[] = [];
  const outcomesOf = (solution: string, roundId: string): VoteOutcome[] => outcomes.filter((x) => x.solution === solution && x.roundId === roundId);
  const run = (signer: WorkerOptions['signer'], handlers: HandlerRegistry, more: Partial<WorkerOptions> = {}): WorkerRuntime => {
    const w = startWorker({ ewx: ewx.withSigner(signer), signer, handlers, logger: quiet, pollMs: 100, onOutcome: (x) => outcomes.push(x), ...more });
    runtimes.push(w);
    return w;
  };
  const produce = async (n: number): Promise<bigint> => {
    const { height } = await ewx.consensus.produceBlocks({ count: n });
    await untilHeight(ewx, height, { timeoutMs: 30_000 });
    return height;
  };

  before(async () => {
    const port = await freePort();
    system = await runInMemory(port, { ADMIN_ADDRESS: admin.address, REWARD_PERIOD_BLOCKS: String(PERIOD), REWARDS_SETTLEMENT_DELAY: '1' });
    ewx = connect({ address: `127.0.0.1:${port}`, signer: keySigner(admin, counterNonces()) });
    // Five operators; the first is linked and subscribed step by step below, the ladder watched meanwhile.
    scenario = await setUpScenario({
      ewx,
      admin: keySigner(admin, counterNonces(1_000n)),
      group: 'worker.group',
      operators: 5,
      linked: 0,
      subscribed: 0,
      solutions: [
        { namespace: 'registrar.solution', logicRef: 'bafy-registrar-logic', maxWaiting: 4 },
        { namespace: 'worker.solution', logicRef: 'bafy-worker-logic', startMethod: 'WORKER', maxWaiting: 4 },
      ],
    });
  });
  after(async () => {
    await Promise.all(runtimes.map((r) => r.stop(1_000)));
    ewx?.close();
    await system?.stop();
  });

  test('the status ladder: not linked → not subscribed → stake not active yet → ready, on /readyz', async () => {
    const [first] = scenario.operators;
    const w = run(first!.worker.signer, registry(honest), { refreshMs: 100 });
    const health = await startHealthServer(w, 0, '127.0.0.1');
    try {
      await w.until('not_linked');
      let r = await get(health.port, '/readyz');
      assert.equal(r.status, 503);
      assert.equal(JSON.parse(r.body).status, 'not_linked');
      assert.match(JSON.parse(r.body).message, /is not connected to an operator/);
      assert.equal((await get(health.port, '/healthz')).status, 200);

      await connectWorker(ewx, first!.signer, first!.worker.signer);
      await w.until('not_subscribed');
      assert.match(w.state().message, /is not subscribed to any solution group/);

      await subscribe(ewx, { ewx, admin: first!.signer, group: 'worker.group', solutions: [], operators: 0 }, first!.signer);
      await w.until('stake_not_active');
      assert.match(w.state().message, /counts from reward period 1 \(now 0\)/);
      r = await get(health.port, '/readyz');
      assert.equal(r.status, 503);
      assert.match(await (await get(health.port, '/metrics')).body, /ewx_worker_status\{status="stake_not_active"\} 1/);

      // The other four: linked and subscribed in period 0 too.
      for (const op of scenario.operators.slice(1)) {
        await subscribe(ewx, { ewx, admin: op.signer, group: 'worker.group', solutions: [], operators: 0 }, op.signer);
        await connectWorker(ewx, op.signer, op.worker.signer);
      }
      await produce(PERIOD); // height 13: period 1
      await w.until('ready');
      r = await get(health.port, '/readyz');
      assert.equal(r.status, 200);
      const ready = JSON.parse(r.body);
      assert.equal(ready.operator, first!.key.address);
      assert.deepEqual(
        ready.solutions.map((s: { solution: string; handler: boolean }) => [s.solution, s.handler]),
        [
          ['registrar.solution', true],
          ['worker.solution', true],
        ],
      );
      const text = (await get(health.port, '/metrics')).body;
      assert.equal(metric(text, 'ewx_worker_ready'), 1);
      assert.equal(metric(text, 'ewx_worker_status', { status: 'ready' }), 1);
      assert.equal(metric(text, 'ewx_worker_status', { status: 'not_linked' }), 0);
      assert.equal((await get(health.port, '/nothing')).status, 404);
    } finally {
      await health.close();
    }
  });

  test("a registrar's round settles on the honest result; the wrong vote is counted, the silent worker abstains", async () => {
    const [, o2, o3, o4, o5] = scenario.operators;
    const start = (op: typeof o2, h: Handler): WorkerRuntime => run(op!.worker.signer, registry(h));
    const [h1] = runtimes;
    const h2 = start(o2, honest);
    const h3 = start(o3, honest);
    const bad = start(o4, wrong);
    const mute = start(o5, silent);
    await Promise.all([h2, h3, bad, mute].map((w) => w.until('ready', 30_000)));

    await ewx.voting.startRound({ solution: 'registrar.solution', roundId: 'slice-1' }, { signer: scenario.registrar.signer });
    const voters = [h1!, h2, h3, bad];
    await waitFor('every runtime took the round up', () => (outcomesOf('registrar.solution', 'slice-1').length === 5 ? true : undefined), 30_000);
    const got = outcomesOf('registrar.solution', 'slice-1');
    assert.deepEqual(
      got
        .filter((x) => x.outcome === 'accepted')
        .map((x) => x.worker)
        .sort(),
      voters.map((w) => w.address).sort(),
    );
    assert.deepEqual(
      got.filter((x) => x.outcome !== 'accepted').map((x) => [x.worker, x.outcome]),
      [[mute.address, 'abstained']],
    );
    for (const w of voters) assert.equal(metric(await metricsOf(w), 'ewx_worker_votes_accepted_total', { solution: 'registrar.solution' }), 1);
    assert.equal(metric(await metricsOf(mute), 'ewx_worker_votes_sent_total'), 0);
    await produce(4);
    const round = await untilRoundClosed(ewx, 'registrar.solution', 'slice-1', { timeoutMs: 30_000 });
    assert.equal(round.state, RoundState.ROUND_STATE_SETTLED);
    assert.deepEqual(Buffer.from(round.result), honestResult('registrar.solution', 'slice-1'));
    assert.deepEqual([round.tally?.eligible, round.tally?.submitted, round.tally?.top], [5, 4, 3]);
    for (const w of voters) {
      const text = await metricsOf(w);
      assert.equal(metric(text, 'ewx_worker_votes_refused_total'), 0);
      assert.equal(metric(text, 'ewx_worker_rounds_missed_total'), 0);
    }
  });

  test("a WORKER-started solution: the runtimes' first votes start the round, which settles", async () => {
    const height = (await ewx.voting.getStatus({})).height; // 17: slot 1 of period 1 (13..24), open until 21
    // The runtimes start the round of the current slot by voting for it; the others join it.
    const started = await waitFor(
      'a worker-started round',
      async () => {
        const r = await ewx.voting.listRounds({ solution: 'worker.solution' });
        return r.rounds.find((x) => x.startBlock >= height);
      },
      30_000,
    );
    assert.equal(started.roundId, 'p1-s1');
    const voters = runtimes.slice(0, 4).map((w) => w.address);
    assert.ok(voters.includes(started.starter), `started by a worker: ${started.starter}`);
    await waitFor(
      'four votes for p1-s1',
      () => (outcomesOf('worker.solution', 'p1-s1').filter((x) => x.outcome === 'accepted').length === 4 ? true : undefined),
      30_000,
    );
    assert.equal(outcomesOf('worker.solution', 'p1-s1').filter((x) => x.started).length >= 1, true);
    await produce(4);
    const round = await untilRoundClosed(ewx, 'worker.solution', 'p1-s1', { timeoutMs: 30_000 });
    assert.equal(round.state, RoundState.ROUND_STATE_SETTLED);
    assert.deepEqual(Buffer.from(round.result), honestResult('worker.solution', 'p1-s1'));
    assert.deepEqual([round.tally?.eligible, round.tally?.submitted, round.tally?.top], [5, 4, 3]);
    // Every other worker's vote for the round it did not start was a plain vote; nothing refused.
    assert.deepEqual(
      outcomes.filter((x) => x.outcome === 'refused'),
      [],
    );
  });

  test('a second runtime on the same worker key with other logic is refused (one vote per worker), counted by reason', async () => {
    await produce(4); // height 25: period 2 (25..36), so a round of 4 blocks fits
    const o4 = scenario.operators[3]!;
    // Clock nonces: two runtimes with one key both move forward.
    // This one polls the read RPCs (the others follow voting's Watch stream).
    const twin = run(keySigner(o4.worker.key, clockNonces()), new Map([['bafy-registrar-logic', honest]]), { changes: 'poll' });
    await twin.until('ready', 30_000);
    await ewx.voting.startRound({ solution: 'registrar.solution', roundId: 'slice-2' }, { signer: scenario.registrar.signer });
    await waitFor(
      'both runtimes of one key answered',
      () => (outcomesOf('registrar.solution', 'slice-2').filter((x) => x.worker === o4.worker.key.address).length === 2 ? true : undefined),
      30_000,
    );
    const mine = outcomesOf('registrar.solution', 'slice-2').filter((x) => x.worker === o4.worker.key.address);
    assert.deepEqual(mine.map((x) => x.outcome).sort(), ['accepted', 'refused']);
    assert.equal(mine.find((x) => x.outcome === 'refused')!.reason, 'conflicting_vote');
    const [t, b] = await Promise.all([metricsOf(twin), metricsOf(runtimes[3]!)]);
    assert.equal(
      metric(t, 'ewx_worker_votes_refused_total', { reason: 'conflicting_vote' }) + metric(b, 'ewx_worker_votes_refused_total', { reason: 'conflicting_vote' }),
      1,
    );
    await twin.stop(1_000);
  });

  test('a round is voted for from its RoundStarted event: reads stalled by a busy service do not make the worker miss it', async () => {
    // A fresh period, so a round of 4 blocks fits in it.
    const now = await ewx.rewards.getCurrentPeriod({});
    if (now.period!.lastBlock - now.height < 6n) await produce(Number(now.period!.lastBlock - now.height) + 1);
    const o5 = scenario.operators[4]!; // its runtime abstains: this one votes for the same worker
    const base = clientReads(ewx);
    let stalled = false;
    let stalledReads = 0;
    const releases: (() => void)[] = [];
    // While `stalled`, the looks' reads wait (as behind a service busy with other work) until released.
    const slow = <T>(read: () => Promise<T>): Promise<T> => {
      if (!stalled) return read();
      stalledReads++;
      return new Promise<void>((r) => releases.push(r)).then(read);
    };
    const reads: NetworkReads = { ...base, height: () => slow(() => base.height()), activeRounds: (s) => slow(() => base.activeRounds(s)) };
    const mine: VoteOutcome[] = [];
    const w = startWorker({
      ewx: ewx.withSigner(o5.worker.signer),
      signer: o5.worker.signer,
      handlers: registry(honest),
      logger: quiet,
      reads,
      onOutcome: (x) => mine.push(x),
    });
    runtimes.push(w);
    await w.until('ready', 30_000);
    stalled = true;
    try {
      await ewx.voting.startRound({ solution: 'registrar.solution', roundId: 'slice-stalled' }, { signer: scenario.registrar.signer });
      const got = await waitFor('the vote for slice-stalled', () => mine.find((x) => x.roundId === 'slice-stalled'), 20_000);
      assert.equal(got.outcome, 'accepted');
      assert.deepEqual(got.result, honestResult('registrar.solution', 'slice-stalled').toString('hex'));
      assert.ok(stalledReads > 0, 'a look was under way (and waiting) while the vote went out');
      assert.equal(releases.length, stalledReads, 'no stalled read had been answered');
      const snapshot = await ewx.voting.getRoundSnapshot({ solution: 'registrar.solution', roundId: 'slice-stalled' });
      assert.ok(snapshot.workers.some((x) => x.worker === o5.worker.key.address));
    } finally {
      // Let the looks go on (and the runtime stop) whatever happened above.
      stalled = false;
      for (const r of releases) r();
    }
    await produce(4);
    const round = await untilRoundClosed(ewx, 'registrar.solution', 'slice-stalled', { timeoutMs: 30_000 });
    assert.equal(round.state, RoundState.ROUND_STATE_SETTLED);
    assert.equal(mine.filter((x) => x.roundId === 'slice-stalled').length, 1, 'voted once: the look that followed found the round handled');
    await w.stop(1_000);
  });

  test('the ewx-worker command: key file, an external command as handler, /metrics, stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ewx-worker-cli-'));
    try {
      const worker = generateKeyPair();
      writeKeyFile(join(dir, 'worker.key'), worker);
      const op = newAccount();
      await ewx.registry.deposit({ account: op.key.address, amount: (20n * 10n ** 18n).toString() });
      await ewx.registry.subscribe({ group: 'worker.group', stake: (10n * 10n ** 18n).toString() }, { signer: op.signer });
      // The external command: the round as JSON on stdin; it prints the same hash as the honest handler.
      const script = join(dir, 'logic.mjs');
      writeFileSync(
        script,
        [
          "import { createHash } from 'node:crypto';",
          "let s = '';",
          "process.stdin.on('data', (d) => { s += d; }).on('end', () => {",
          '  const r = JSON.parse(s);',
          "  process.stdout.write(createHash('sha256').update(r.solution + '/' + r.roundId).digest('hex') + '\\n');",
          '});',
        ].join('\n'),
      );
      const port = await freePort();
      const child = spawn(
        process.execPath,
        [
          MAIN,
          '--key',
          join(dir, 'worker.key'),
          '--address',
          `127.0.0.1:${system.server.port}`,
          '--handler',
          `bafy-registrar-logic=${process.execPath} ${script}`,
          '--metrics-port',
          String(port),
          '--metrics-host',
          '127.0.0.1',
          '--poll-ms',
          '100',
          '--log-level',
          'info',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b;
      });
      child.stderr.on('data', (b: Buffer) => {
        out += b;
      });
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      try {
        await waitFor('the health server', () => get(port, '/readyz').then((r) => (JSON.parse(r.body).status === 'not_linked' ? r : undefined)), 30_000);
        await connectWorker(ewx, op.signer, keySigner(worker, clockNonces()));
        await produce(PERIOD); // the stake counts from the next period
        await waitFor('ready', () => get(port, '/readyz').then((r) => (r.status === 200 ? r : undefined)), 30_000);
        await ewx.voting.startRound({ solution: 'registrar.solution', roundId: 'slice-cli' }, { signer: scenario.registrar.signer });
        const text = await waitFor(
          "the command's vote accepted",
          () => get(port, '/metrics').then((r) => (metric(r.body, 'ewx_worker_votes_accepted_total') >= 1 ? r.body : undefined)),
          30_000,
        );
        assert.ok(metric(text, 'process_cpu_user_seconds_total') > 0, 'process metrics are served by the command');
        const r = await ewx.voting.getRound({ solution: 'registrar.solution', roundId: 'slice-cli' });
        assert.equal(r.state, RoundState.ROUND_STATE_ACTIVE);
        await waitFor('the vote in the log', () => (out.includes('"msg":"voted"') ? true : undefined), 10_000);
        const lines = out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { msg: string; result?: string });
        const voted = lines.find((l) => l.msg === 'voted');
        // The command printed 64 hex characters: a 64-byte string, voted as its UTF-8 bytes.
        const printed = honestResult('registrar.solution', 'slice-cli').toString('hex');
        assert.equal(voted?.result, Buffer.from(printed, 'utf8').toString('hex'));
        assert.ok(lines.some((l) => /^ready: operator /.test(l.msg)));
        assert.ok(
          lines.some((l) => /^following voting's Watch stream from position /.test(l.msg)),
          'the command follows the Watch stream',
        );
      } finally {
        child.kill('SIGTERM');
      }
      assert.equal(await exited, 0, out);
      assert.match(out, /"msg":"worker stopped"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
