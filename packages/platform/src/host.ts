import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeyPair, isAddress, keyPairFromSeed, type KeyPair } from './auth/keys.js';
import { logTailBus } from './bus/logtail.js';
import { DEFAULT_SESSION_TIMEOUT_MS, kafkaBus } from './bus/kafka.js';
import { kafkaSecurityFrom } from './bus/kafka-security.js';
import type { Bus, Consumer } from './bus/types.js';
import { readEnv, type Env } from './config.js';
import { ConfigError } from './errors.js';
import type { PGlite } from '@electric-sql/pglite';
import { openPglite, pgliteClient, pgliteEventStore } from './eventstore/pglite.js';
import { migrate, schemaFor } from './eventstore/sql.js';
import { postgresEventStore } from './eventstore/postgres.js';
import { START, type EventStore, type LogPosition } from './eventstore/types.js';
import type { Subscription } from './eventstore/subscription.js';
import { grpcServerOptionsFrom } from './grpc/options.js';
import { setHealth, setServing, startGrpcServer, type GrpcService, type StartedServer } from './grpc/server.js';
import { inboxGroupOf, startInbox } from './inbox.js';
import { createLogger, type Logger } from './log.js';
import { runRecordsFrom, startRelay } from './relay.js';
import { retryForever } from './retry.js';
import { createRuntime, type Decider, type Runtime } from './runtime.js';
import { healthProbeSettingsFrom, watchDependencies } from './health.js';
import type { InProcessCalls } from './heights.js';
import { observeRelayLag, observeServiceGauges, settleLatencyListener, type ServiceGauges } from './telemetry/service.js';
import { startTelemetry, telemetrySettingsFrom } from './telemetry/setup.js';
import { DEFAULT_SNAPSHOT_BYTES_PER_EVENT, DEFAULT_SNAPSHOT_EVERY } from './snapshot.js';

export type ServiceName = 'registry' | 'voting' | 'consensus' | 'rewards' | 'distance';
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
  /** Embedded: calls between the services of this process (one object shared by all; heights.ts). */
  readonly inProcess?: InProcessCalls;
}

/** Moments of a start a host acts on (see {@link ServiceInstance.start}). */
export interface StartHooks {
  /** The state is rebuilt from the log: queries can be answered (commands are still refused). */
  queryable?(): Promise<void> | void;
  /**
   * Aborts the start (a voting partition whose lease is lost or given back while it starts): the
   * waits for the consumer group and for the inbox to catch up end at once, a consumer that joined
   * leaves the group, and the start rejects with a {@link StartAborted}; `stop` then stops the rest.
   * Unset (every unpartitioned service): a start runs to its end.
   */
  signal?: AbortSignal;
}

/** What an aborted start rejects with (see {@link StartHooks.signal}). */
export class StartAborted extends Error {
  readonly isStartAborted = true;
  constructor(where: string, reason: unknown) {
    const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : undefined;
    super(`start aborted ${where}${why && !(reason instanceof DOMException) ? `: ${why}` : ''}`);
    this.name = 'StartAborted';
  }
}
export const isStartAborted = (e: unknown): e is StartAborted =>
  typeof e === 'object' && e !== null && (e as { isStartAborted?: unknown }).isStartAborted === true;

export interface ServiceInstance {
  readonly grpc: readonly GrpcService[];
  /**
   * Rebuilds the state from the log, then (`hooks.queryable`) waits for the inbox to join its
   * consumer group and catch up, then starts the reactions. Resolves once commands are accepted.
   */
  start(hooks?: StartHooks): Promise<void>;
  stop(): Promise<void>;
}

/** The health-service name that is SERVING as soon as queries are answered (the empty name: commands too). */
export const QUERIES_HEALTH = 'queries';

/** How long a start waits for the inbox to catch up before accepting commands anyway (INBOX_CATCH_UP_TIMEOUT_MS). */
export const DEFAULT_CATCH_UP_TIMEOUT_MS = 60_000;

/**
 * Runs one wait of a start and logs it: what it waits for when it begins, every 5 s while it lasts
 * (with `hint`: why it may last), and how long it took. `limitMs` stops waiting (returns false);
 * `signal` aborts it (rejects with a StartAborted; `wait` itself is left to end on its own).
 */
export async function startWait(
  log: Logger,
  what: string,
  wait: () => Promise<unknown>,
  o: { hint?: string; limitMs?: number; fields?: () => Record<string, unknown>; signal?: AbortSignal } = {},
): Promise<boolean> {
  const signal = o.signal;
  if (signal?.aborted) throw new StartAborted(`before waiting for ${what}`, signal.reason);
  const t0 = Date.now();
  log.info(`start: waiting for ${what}`, o.hint ? { why: o.hint } : undefined);
  const ticker = setInterval(
    () => log.warn(`start: still waiting for ${what}`, { waitedMs: Date.now() - t0, ...(o.hint ? { why: o.hint } : {}), ...o.fields?.() }),
    5000,
  );
  let limit: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    const done = await Promise.race([
      wait().then(() => true),
      ...(signal === undefined
        ? []
        : [
            new Promise<never>((_, reject) => {
              onAbort = () => {
                log.info(`start: ${what}: aborted`, { ms: Date.now() - t0, ...o.fields?.() });
                reject(new StartAborted(`while waiting for ${what}`, signal.reason));
              };
              signal.addEventListener('abort', onAbort, { once: true });
            }),
          ]),
      ...(o.limitMs === undefined
        ? []
        : [
            new Promise<false>((r) => {
              limit = setTimeout(() => r(false), o.limitMs);
            }),
          ]),
    ]);
    if (done) log.info(`start: ${what}: done`, { ms: Date.now() - t0, ...o.fields?.() });
    else log.warn(`start: ${what}: gave up waiting`, { ms: Date.now() - t0, ...o.fields?.() });
    return done;
  } finally {
    clearInterval(ticker);
    clearTimeout(limit);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
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
  /**
   * The decider's version for snapshots (SNAPSHOT_EVERY): bump it whenever `evolve` or the state's
   * shape changes, so a snapshot of the old fold is ignored (full replay) rather than used.
   */
  readonly stateVersion?: number;
  /** Gauges read from the state at each metrics collection (budgets, overdue rounds; see ServiceGauges). */
  readonly gauges?: (runtime: Runtime<S>) => ServiceGauges;
  /**
   * One partition of a service split into several logs (voting with VOTING_PARTITIONS > 1), e.g.
   * `voting_p3`: its runtime's name (so its inbox consumer group, metrics and logs), and the key of
   * every message its relay publishes to the service's topic (consumers see each partition log in
   * order). Unset: the service's name, as before.
   */
  readonly instance?: string;
}

/** The usual shape of a service: runtime over its log, outbox relay, inbox consumer, gRPC. */
export function eventSourcedService<S>(ctx: ServiceContext, name: ServiceName, o: EventSourcedServiceOptions<S>): ServiceInstance & { runtime: Runtime<S> } {
  const instance = o.instance ?? name;
  const log = ctx.log.child(o.instance === undefined ? { service: name } : { service: name, partition: o.instance });
  const snapshotEvery = ctx.env.int('SNAPSHOT_EVERY', DEFAULT_SNAPSHOT_EVERY, 0, 1_000_000_000);
  const snapshotBytesPerEvent = ctx.env.int('SNAPSHOT_BYTES_PER_EVENT', DEFAULT_SNAPSHOT_BYTES_PER_EVENT, 0, 1_000_000_000);
  const runRecords = runRecordsFrom(ctx.env);
  const runtime = createRuntime(instance, ctx.store, o.decider, log, {
    snapshots: { every: snapshotEvery, bytesPerEvent: snapshotBytesPerEvent, version: o.stateVersion ?? 1 },
  });
  runtime.onEvent(settleLatencyListener());
  let relay: Subscription | undefined;
  let unobserveRelay: (() => void) | undefined;
  let unobserveGauges: (() => void) | undefined;
  let inbox: Consumer | undefined;
  /**
   * An aborted start's join still under way: `stop` waits for it. The bus's start is aborted too
   * (ConsumerOptions.signal): it ends at once before its join is sent, else once its join ends (then
   * leaves the group), at most a session timeout.
   */
  let joining: Promise<unknown> | undefined;
  let reactions: { stop(): Promise<void> } | undefined;
  const group = inboxGroupOf(instance, ctx.namespace);
  const catchUpLimitMs = ctx.env.int('INBOX_CATCH_UP_TIMEOUT_MS', DEFAULT_CATCH_UP_TIMEOUT_MS, 0, 3_600_000);
  const refuse = (doing: string): void =>
    runtime.refuseCommands(`${name} is starting (${doing}): commands are accepted in a moment, retry; queries are answered meanwhile`);
  return {
    runtime,
    grpc: o.grpc(runtime),
    async start(hooks) {
      const t0 = Date.now();
      const signal = hooks?.signal;
      const notAborted = (where: string): void => {
        if (signal?.aborted) throw new StartAborted(where, signal.reason);
      };
      const inboxed = Object.keys(o.inbox).length > 0;
      // A bus that tails the logs themselves (embedded) needs no outbox relay and has no group members.
      const tailsLogs = (ctx.bus as { tailsLogs?: boolean }).tailsLogs === true;
      refuse('rebuilding its state from its log');
      await runtime.start();
      notAborted('after rebuilding its state');
      if (!tailsLogs) relay = startRelay(ctx.store, ctx.bus, name, log, ctx.namespace, instance, runRecords);
      if (relay) {
        const r = relay;
        unobserveRelay = observeRelayLag(instance, runtime.position, () => r.position());
      }
      if (o.gauges) unobserveGauges = observeServiceGauges(instance, o.gauges(runtime));
      await hooks?.queryable?.();
      notAborted('once queryable');
      if (inboxed) {
        refuse(`joining its Kafka consumer group ${group}`);
        // A broker that is down at start is waited for (with backoff, logged), not a crash loop.
        const join = retryForever(
          'inbox: joining the consumer group',
          log,
          // Aborted, the bus's start ends too (a join under way ends first, then leaves), so `stop` does not wait for a whole join.
          () => startInbox(ctx.bus, runtime, o.inbox, log, ctx.namespace, signal),
          () => signal?.aborted === true,
          signal,
        ).then(async (c) => {
          // Joined after its start was aborted: leaves the group at once.
          if (signal?.aborted) await c?.stop();
          else inbox = c;
        });
        try {
          await startWait(
            log,
            `the inbox to join consumer group ${group}`,
            () => join,
            tailsLogs
              ? { signal }
              : {
                  hint: 'a member of a killed process stays in the group until its session times out (KAFKA_SESSION_TIMEOUT_MS); a stopped one leaves at once',
                  signal,
                },
          );
        } catch (e) {
          if (isStartAborted(e)) joining = join.catch(() => undefined);
          throw e;
        }
        try {
          await catchUp();
          notAborted('once its inbox caught up');
        } catch (e) {
          // Aborted: the consumer leaves its group now (its batch in hand recorded first), not at the stop.
          if (isStartAborted(e) && inbox) {
            const c = inbox;
            inbox = undefined;
            await c.stop();
          }
          throw e;
        }
      }
      runtime.refuseCommands(undefined);
      reactions = o.reactions?.(runtime);
      log.info('start: commands accepted', { ms: Date.now() - t0, position: runtime.position() });

      async function catchUp(): Promise<void> {
        const caughtUp = inbox?.caughtUp;
        if (caughtUp) {
          refuse('catching up on its inbox');
          let behind: number | undefined;
          const done = await startWait(
            log,
            "the inbox to catch up with its topics' end offsets at join",
            async () => {
              behind = (
                await caughtUp((n) => {
                  behind = n;
                })
              ).messages;
            },
            { limitMs: catchUpLimitMs, fields: () => (behind === undefined ? {} : { messages: behind }), signal },
          );
          if (!done)
            log.warn('start: accepting commands before the inbox caught up (INBOX_CATCH_UP_TIMEOUT_MS); see the inbox errors above', {
              limitMs: catchUpLimitMs,
            });
        }
      }
    },
    async stop() {
      await reactions?.stop();
      await joining;
      await inbox?.stop();
      unobserveRelay?.();
      unobserveGauges?.();
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
    if (!/^(kurrentdb|esdb|kdb)(\+discover)?:\/\//.test(kurrent))
      throw new ConfigError('KURRENTDB_URL', 'a kurrentdb:// or esdb:// connection string', kurrent);
    // Loaded only when used: the KurrentDB client costs start-up time to every other process.
    const { kurrentEventStore } = await import('./eventstore/kurrentdb.js');
    return kurrentEventStore(kurrent, category);
  }
  if (url === undefined) throw new ConfigError('DATABASE_URL', 'postgres://user@host:port/db (or set KURRENTDB_URL)', undefined);
  if (!/^postgres(ql)?:\/\//.test(url)) throw new ConfigError('DATABASE_URL', 'a postgres:// connection string', url);
  return postgresEventStore(url, category);
}

/** How long a stop may take before the process exits anyway (a hung broker or database). */
const STOP_DEADLINE_MS = 10_000;

const onSignals = (stop: () => Promise<void>, log: Logger): void => {
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      stopping = true;
      log.info(`${sig}: stopping`, { deadlineMs: STOP_DEADLINE_MS });
      setTimeout(() => {
        log.error('stop: deadline passed, exiting without a clean stop', { deadlineMs: STOP_DEADLINE_MS });
        process.exit(1);
      }, STOP_DEADLINE_MS).unref();
      stop()
        .catch((e: Error) => log.error('stop failed', { error: e.message }))
        .finally(() => process.exit(0));
    });
  }
};

const sinceProcessStart = (): number => Math.round(process.uptime() * 1000);

/**
 * One service as its own process: PostgreSQL or KurrentDB, Kafka, its own gRPC port.
 *
 * Start order: connect the event store → rebuild the state from the log → bind gRPC: queries are
 * answered, health `queries` is SERVING, the empty name and the service's own name NOT_SERVING,
 * commands get UNAVAILABLE saying what the service waits for → the inbox joins its consumer
 * group and catches up with its topics → reactions start, commands are accepted, health SERVING.
 * A stop (SIGTERM) leaves the consumer group, so the next process takes the partitions at once —
 * also during the start: the start is aborted, a join under way ends, then the consumer leaves.
 */
export async function runStandalone(
  module: ServiceModule,
  source: Record<string, string | undefined> = process.env,
): Promise<{ server: StartedServer; stop(): Promise<void> }> {
  const env = readEnv(source);
  const log = createLogger({ service: module.name });
  const port = env.int('GRPC_PORT', DEFAULT_PORTS[module.name], 0, 65535);
  const host = env.str('GRPC_HOST', '0.0.0.0');
  const brokers = brokersFrom(env);
  const admin = adminFrom(env);
  const namespace = namespaceFrom(env);
  const category = categoryOf(namespace, module.name);
  const sessionTimeoutMs = env.int('KAFKA_SESSION_TIMEOUT_MS', DEFAULT_SESSION_TIMEOUT_MS, 1000, 1_800_000);
  const security = kafkaSecurityFrom(env);
  const partitions = env.int('KAFKA_PARTITIONS', 3, 1, 1000);
  const grpcOptions = grpcServerOptionsFrom(env);
  const telemetrySettings = telemetrySettingsFrom(env, module.name, host);
  const probes = healthProbeSettingsFrom(env);
  module.validateConfig?.(env, { admin, mode: 'standalone' });
  const telemetry = await startTelemetry(telemetrySettings, log);
  let store!: EventStore;
  await startWait(log, 'the event store', async () => {
    store = (await retryForever('event store: connecting', log, () => storeFrom(env, category)))!;
  });
  const bus = kafkaBus({ brokers, clientId: `ewx-${module.name}`, partitions, log, sessionTimeoutMs, security });
  const instance = await module.create({ store, bus, log, env, admin, mode: 'standalone', namespace });
  let server: StartedServer | undefined;
  let watch: { stop(): Promise<void> } | undefined;
  // A stop (SIGTERM) during the start aborts it: a Kafka join under way ends first and the consumer
  // then leaves its group, so the next process is not kept waiting for this one's session to time out.
  const starting = new AbortController();
  let started: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    const t0 = Date.now();
    starting.abort(new Error('the process is stopping'));
    await started?.catch(() => undefined);
    await watch?.stop();
    const ms: Record<string, number> = {};
    const step = async (name: string, fn: () => Promise<void> | undefined): Promise<void> => {
      const t = Date.now();
      await fn();
      ms[name] = Date.now() - t;
    };
    await step('grpc', () => server?.stop());
    // Reactions, then the inbox (LeaveGroup: its partitions are free for the next process), relay, runtime.
    await step('service', () => instance.stop());
    await step('bus', () => bus.close());
    await step('store', () => store.close());
    await step('telemetry', () => telemetry.shutdown());
    log.info('stopped', { ms: Date.now() - t0, steps: ms });
  };
  onSignals(stop, log);
  const listen = async (): Promise<void> => {
    server = await startGrpcServer(instance.grpc, host, port, [module.protoFile], PROTO_ROOT, grpcOptions);
    setHealth(server, [QUERIES_HEALTH], 'SERVING');
    log.info(`${module.name} listening: queries answered; commands once the inbox has joined its group and caught up`, {
      grpc: `${host}:${server.port}`,
      sinceProcessStartMs: sinceProcessStart(),
    });
  };
  started = instance.start({ queryable: listen, signal: starting.signal });
  try {
    await started;
  } catch (e) {
    // Stopped while starting: the stop ends the process (exit 0); nothing more to start or report.
    if (starting.signal.aborted && isStartAborted(e)) return new Promise<never>(() => {});
    throw e;
  }
  if (server === undefined) await listen();
  setServing(
    server!,
    instance.grpc.map((g) => g.name),
  );
  log.info(`${module.name} serving: commands accepted, health SERVING`, { grpc: `${host}:${server!.port}`, sinceProcessStartMs: sinceProcessStart() });
  // From here on, health follows the store and the broker: NOT_SERVING while either is unreachable.
  const names = instance.grpc.map((g) => g.name);
  watch = watchDependencies(
    [
      {
        name: 'event store',
        check: async () => {
          await store.getCheckpoint('relay');
        },
      },
      ...(bus.probe ? [{ name: 'Kafka', check: () => bus.probe!() }] : []),
    ],
    probes,
    log,
    (up) => (up ? setServing(server!, names) : setHealth(server!, ['', ...names], 'NOT_SERVING')),
  );
  return { server: server!, stop };
}

export interface Embedded {
  readonly server: StartedServer;
  readonly admin: string;
  readonly dataDir: string | undefined;
  /** Each service's log, to read only (the dashboard's audit view beside a running `npm start`). */
  readonly logs: ReadonlyMap<ServiceName, Pick<EventStore, 'readAll'>>;
  stop(): Promise<void>;
}

/**
 * All five services in one process: one PGlite database (a schema per service), a bus whose
 * consumers tail the producers' logs with durable checkpoints (nothing in memory to lose on a
 * kill), and one gRPC server. `DATA_DIR` names the folder; `memory` keeps nothing.
 */
export async function runEmbedded(
  modules: readonly ServiceModule[],
  source: Record<string, string | undefined> = process.env,
  opts: { signals?: boolean } = {},
): Promise<Embedded> {
  const env = readEnv(source);
  const log = createLogger({ mode: 'embedded' });
  const dataDirSetting = env.str('DATA_DIR', '.data/embedded');
  const dataDir = dataDirSetting === 'memory' ? undefined : resolve(dataDirSetting);
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const port = env.int('GRPC_PORT', 50051, 0, 65535);
  const host = env.str('GRPC_HOST', '127.0.0.1');
  const admin = adminFrom(env, dataDir ?? MEMORY, log);
  const grpcOptions = grpcServerOptionsFrom(env);
  const telemetrySettings = telemetrySettingsFrom(env, 'embedded', host);
  for (const m of modules) m.validateConfig?.(env, { admin, mode: 'embedded' });
  // How long each part of the start took (logged with the listening line: docs/SCALING.md's cold start).
  const startMs: Record<string, number> = { modulesLoaded: sinceProcessStart() };
  let lap = performance.now();
  const took = (part: string): void => {
    const now = performance.now();
    startMs[part] = Math.round(now - lap);
    lap = now;
  };
  const telemetry = await startTelemetry(telemetrySettings, log);
  took('telemetry');
  const namespace = namespaceFrom(env);
  // A new folder of the default namespace comes with its five schemas already made (a prepared
  // template, made by the first such start on this machine): migrations were a third of a cold start.
  const schemas = modules.map((m) => schemaFor(categoryOf(namespace, m.name)));
  const prepared =
    namespace === ''
      ? {
          key: JSON.stringify({ schemas, migrate: migrate.toString() }),
          run: async (pg: PGlite) => {
            for (const schema of schemas) await migrate(pgliteClient(pg, false), schema);
          },
        }
      : undefined;
  const db = await openPglite(dataDir ? join(dataDir, 'pglite') : undefined, source, prepared);
  took('database');
  const bus = logTailBus(log, namespace);
  const instances: ServiceInstance[] = [];
  const logs = new Map<ServiceName, Pick<EventStore, 'readAll'>>();
  const inProcess: InProcessCalls = {};
  for (const m of modules) {
    const store = await pgliteEventStore(categoryOf(namespace, m.name), db);
    logs.set(m.name, { readAll: (after, limit) => store.readAll(after, limit) });
    // The producer's head for the consumer lag: its runtime's position (eventSourcedService exposes it).
    let runtime: { position(): LogPosition } | undefined;
    bus.register(m.name, store, () => runtime?.position() ?? START);
    const instance = await m.create({ store, bus, log: log.child({ service: m.name }), env, admin, mode: 'embedded', namespace, inProcess });
    runtime = (instance as Partial<{ runtime: { position(): LogPosition } }>).runtime;
    instances.push(instance);
  }
  took('stores and services');
  for (const i of instances) await i.start();
  took('replay and start');
  const grpcServices = instances.flatMap((i) => i.grpc);
  const server = await startGrpcServer(
    grpcServices,
    host,
    port,
    modules.map((m) => m.protoFile),
    PROTO_ROOT,
    grpcOptions,
  );
  setServing(
    server,
    grpcServices.map((g) => g.name),
  );
  setHealth(server, [QUERIES_HEALTH], 'SERVING');
  took('grpc');
  log.info(`ewx embedded: all services listening on ${host}:${server.port} (gRPC, health and reflection)`, {
    dataDir: dataDir ?? 'memory',
    admin,
    sinceProcessStartMs: sinceProcessStart(),
    startMs,
  });
  const stop = async (): Promise<void> => {
    await server.stop();
    for (const i of [...instances].reverse()) await i.stop();
    await bus.close();
    await db.close();
    await telemetry.shutdown();
  };
  if (opts.signals !== false) onSignals(stop, log);
  return { server, admin, dataDir, logs, stop };
}

/** The body of every service's main.ts: start it alone, or exit 1 with the configuration error. */
export function main(module: ServiceModule): void {
  runStandalone(module).catch((e: Error) => {
    process.stderr.write(`${module.name}: ${e.message}\n`);
    process.exit(1);
  });
}
