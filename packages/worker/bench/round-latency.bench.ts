/**
 * How long a registrar-started round waits for its workers' votes: milliseconds from StartRound's
 * reply to the last of N worker runtimes' accepted votes, for rounds started one after the other
 * on the embedded system (manual blocks: no round expires, so the figure is the latency, not a
 * count of misses). Two ways in the same run, alternating by round batch:
 *   - baseline: `voteOnRoundStarted: false`, every round found by a look (voting's height and round
 *     list read first) and every block triggering a look, as the runtime did before;
 *   - now: the vote sent as soon as the RoundStarted event arrives on the Watch stream.
 * While a round is open, blocks are produced every BLOCK_MS (default 100, as `npm run demo`): under
 * the baseline each block made every runtime look again. One JSON line per figure (median, p90, max).
 *
 *   npm run bench -w @ewx/worker        ROUND_BENCH_WORKERS (20), ROUND_BENCH_ROUNDS (12), ROUND_BENCH_BLOCK_MS (100)
 */
import { loadavg } from 'node:os';
import { ALL_MODULES } from '@ewx/embedded';
import { runEmbedded } from '@ewx/platform';
import { freePort } from '@ewx/platform/testing';
import { connect, counterNonces, generateKeyPair, keySigner, untilHeight } from '@ewx/client';
import { pino } from 'pino';
import { startWorker, type WorkerRuntime } from '../src/index.js';
import { setUpScenario } from '../src/scenario.js';

const WORKERS = Number(process.env.ROUND_BENCH_WORKERS ?? 20);
const ROUNDS = Number(process.env.ROUND_BENCH_ROUNDS ?? 12);
const BLOCK_MS = Number(process.env.ROUND_BENCH_BLOCK_MS ?? 100);
const LOGIC = 'bafy-bench';

process.env.LOG_LEVEL = 'error';
const admin = generateKeyPair();
const port = await freePort();
const system = await runEmbedded(
  ALL_MODULES,
  {
    DATA_DIR: 'memory',
    GRPC_PORT: String(port),
    BLOCK_TIME_MS: 'manual',
    ADMIN_ADDRESS: admin.address,
    LOG_LEVEL: 'error',
    REWARD_PERIOD_BLOCKS: '400',
  },
  { signals: false },
);
const ewx = connect({ address: `127.0.0.1:${port}`, signer: keySigner(admin, counterNonces()) });
const scenario = await setUpScenario({
  ewx,
  admin: keySigner(admin, counterNonces(1_000n)),
  group: 'bench.group',
  operators: WORKERS,
  // Rounds stay open long enough never to expire here: the figure is the time to the votes.
  solutions: [{ namespace: 'bench.solution', logicRef: LOGIC, startMethod: 'REGISTRAR', maxWaiting: 100, quorumPercent: 50, voteThresholdPercent: 60 }],
});
// Stakes count from the next period; every round starts early in it and ends within it.
const now = await ewx.rewards.getCurrentPeriod({});
const to = now.period!.lastBlock + 1n;
await ewx.consensus.produceBlocks({ count: Number(to - now.height) }, { deadlineMs: 180_000 });
await untilHeight(ewx, Number(to), { timeoutMs: 120_000 });

const quiet = pino({ level: 'silent' });
const accepted = new Map<string, number>();
const firstAt = new Map<string, number>();
const waiters = new Map<string, () => void>();
let round = 0;

async function runBatch(voteOnRoundStarted: boolean, rounds: number, out: number[], first: number[]): Promise<void> {
  const runtimes: WorkerRuntime[] = scenario.operators.map((op) =>
    startWorker({
      ewx: ewx.withSigner(op.worker.signer),
      signer: op.worker.signer,
      handlers: new Map([[LOGIC, { source: 'bench', compute: () => Buffer.from('ok') }]]),
      logger: quiet,
      voteOnRoundStarted,
      onOutcome: (x) => {
        if (x.outcome !== 'accepted') return;
        if (!firstAt.has(x.roundId)) firstAt.set(x.roundId, performance.now());
        const n = (accepted.get(x.roundId) ?? 0) + 1;
        accepted.set(x.roundId, n);
        if (n === WORKERS) waiters.get(x.roundId)?.();
      },
    }),
  );
  await Promise.all(runtimes.map((r) => r.until('ready', 120_000)));
  for (let i = 0; i < rounds; i++) {
    const roundId = `b${++round}`;
    const all = new Promise<void>((resolve) => waiters.set(roundId, resolve));
    let open = true;
    const clock = (async () => {
      while (open) {
        await new Promise((r) => setTimeout(r, BLOCK_MS));
        if (open) await ewx.consensus.produceBlocks({ count: 1 });
      }
    })();
    await ewx.voting.startRound({ solution: 'bench.solution', roundId }, { signer: scenario.registrar.signer });
    const t0 = performance.now();
    await Promise.race([
      all,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`round ${roundId}: ${accepted.get(roundId) ?? 0} of ${WORKERS} votes after 60 s`)), 60_000)),
    ]);
    out.push(performance.now() - t0);
    first.push(firstAt.get(roundId)! - t0);
    open = false;
    await clock;
  }
  await Promise.all(runtimes.map((r) => r.stop(1_000)));
}

const baseline: number[] = [];
const current: number[] = [];
const baselineFirst: number[] = [];
const currentFirst: number[] = [];
const batch = Math.max(1, Math.floor(ROUNDS / 3));
for (let done = 0; done < ROUNDS; done += batch) {
  await runBatch(false, batch, baseline, baselineFirst);
  await runBatch(true, batch, current, currentFirst);
}
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return {
    median: Math.round(s[Math.floor(s.length / 2)]!),
    p90: Math.round(s[Math.min(s.length - 1, Math.floor(s.length * 0.9))]!),
    max: Math.round(s.at(-1)!),
    rounds: s.length,
  };
};
const b = stats(baseline);
const c = stats(current);
const load = Math.round(loadavg()[0]! * 10) / 10;
process.stdout.write(`${JSON.stringify({ figure: 'round start → first vote accepted, baseline', ms: stats(baselineFirst), blockMs: BLOCK_MS, load })}\n`);
process.stdout.write(
  `${JSON.stringify({ figure: 'round start → first vote accepted, voting on RoundStarted', ms: stats(currentFirst), blockMs: BLOCK_MS, load })}\n`,
);
process.stdout.write(
  `${JSON.stringify({ figure: `round start → ${WORKERS} votes accepted, baseline (a look per round and per block)`, ms: b, blockMs: BLOCK_MS, load })}\n`,
);
process.stdout.write(
  `${JSON.stringify({ figure: `round start → ${WORKERS} votes accepted, voting on RoundStarted`, ms: c, ratioToBaseline: Math.round((c.median / b.median) * 100) / 100, blockMs: BLOCK_MS, load })}\n`,
);
ewx.close();
await system.stop();
