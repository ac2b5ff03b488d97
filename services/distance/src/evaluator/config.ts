import * as grpc from '@grpc/grpc-js';
import { clientTlsFrom, ConfigError, readEnv } from '@ewx/client/config';
import { keyPairFromSeed, type KeyPair } from '@ewx/client/keys';

/**
 * The evaluator's settings, read without the server platform (which loads the PostgreSQL, Kafka and
 * PGlite drivers) but by the services' own reader (`@ewx/client/config`, which the platform
 * re-exports): the same variables, the same `NAME_FILE` rule and the same messages.
 */

export interface EvaluatorConfig {
  readonly key: KeyPair;
  readonly address: string;
  readonly pollMs: number;
  readonly credentials: grpc.ChannelCredentials;
  readonly healthPort: number | undefined;
  readonly host: string;
}

/** Every variable parsed before anything connects; a bad one throws naming it. */
export function evaluatorConfig(source: Record<string, string | undefined> = process.env): EvaluatorConfig {
  const env = readEnv(source);
  const seed = env.optional('EVALUATOR_KEY');
  if (seed === undefined || !/^[0-9a-f]{64}$/i.test(seed)) {
    throw new ConfigError('EVALUATOR_KEY', 'an ed25519 seed, 64 hex characters', seed === undefined ? undefined : '(hidden)');
  }
  const address = env.optional('DISTANCE_ADDRESS') ?? '127.0.0.1:50065';
  if (!/^[^:\s]+:\d{1,5}$/.test(address)) throw new ConfigError('DISTANCE_ADDRESS', 'host:port', address);
  const pollMs = env.int('EVALUATOR_POLL_MS', 1000, 10, 600_000);
  // GRPC_CLIENT_TLS=1 or GRPC_CLIENT_TLS_CA_FILE turn TLS on; GRPC_CLIENT_TLS_CERT_FILE + _KEY_FILE present a client certificate.
  const tls = clientTlsFrom(env);
  return {
    key: keyPairFromSeed(seed),
    address,
    pollMs,
    credentials: tls === undefined ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null),
    healthPort: env.optional('GRPC_HEALTH_PORT') === undefined ? undefined : env.int('GRPC_HEALTH_PORT', 0, 0, 65535),
    host: env.optional('GRPC_HOST') ?? '127.0.0.1',
  };
}

/** The services' one-line JSON log format (packages/platform/src/log.ts), for this process alone. */
export interface EvaluatorLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const LEVELS = { error: 0, warn: 1, info: 2 } as const;

export function evaluatorLogger(base: Record<string, unknown>, level = process.env.LOG_LEVEL ?? 'info'): EvaluatorLogger {
  const max = LEVELS[level as keyof typeof LEVELS] ?? 2;
  const write = (lvl: keyof typeof LEVELS, msg: string, fields?: Record<string, unknown>): void => {
    if (LEVELS[lvl] > max) return;
    const line = JSON.stringify({ t: new Date().toISOString(), level: lvl, msg, ...base, ...fields }, (_k, v) =>
      typeof v === 'bigint' ? v.toString() : v instanceof Error ? v.message : v,
    );
    (lvl === 'info' ? process.stdout : process.stderr).write(`${line}\n`);
  };
  return { info: (m, f) => write('info', m, f), warn: (m, f) => write('warn', m, f), error: (m, f) => write('error', m, f) };
}
