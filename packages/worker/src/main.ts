#!/usr/bin/env node
import { connect, keyFileSigner, SERVICE_NAMES, type ConnectOptions, type ServiceName } from '@ewx/client';
import { Command, InvalidArgumentError, Option } from 'commander';
import { pino } from 'pino';
import { loadHandlers, parseCommandHandler, type HandlerRegistry } from './handlers.js';
import { startHealthServer, type HealthServer } from './http.js';
import { workerMetrics } from './metrics.js';
import { startWorker } from './runtime.js';

/** `host:port` (embedded) or five addresses, comma-separated in the order registry,voting,consensus,rewards,distance, or as name=host:port. */
export function parseAddress(value: string): ConnectOptions {
  const parts = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const hostPort = /^[^\s=,]+:\d{1,5}$/;
  if (parts.length === 1 && hostPort.test(parts[0]!)) return { address: parts[0]! };
  if (parts.length !== SERVICE_NAMES.length)
    throw new InvalidArgumentError(`expected host:port or ${SERVICE_NAMES.length} addresses (${SERVICE_NAMES.join(',')}), got ${JSON.stringify(value)}`);
  const named = parts.every((p) => p.includes('='));
  const addresses = {} as Record<ServiceName, string>;
  parts.forEach((p, i) => {
    const [name, addr] = named ? [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)] : [SERVICE_NAMES[i]!, p];
    if (!SERVICE_NAMES.includes(name as ServiceName))
      throw new InvalidArgumentError(`unknown service ${JSON.stringify(name)} (expected ${SERVICE_NAMES.join(', ')})`);
    if (!hostPort.test(addr)) throw new InvalidArgumentError(`${name}: expected host:port, got ${JSON.stringify(addr)}`);
    addresses[name as ServiceName] = addr;
  });
  return { addresses };
}

const int =
  (name: string, min: number, max: number) =>
  (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new InvalidArgumentError(`${name}: expected a whole number from ${min} to ${max}`);
    return Number(v);
  };
const collect = (v: string, all: string[]): string[] => [...all, v];

const program = new Command('ewx-worker')
  .description(
    "The worker node runtime: follows its operator's subscriptions and the groups' active solutions, runs each solution's logic and votes in its rounds.",
  )
  .requiredOption('--key <file>', "the worker's key file (ewx keys new …); its nonce is kept beside it")
  .addOption(
    new Option('--address <addresses>', 'the network: host:port (embedded) or 5 addresses registry,voting,consensus,rewards,distance')
      .env('EWX_ADDRESS')
      .default('127.0.0.1:50051')
      .argParser(parseAddress),
  )
  .option('--handlers <path>', 'a module or a directory of modules exporting compute(round) (repeatable)', collect, [])
  .option('--handler <ref=command>', 'an external command for a logic reference: the round as JSON on stdin, the result on stdout (repeatable)', collect, [])
  .option('--operator <address>', 'the operator this worker serves: needed only with a registry older than GetWorker (the registry says which otherwise)')
  .option('--metrics-port <port>', 'serve /healthz, /readyz and /metrics on this port', int('metrics-port', 0, 65535))
  .option('--metrics-host <host>', 'the address the health server binds', '0.0.0.0')
  .option('--poll-ms <ms>', 'with --poll, or a server without Watch: how often to look for new rounds', int('poll-ms', 10, 60_000), 250)
  .option('--poll', "poll the read RPCs instead of following voting's Watch stream")
  .addOption(new Option('--log-level <level>', 'pino log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).env('LOG_LEVEL').default('info'))
  // Bad arguments: commander's one line on stderr, exit 2 (as a bad key file).
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .addHelpText(
    'after',
    `
Handlers: a module maps logic references to compute(round): \`export const logicRef = 'bafy…'\` with
\`export function compute(round)\`, or just compute() (the file name is the reference), or
\`export default { 'bafy…': compute }\`. compute returns the vote (bytes or a string; over 64 bytes
it is hashed with sha256) or undefined to abstain. --handler 'bafy…=python3 logic.py' runs a command.

Exit: 0 stopped on SIGINT/SIGTERM, 2 bad arguments or key file.`,
  );

async function main(): Promise<void> {
  program.parse();
  const opts = program.opts<{
    key: string;
    address: ConnectOptions;
    handlers: string[];
    handler: string[];
    operator?: string;
    metricsPort?: number;
    metricsHost: string;
    pollMs: number;
    poll?: boolean;
    logLevel: string;
  }>();
  const log = pino({ level: opts.logLevel });
  let signer: ReturnType<typeof keyFileSigner>;
  const handlers: HandlerRegistry = new Map();
  try {
    signer = keyFileSigner(opts.key);
    for (const path of opts.handlers) for (const [ref, h] of await loadHandlers(path)) handlers.set(ref, h);
    for (const spec of opts.handler) {
      const [ref, h] = parseCommandHandler(spec);
      handlers.set(ref, h);
    }
  } catch (e) {
    process.stderr.write(`ewx-worker: ${(e as Error).message}\n`);
    process.exit(2);
  }
  if (handlers.size === 0) log.warn('no handlers registered: the worker follows the network but cannot vote (use --handlers or --handler)');
  const ewx = connect({ ...opts.address, signer });
  const runtime = startWorker({
    ewx,
    signer,
    handlers,
    operator: opts.operator,
    logger: log,
    metrics: workerMetrics(true),
    pollMs: opts.pollMs,
    changes: opts.poll ? 'poll' : 'watch',
  });
  let health: HealthServer | undefined;
  if (opts.metricsPort !== undefined) {
    health = await startHealthServer(runtime, opts.metricsPort, opts.metricsHost);
    log.info({ port: health.port }, `health and metrics on http://${opts.metricsHost}:${health.port}/ (healthz, readyz, metrics)`);
  }
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: letting votes in flight finish');
    const force = setTimeout(() => {
      log.error('stop took over 10 s: exiting anyway');
      process.exit(1);
    }, 10_000).unref();
    await runtime.stop();
    await health?.close();
    ewx.close();
    clearTimeout(force);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((e: Error) => {
  process.stderr.write(`ewx-worker: ${e.message}\n`);
  process.exit(1);
});
