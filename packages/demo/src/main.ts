#!/usr/bin/env node
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import Table from 'cli-table3';
import { Command, InvalidArgumentError, Option } from 'commander';
import logUpdate from 'log-update';
import { auditSourceOver, dashboardPort, startDashboardBeside } from '@ewx/dashboard';
import { GROUP, SOLUTION, kindsOf, startDemo, type Demo, type DemoOptions, type Kind } from './demo.js';
import { observe, tokens, type Snapshot } from './observe.js';

const int =
  (name: string, min: number, max: number) =>
  (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new InvalidArgumentError(`${name}: expected a whole number from ${min} to ${max}`);
    return Number(v);
  };

const program = new Command('npm run demo --')
  .description(
    'The embedded system, a registrar, a group and a solution, and N simulated worker runtimes (honest, wrong, silent) on a fast clock, with a live table of rounds, SLA and rewards. Ctrl-C stops it.',
  )
  .option('--workers <n>', 'worker runtimes, one operator each', int('workers', 1, 500), 20)
  .option('--wrong <n>', 'of which vote a wrong result', int('wrong', 0, 500), 3)
  .option('--silent <n>', 'of which never vote', int('silent', 0, 500), 2)
  .option('--block-ms <ms>', 'one block every this many ms (ProduceBlocks through the admin)', int('block-ms', 10, 60_000), 100)
  .option('--period <blocks>', 'reward period length in blocks', int('period', 4, 100_000), 20)
  .option('--max-waiting <blocks>', 'blocks a round stays open', int('max-waiting', 1, 1_000), 3)
  .addOption(new Option('--start <who>', "who starts rounds: the workers' first votes or the registrar").choices(['worker', 'registrar']).default('worker'))
  .option('--data <dir>', 'keep the data in this (new or empty) folder; default: a temporary folder, removed at the end')
  .option('--port <port>', 'gRPC port of the embedded system (0: any free port)', int('port', 0, 65_535), 0)
  .option('--log <file>', "write the worker runtimes' JSON logs to this file")
  .option('--dashboard <port>', 'serve the read-only dashboard on this port (0: any free port; off: none)', '8080')
  .option('--json', 'print JSON lines (ready, period, first-reward, summary) instead of the table')
  .option('--until-reward', 'stop by itself once the first reward is credited (tests)')
  .option('--duration <s>', 'stop by itself after this many seconds', int('duration', 1, 86_400))
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

interface Cli {
  workers: number;
  wrong: number;
  silent: number;
  blockMs: number;
  period: number;
  maxWaiting: number;
  start: 'worker' | 'registrar';
  data?: string;
  port: number;
  log?: string;
  dashboard: string;
  json?: boolean;
  untilReward?: boolean;
  duration?: number;
}

/** Tables without lines between rows: the frame must fit a terminal. */
const COMPACT = { chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' }, style: { head: [], border: [], compact: true } };
const since = (): number => Math.round(performance.now());
const json = (o: Record<string, unknown>): void => {
  process.stdout.write(JSON.stringify({ atMs: since(), ...o }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
};

/** Where the dashboard serves, when it started (--dashboard). */
let dashboardUrl: string | undefined;

function render(d: Demo, s: Snapshot, o: Cli, firstReward: string | undefined): string {
  const count = (k: Kind): number => d.kinds.filter((x) => x === k).length;
  const head = [
    `EWX demo  ${(since() / 1000).toFixed(1)} s   height ${s.height}   period ${s.period?.index ?? '-'} (blocks ${s.period?.firstBlock ?? '-'}..${s.period?.lastBlock ?? '-'})   one block / ${o.blockMs} ms   ${d.address}`,
    `${o.workers} workers: ${count('honest')} honest, ${count('wrong')} wrong, ${count('silent')} silent   rounds started by the ${o.start}`,
    `rounds: ${s.rounds.settled} settled, ${s.rounds.unresolved} unresolved, ${s.rounds.open} open   budget left: ${tokens(s.budgetLeft)} tokens`,
    firstReward ? `first reward: ${firstReward}` : 'first reward: waiting for the first period with active stakes to close…',
  ];
  const ops = new Table({ head: ['operator', 'kind', 'SLA now', 'SLA last period', 'earned (tokens)'], ...COMPACT });
  const shown = s.operators.slice(0, 20);
  shown.forEach((x, i) => {
    ops.push([
      `${x.operator.slice(8, 18)}…`,
      d.kinds[i]!,
      x.slaNow === undefined ? '-' : `${x.slaNow} %`,
      x.slaLast === undefined ? '-' : `${x.slaLast} %`,
      tokens(x.earned),
    ]);
  });
  const periods = new Table({ head: ['period', 'paid (tokens)', 'due', 'operators', 'met SLA', 'budget'], ...COMPACT });
  for (const p of s.periods.slice(0, 4)) periods.push([p.period, tokens(p.paid), tokens(p.due), p.operators, p.qualifying, p.exhausted ? 'exhausted' : 'ok']);
  const more = s.operators.length > shown.length ? `\n… and ${s.operators.length - shown.length} more operators` : '';
  const outcomes = [...d.outcomes]
    .map(([k, v]) => `${k.padEnd(6)}  votes accepted ${v.accepted}, refused ${v.refused}, rounds missed ${v.missed}, abstained ${v.abstained}`)
    .join('\n');
  return [
    ...head,
    ops.toString() + more,
    'rewards per period',
    periods.toString(),
    outcomes,
    d.clockError() ? `clock: ${d.clockError()}` : '',
    dashboardUrl ? `dashboard: ${dashboardUrl}  ·  Ctrl-C stops the demo` : 'Ctrl-C stops the demo',
  ].join('\n');
}

async function main(): Promise<void> {
  program.parse();
  const o = program.opts<Cli>();
  try {
    kindsOf(o);
    dashboardPort(o.dashboard, '--dashboard');
  } catch (e) {
    process.stderr.write(`demo: ${(e as Error).message}\n`);
    process.exit(2);
  }
  // Each runtime's Watch stream adds an abort listener to the server's one stop signal (platform's
  // grpc server): more than 10 would print a leak warning over the table.
  EventEmitter.defaultMaxListeners = Math.max(EventEmitter.defaultMaxListeners, o.workers * 2 + 10);
  // The services' own logs would tear the table (and the JSON lines): errors only, on stderr.
  if (!process.env.LOG_LEVEL) process.env.LOG_LEVEL = 'error';
  const step = (s: string): void => {
    if (o.json) json({ event: 'step', step: s });
    else logUpdate(`EWX demo  ${(since() / 1000).toFixed(1)} s  ${s}…`);
  };
  const options: DemoOptions = {
    workers: o.workers,
    wrong: o.wrong,
    silent: o.silent,
    blockMs: o.blockMs,
    periodBlocks: o.period,
    maxWaiting: o.maxWaiting,
    start: o.start === 'worker' ? 'WORKER' : 'REGISTRAR',
    data: o.data,
    port: o.port,
    logFile: o.log,
  };
  const demo = await startDemo(options, step);
  // The read-only dashboard (packages/dashboard) over the demo's system; a taken port is one line, not a stop.
  // Its audit view reads the demo's logs (read-only, in this process).
  const dashboard = await startDashboardBeside(
    { address: demo.address },
    {
      setting: o.dashboard,
      settingName: '--dashboard',
      who: 'demo',
      hint: 'use --dashboard 0 for any free port',
      audit: auditSourceOver(demo.logs, `the running demo (${demo.dataDir})`),
    },
  );
  dashboardUrl = dashboard?.url;
  if (o.json)
    json({
      event: 'ready',
      address: demo.address,
      dataDir: demo.dataDir,
      workers: o.workers,
      kinds: demo.kinds,
      group: GROUP,
      solution: SOLUTION,
      ...(dashboardUrl ? { dashboard: dashboardUrl } : {}),
    });
  const operators = demo.scenario.operators.map((x) => x.key.address);
  let firstReward: string | undefined;
  let last: Snapshot | undefined;
  const reported = new Set<number>();
  let stopping: Promise<void> | undefined;
  const stop = (why: string): Promise<void> =>
    (stopping ??= (async () => {
      clearInterval(timer);
      await dashboard?.close();
      await demo.stop();
      const summary = last && {
        height: last.height,
        rounds: last.rounds,
        budgetLeft: last.budgetLeft,
        firstReward,
        operators: last.operators.map((x, i) => ({ ...x, kind: demo.kinds[i] })),
        outcomes: Object.fromEntries(demo.outcomes),
      };
      if (o.json) json({ event: 'summary', why, ...summary });
      else {
        logUpdate.done();
        process.stdout.write(`stopped (${why}); the data folder ${o.data ? `${demo.dataDir} is kept` : 'was removed'}\n`);
      }
      process.exit(0);
    })());
  let busy = false;
  const tick = async (): Promise<void> => {
    if (busy || stopping) return;
    busy = true;
    try {
      const s = await observe(demo.ewx, GROUP, SOLUTION, operators);
      last = s;
      for (const p of [...s.periods].reverse()) {
        if (!p.credited || reported.has(p.period)) continue;
        reported.add(p.period);
        if (o.json) json({ event: 'period', period: p.period, paid: p.paid, due: p.due, operators: p.operators, qualifying: p.qualifying });
        if (!firstReward && p.paid > 0n) {
          firstReward = `period ${p.period}: ${tokens(p.paid)} tokens paid to ${p.operators} operators at ${(since() / 1000).toFixed(1)} s after start`;
          if (o.json) json({ event: 'first-reward', period: p.period, paid: p.paid, sinceStartMs: since() });
        }
      }
      if (!o.json) logUpdate(render(demo, s, o, firstReward));
      if (o.untilReward && firstReward) void stop('first reward');
    } catch (e) {
      if (!o.json) logUpdate(`EWX demo: reading the network failed: ${(e as Error).message}`);
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), 500);
  process.on('SIGINT', () => void stop('Ctrl-C'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  if (o.duration) setTimeout(() => void stop(`${o.duration} s elapsed`), o.duration * 1000).unref();
}

main().catch((e: Error) => {
  process.stderr.write(`demo: ${e.message}\n`);
  process.exit(1);
});
