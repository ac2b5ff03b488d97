import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { generateKeyPair, isAddress, keyPairFromSeed, type KeyPair } from './auth/keys.js';
import { logTailBus } from './bus/logtail.js';
import { kafkaBus } from './bus/kafka.js';
import { kafkaSecurityFrom } from './bus/kafka-security.js';
import type { Bus, Consumer } from './bus/types.js';
import { readEnv, type Env } from './config.js';
import { ConfigError } from './errors.js';
import { kurrentEventStore } from './eventstore/kurrentdb.js';
import { pgliteEventStore } from './eventstore/pglite.js';
import { postgresEventStore } from './eventstore/postgres.js';
import type { EventStore } from './eventstore/types.js';
import type { Subscription } from './eventstore/subscription.js';
import { grpcServerOptionsFrom } from './grpc/options.js';
import { setServing, startGrpcServer, type GrpcService, type StartedServer } from './grpc/server.js';
import { startInbox } from './inbox.js';
import { createLogger, type Logger } from './log.js';
import { startRelay } from './relay.js';
import { retryForever } from './retry.js';
import { createRuntime, type Decider, type Runtime } from './runtime.js';

export type ServiceName = 'registry' | 'voting' | 'consensus' | 'rewards' | 'distance';
export const SERVICE_NAMES: readonly ServiceName[] = ['registry', 'voting', 'consensus', 'rewards', 'distance'];
export const DEFAULT_PORTS: Record<ServiceName, number> = { registry: 50061, voting: 50062, consensus: 50063, rewards: 50064, distance: 50065 };

/** The repository's proto/ folder, for reflection. */
export const PROTO_ROOT = resolve(fileURLToPath(new URL('../../../proto/', import.meta.url)));

export interface ServiceContext {
  readonly store: EventStore;
  readonly bus: Bus;
  readonly log: Logger;
  readonly env: Env;
  /** The admin account (deposits, reward period length, validator set, manual blocks). */
  readonly admin: string;
  readonly mode: 'embedded' | 'standalone';
  /** Prefixes topics, consumer groups and store schemas (EWX_NAMESPACE); empty in production. */
  readonly namespace: string;
}

export interface ServiceInstance {
  readonly grpc: readonly GrpcService[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface ServiceModule {
  readonly name: ServiceName;
  /** Relative to proto/, e.g. `ewx/v1/registry.proto`. */
  readonly protoFile: string;
  create(ctx: ServiceContext): Promise<ServiceInstance>;
  /**
   * Parses and checks every variable `create` will read, throwing ConfigError; called before any
   * connection is attempted, so a bad value is reported even while the store or broker is down.
   */
  validateConfig?(env: Env, ctx: { readonly admin: string; readonly mode: 'embedded' | 'standalone' }): void;
}

export interface EventSourcedServiceOptions<S> {
  readonly decider: Decider<S>;
  /** Other services' event types this service records in its own log, by source service. */
  readonly inbox: Record<string, readonly string[]>;
  readonly grpc: (runtime: Runtime<S>) => readonly GrpcService[];
  /** Reactions started after the log is replayed (timers, process managers). */
  readonly reactions?: (runtime: Runtime<S>) => { stop(): Promise<void> } | undefined;
}

/** The usual shape of a service: runtime over its log, outbox relay, inbox consumer, gRPC. */
export function eventSourcedService<S>(ctx: ServiceContext, name: ServiceName, o: EventSourcedServiceOptions<S>): ServiceInstance & { runtime: Runtime<S> } {
  const log = ctx.log.child({ service: name });
  const runtime = createRuntime(name, ctx.store, o.decider, log);
  let relay: Subscription | undefined;
  let inbox: Consumer | undefined;
  let reactions: { stop(): Promise<void> } | undefined;
  return {
    runtime,
    grpc: o.grpc(runtime),
    async start() {
      await runtime.start();
      // A bus that tails the logs themselves (embedded) needs no outbox relay.
      if (!(ctx.bus as { tailsLogs?: boolean }).tailsLogs) relay = startRelay(ctx.store, ctx.bus, name, log, ctx.namespace);
      if (Object.keys(o.inbox).length > 0) {
        // A broker that is down at start is waited for (with backoff, logged), not a crash loop.
        inbox = await retryForever('inbox: joining the consumer group', log, () => startInbox(ctx.bus, runtime, o.inbox, log, ctx.namespace));
      }
      reactions = o.reactions?.(runtime);
    },
    async stop() {
      await reactions?.stop();
      await inbox?.stop();
      await relay?.stop();
      await runtime.stop();
    },
  };
}

const MEMORY = ':memory:';

function adminFrom(env: Env, dataDir?: string, log?: Logger): string {
  const a = env.optional('ADMIN_ADDRESS');
  if (a !== undefined) {
    if (!isAddress(a)) throw new ConfigError('ADMIN_ADDRESS', 'ed25519:<64 hex characters>', a);
    return a;
  }
  if (dataDir === undefined) throw new ConfigError('ADMIN_ADDRESS', 'ed25519:<64 hex characters> (the admin account)', undefined);
  if (dataDir === MEMORY) {
    // Nothing is kept in memory mode, so neither is the key: a throwaway one, shown once.
    const key = generateKeyPair();
    log?.info('embedded admin account (memory mode, throwaway key)', { address: key.address, seed: key.seed });
    return key.address;
  }
  const file = join(dataDir, 'admin.key');
  let key: KeyPair;
  if (existsSync(file)) key = keyPairFromSeed(readFileSync(file, 'utf8').trim());
  else {
    key = generateKeyPair();
    writeFileSync(file, key.seed + '\n', { mode: 0o600 });
  }
  log?.info('embedded admin account', { address: key.address, keyFile: file });
  return key.address;
}

function brokersFrom(env: Env): string[] {
  const brokers = env.list('KAFKA_BROKERS');
  if (brokers.length === 0) throw new ConfigError('KAFKA_BROKERS', 'comma-separated host:port list of Kafka brokers', undefined);
  for (const b of brokers) if (!/^[^:\s]+:\d{1,5}$/.test(b)) throw new ConfigError('KAFKA_BROKERS', 'host:port entries', b);
  return brokers;
}

function namespaceFrom(env: Env): string {
  const ns = env.optional('EWX_NAMESPACE') ?? '';
  if (!/^([a-z][a-z0-9_]{0,23})?$/.test(ns)) throw new ConfigError('EWX_NAMESPACE', 'empty or [a-z][a-z0-9_]{0,23}', ns);
  return ns;
}

const categoryOf = (namespace: string, name: ServiceName): string => (namespace ? `${namespace}_${name}` : name);

async function storeFrom(env: Env, category: string): Promise<EventStore> {
  const url = env.optional('DATABASE_URL');
  const kurrent = env.optional('KURRENTDB_URL');
  if (url !== undefined && kurrent !== undefined) throw new ConfigError('DATABASE_URL', 'unset when KURRENTDB_URL is set (one event store)', url);
  if (kurrent !== undefined) {
    if (!/^(kurrentdb|esdb|kdb)(\+discover)?:\/\//.test(kurrent)) throw new ConfigError('KURRENTDB_URL', 'a kurrentdb:// or esdb:// connection string', kurrent);
    return kurrentEventStore(kurrent, category);
  }
  if (url === undefined) throw new ConfigError('DATABASE_URL', 'postgres://user@host:port/db (or set KURRENTDB_URL)', undefined);
  if (!/^postgres(ql)?:\/\//.test(url)) throw new ConfigError('DATABASE_URL', 'a postgres:// connection string', url);
  return postgresEventStore(url, category);
}

const onSignals = (stop: () => Promise<void>): void => {
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      stop().finally(() => process.exit(0));
    });
  }
};

/** One service as its own process: PostgreSQL or KurrentDB, Kafka, its own gRPC port. */
export async function runStandalone(module: ServiceModule, source: Record<string, string | undefined> = process.env): Promise<{ server: StartedServer; stop(): Promise<void> }> {
  const env = readEnv(source);
  const log = createLogger({ service: module.name });
  const port = env.int('GRPC_PORT', DEFAULT_PORTS[module.name], 0, 65535);
  const host = env.str('GRPC_HOST', '0.0.0.0');
  const brokers = brokersFrom(env);
  const admin = adminFrom(env);
  const namespace = namespaceFrom(env);
  const category = categoryOf(namespace, module.name);
  const security = kafkaSecurityFrom(env);
  const partitions = env.int('KAFKA_PARTITIONS', 3, 1, 1000);
  const grpcOptions = grpcServerOptionsFrom(env);
  module.validateConfig?.(env, { admin, mode: 'standalone' });
  const store = (await retryForever('event store: connecting', log, () => storeFrom(env, category)))!;
  const bus = kafkaBus({ brokers, clientId: `ewx-${module.name}`, partitions, log, security });
  const instance = await module.create({ store, bus, log, env, admin, mode: 'standalone', namespace });
  await instance.start();
  const server = await startGrpcServer(instance.grpc, host, port, [module.protoFile], PROTO_ROOT, grpcOptions);
  setServing(server, instance.grpc.map((g) => g.name));
  log.info(`${module.name} listening`, { grpc: `${host}:${server.port}` });
  const stop = async (): Promise<void> => {
    await server.stop();
    await instance.stop();
    await bus.close();
    await store.close();
  };
  onSignals(stop);
  return { server, stop };
}

export interface Embedded {
  readonly server: StartedServer;
  readonly admin: string;
  readonly dataDir: string | undefined;
  stop(): Promise<void>;
}

/**
 * All five services in one process: one PGlite database (a schema per service), a bus whose
 * consumers tail the producers' logs with durable checkpoints (nothing in memory to lose on a
 * kill), and one gRPC server. `DATA_DIR` names the folder; `memory` keeps nothing.
 */
export async function runEmbedded(modules: readonly ServiceModule[], source: Record<string, string | undefined> = process.env, opts: { signals?: boolean } = {}): Promise<Embedded> {
  const env = readEnv(source);
  const log = createLogger({ mode: 'embedded' });
  const dataDirSetting = env.str('DATA_DIR', '.data/embedded');
  const dataDir = dataDirSetting === 'memory' ? undefined : resolve(dataDirSetting);
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const port = env.int('GRPC_PORT', 50051, 0, 65535);
  const host = env.str('GRPC_HOST', '127.0.0.1');
  const admin = adminFrom(env, dataDir ?? MEMORY, log);
  const grpcOptions = grpcServerOptionsFrom(env);
  for (const m of modules) m.validateConfig?.(env, { admin, mode: 'embedded' });
  const db = await PGlite.create(dataDir ? join(dataDir, 'pglite') : undefined);
  const namespace = namespaceFrom(env);
  const bus = logTailBus(log, namespace);
  const instances: ServiceInstance[] = [];
  for (const m of modules) {
    const store = await pgliteEventStore(categoryOf(namespace, m.name), db);
    bus.register(m.name, store);
    instances.push(await m.create({ store, bus, log: log.child({ service: m.name }), env, admin, mode: 'embedded', namespace }));
  }
  for (const i of instances) await i.start();
  const grpcServices = instances.flatMap((i) => i.grpc);
  const server = await startGrpcServer(grpcServices, host, port, modules.map((m) => m.protoFile), PROTO_ROOT, grpcOptions);
  setServing(server, grpcServices.map((g) => g.name));
  log.info(`ewx embedded: all services listening on ${host}:${server.port} (gRPC, health and reflection)`, { dataDir: dataDir ?? 'memory', admin });
  const stop = async (): Promise<void> => {
    await server.stop();
    for (const i of [...instances].reverse()) await i.stop();
    await bus.close();
    await db.close();
  };
  if (opts.signals !== false) onSignals(stop);
  return { server, admin, dataDir, stop };
}

/** The body of every service's main.ts: start it alone, or exit 1 with the configuration error. */
export function main(module: ServiceModule): void {
  runStandalone(module).catch((e: Error) => {
    process.stderr.write(`${module.name}: ${e.message}\n`);
    process.exit(1);
  });
}
