import { connect } from 'node:net';
import pg from 'pg';

/**
 * Real Kafka and PostgreSQL for integration tests. In CI (EWX_REQUIRE_INFRA=1) a missing broker or
 * database fails the run; on a laptop the tests skip with one line saying why and how to run them.
 */
export interface RealInfra {
  readonly databaseUrl: string;
  readonly brokers: string[];
}

const required = (): boolean => process.env.EWX_REQUIRE_INFRA === '1';

function tcpOpen(host: string, port: number, ms = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean): void => { s.destroy(); resolve(ok); };
    s.setTimeout(ms, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

let cached: Promise<RealInfra | string> | undefined;

async function probe(): Promise<RealInfra | string> {
  const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/ewx_test';
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
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
  return { databaseUrl, brokers };
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
