import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { postgresEventStore } from '../eventstore/postgres.js';
import { schemaFor } from '../eventstore/sql.js';
import type { EventStore } from '../eventstore/types.js';

/**
 * Real Kafka and PostgreSQL for integration tests. In CI (EWX_REQUIRE_INFRA=1) a missing broker or
 * database fails the run; on a laptop the tests skip with one line saying why and how to run them.
 *
 * Where they come from (`planInfra`, the same test code either way): a server named by DATABASE_URL /
 * KAFKA_BROKERS is used as it is; otherwise, where a Docker engine answers (DOCKER_HOST or a Docker
 * socket), `@testcontainers/postgresql` and `@testcontainers/kafka` start one (reused by the next
 * test files: testcontainers' `withReuse`); otherwise the local servers (`infra/`, 127.0.0.1).
 * EWX_TEST_INFRA=servers|containers forces one side.
 */
export interface RealInfra {
  readonly databaseUrl: string;
  readonly brokers: string[];
  /** Where each came from: a server (named or local) or a container started by testcontainers. */
  readonly source: { readonly database: 'server' | 'container'; readonly kafka: 'server' | 'container' };
}

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/ewx_test';
export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:9092';
/** Kafka 3.9 (Confluent 7.9), as the local broker in infra/kafka; PostgreSQL 17. Override: EWX_KAFKA_IMAGE, EWX_POSTGRES_IMAGE. */
export const DEFAULT_KAFKA_IMAGE = 'confluentinc/cp-kafka:7.9.1';
export const DEFAULT_POSTGRES_IMAGE = 'postgres:17-alpine';

export interface InfraPlan {
  readonly database: { readonly from: 'server'; readonly url: string } | { readonly from: 'container'; readonly image: string };
  readonly kafka: { readonly from: 'server'; readonly brokers: string[] } | { readonly from: 'container'; readonly image: string };
  /** The Docker engine the containers would use (DOCKER_HOST or a socket path), when one was found. */
  readonly docker?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Where a Docker engine would answer: DOCKER_HOST, else the first Docker socket that exists (root, rootless, Docker Desktop). */
export function dockerEngine(env: Env, exists: (path: string) => boolean = existsSync, home = homedir()): string | undefined {
  if (env.DOCKER_HOST) return env.DOCKER_HOST;
  const sockets = [
    '/var/run/docker.sock',
    ...(env.XDG_RUNTIME_DIR ? [join(env.XDG_RUNTIME_DIR, 'docker.sock')] : []),
    join(home, '.docker', 'run', 'docker.sock'),
    join(home, '.docker', 'desktop', 'docker.sock'),
  ];
  const found = sockets.find((s) => exists(s));
  return found === undefined ? undefined : `unix://${found}`;
}

/**
 * Chooses the database and the broker for the tests (pure: the environment and the Docker engine
 * found are its inputs). A named server wins; without one, a container where Docker answers, else
 * the local server. EWX_TEST_INFRA=servers never starts a container; =containers always does (and
 * fails without a Docker engine).
 */
export function planInfra(env: Env, docker: string | undefined): InfraPlan {
  const mode = env.EWX_TEST_INFRA ?? 'auto';
  if (mode !== 'auto' && mode !== 'servers' && mode !== 'containers') {
    throw new Error(`EWX_TEST_INFRA: expected auto, servers or containers, got ${JSON.stringify(mode)}`);
  }
  if (mode === 'containers' && docker === undefined) {
    throw new Error('EWX_TEST_INFRA=containers but no Docker engine: DOCKER_HOST is unset and no Docker socket exists');
  }
  const container = (named: string | undefined): boolean => mode === 'containers' || (mode === 'auto' && named === undefined && docker !== undefined);
  const database: InfraPlan['database'] = container(env.DATABASE_URL)
    ? { from: 'container', image: env.EWX_POSTGRES_IMAGE ?? DEFAULT_POSTGRES_IMAGE }
    : { from: 'server', url: env.DATABASE_URL ?? DEFAULT_DATABASE_URL };
  const kafka: InfraPlan['kafka'] = container(env.KAFKA_BROKERS)
    ? { from: 'container', image: env.EWX_KAFKA_IMAGE ?? DEFAULT_KAFKA_IMAGE }
    : { from: 'server', brokers: (env.KAFKA_BROKERS ?? DEFAULT_KAFKA_BROKERS).split(',') };
  return { database, kafka, ...(docker === undefined ? {} : { docker }) };
}

const required = (): boolean => process.env.EWX_REQUIRE_INFRA === '1';

function tcpOpen(host: string, port: number, ms = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(ms, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Label on the containers the tests start (`docker rm -f $(docker ps -q --filter label=ewx.test-infra)` removes them). */
const LABEL = 'ewx.test-infra';

/**
 * Starts (or, with testcontainers' reuse, finds) the containers of the plan. Loaded only then: a run
 * on local servers never imports testcontainers. Not run on the machines this was written on (no
 * Docker engine there): see docs/DEVELOPING.md "Tests".
 */
async function startContainers(plan: InfraPlan): Promise<{ databaseUrl?: string; brokers?: string[] }> {
  const out: { databaseUrl?: string; brokers?: string[] } = {};
  if (plan.database.from === 'container') {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const c = await new PostgreSqlContainer(plan.database.image)
      .withDatabase('ewx_test')
      .withUsername('postgres')
      .withPassword('ewx')
      .withLabels({ [LABEL]: 'postgres' })
      .withReuse()
      .start();
    out.databaseUrl = c.getConnectionUri();
  }
  if (plan.kafka.from === 'container') {
    const { KafkaContainer } = await import('@testcontainers/kafka');
    const c = await new KafkaContainer(plan.kafka.image)
      .withKraft()
      .withLabels({ [LABEL]: 'kafka' })
      .withReuse()
      .start();
    out.brokers = [`${c.getHost()}:${c.getMappedPort(9093)}`];
  }
  return out;
}

let cached: Promise<RealInfra | string> | undefined;

async function probe(): Promise<RealInfra | string> {
  const plan = planInfra(process.env, dockerEngine(process.env));
  let started: { databaseUrl?: string; brokers?: string[] } = {};
  if (plan.database.from === 'container' || plan.kafka.from === 'container') {
    try {
      started = await startContainers(plan);
    } catch (e) {
      return `a Docker engine was found (${plan.docker}) but the test containers did not start: ${(e as Error).message}; set DATABASE_URL and KAFKA_BROKERS (or EWX_TEST_INFRA=servers) to use running servers`;
    }
  }
  const databaseUrl = plan.database.from === 'server' ? plan.database.url : started.databaseUrl!;
  const brokers = plan.kafka.from === 'server' ? plan.kafka.brokers : started.brokers!;
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (e) {
    return `no PostgreSQL at ${databaseUrl} (${(e as Error).message}); run \`bash infra/postgres/ensure.sh\` or set DATABASE_URL`;
  } finally {
    await client.end().catch(() => undefined);
  }
  const [host, port] = brokers[0]!.split(':');
  if (!(await tcpOpen(host!, Number(port)))) {
    return `no Kafka broker at ${brokers[0]}; run \`bash infra/kafka/start.sh\` (needs Java 17 and Maven) or set KAFKA_BROKERS`;
  }
  return { databaseUrl, brokers, source: { database: plan.database.from, kafka: plan.kafka.from } };
}

/** Returns the infrastructure, or a skip reason (never in CI, where it throws instead). */
export async function realInfra(): Promise<{ infra?: RealInfra; skip?: string }> {
  cached ??= probe();
  const r = await cached;
  if (typeof r !== 'string') return { infra: r };
  if (required()) throw new Error(`EWX_REQUIRE_INFRA=1 but ${r}`);
  process.stdout.write(`# skipping real-infrastructure tests: ${r}\n`);
  return { skip: r };
}

/** A fresh prefix for topics, groups and schemas, so runs on a shared broker and database never meet. */
export const uniqueNamespace = (tag: string): string =>
  `t${tag.replace(/[^a-z0-9]/g, '').slice(0, 8)}${process.pid.toString(36)}${Date.now().toString(36).slice(-5)}`;

/**
 * The environment of a service process on the real infrastructure: its database and brokers, the
 * namespace `ns` (from `uniqueNamespace`), the `admin` address and blocks produced on demand
 * (BLOCK_TIME_MS=manual); `more` adds or overrides variables.
 */
export const serviceEnv = (infra: RealInfra, ns: string, admin: string, more: Record<string, string> = {}): Record<string, string> => ({
  DATABASE_URL: infra.databaseUrl,
  KAFKA_BROKERS: infra.brokers.join(','),
  EWX_NAMESPACE: ns,
  ADMIN_ADDRESS: admin,
  BLOCK_TIME_MS: 'manual',
  ...more,
});

/**
 * Runs `use` on an event store of `category` in a PostgreSQL schema of its own at `url`, then closes
 * the store and drops the schema (the benches' PostgreSQL figures leave nothing behind).
 */
export async function withPostgresSchema<T>(url: string, category: string, use: (store: EventStore) => Promise<T>): Promise<T> {
  const store = await postgresEventStore(url, category);
  try {
    return await use(store);
  } finally {
    await store.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS ${schemaFor(category)} CASCADE`);
    } finally {
      await client.end();
    }
  }
}
