import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { keyPairFromSeed, type KeyPair } from '@ewx/client/keys';

/**
 * The evaluator's settings, read without the server platform (which loads the PostgreSQL, Kafka and
 * PGlite drivers): the same variables, the same `NAME_FILE` rule and the same messages as the
 * services' `readEnv`/`ConfigError` (packages/platform/src/config.ts, tls.ts).
 */
export class EvaluatorConfigError extends Error {
  constructor(
    readonly variable: string,
    expected: string,
    got: string | undefined,
  ) {
    super(
      `configuration ${variable}: expected ${expected}, got ${got === undefined ? '(unset)' : JSON.stringify(got.length > 200 ? `${got.slice(0, 200)}…` : got)}`,
    );
    this.name = 'ConfigError';
  }
}

type Source = Record<string, string | undefined>;

/** NAME, or the content of the file NAME_FILE names (both set is an error); blank is unset. */
function optional(source: Source, name: string): string | undefined {
  const v = source[name];
  const file = source[`${name}_FILE`];
  const direct = v === undefined || v.trim() === '' ? undefined : v.trim();
  if (file === undefined || file.trim() === '') return direct;
  if (direct !== undefined) throw new EvaluatorConfigError(`${name}_FILE`, `unset when ${name} is set (one source)`, file);
  let text: string;
  try {
    text = readFileSync(file.trim(), 'utf8');
  } catch (e) {
    throw new EvaluatorConfigError(`${name}_FILE`, 'a readable file', `${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return text.trim() === '' ? undefined : text.trim();
}

function int(source: Source, name: string, fallback: number, min: number, max: number): number {
  const v = optional(source, name);
  if (v === undefined) return fallback;
  if (!/^-?\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new EvaluatorConfigError(name, `an integer from ${min} to ${max}`, v);
  return Number(v);
}

function pemFile(source: Source, name: string, what: string): Buffer | undefined {
  const path = optional(source, name);
  if (path === undefined) return undefined;
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (e) {
    throw new EvaluatorConfigError(name, `a readable ${what} file`, `${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!/-----BEGIN [A-Z0-9 ]+-----/.test(text.toString('latin1'))) throw new EvaluatorConfigError(name, `a PEM ${what} file`, path);
  return text;
}

/**
 * GRPC_CLIENT_TLS=1 or GRPC_CLIENT_TLS_CA_FILE turn TLS on (the CA file replaces the system roots);
 * GRPC_CLIENT_TLS_CERT_FILE + GRPC_CLIENT_TLS_KEY_FILE present a client certificate.
 */
function credentialsFrom(source: Source): grpc.ChannelCredentials {
  const flag = optional(source, 'GRPC_CLIENT_TLS') ?? '0';
  if (flag !== '0' && flag !== '1') throw new EvaluatorConfigError('GRPC_CLIENT_TLS', 'one of 0, 1', flag);
  const ca = pemFile(source, 'GRPC_CLIENT_TLS_CA_FILE', 'CA certificate');
  const cert = pemFile(source, 'GRPC_CLIENT_TLS_CERT_FILE', 'certificate');
  const key = pemFile(source, 'GRPC_CLIENT_TLS_KEY_FILE', 'private key');
  if ((cert === undefined) !== (key === undefined)) {
    const missing = cert === undefined ? 'GRPC_CLIENT_TLS_CERT_FILE' : 'GRPC_CLIENT_TLS_KEY_FILE';
    throw new EvaluatorConfigError(missing, 'set together with the other of GRPC_CLIENT_TLS_CERT_FILE / GRPC_CLIENT_TLS_KEY_FILE', undefined);
  }
  if (flag === '0' && ca === undefined && cert === undefined) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(ca ?? null, key ?? null, cert ?? null);
}

export interface EvaluatorConfig {
  readonly key: KeyPair;
  readonly address: string;
  readonly pollMs: number;
  readonly credentials: grpc.ChannelCredentials;
  readonly healthPort: number | undefined;
  readonly host: string;
}

/** Every variable parsed before anything connects; a bad one throws naming it. */
export function evaluatorConfig(source: Source = process.env): EvaluatorConfig {
  const seed = optional(source, 'EVALUATOR_KEY');
  if (seed === undefined || !/^[0-9a-f]{64}$/i.test(seed)) {
    throw new EvaluatorConfigError('EVALUATOR_KEY', 'an ed25519 seed, 64 hex characters', seed === undefined ? undefined : '(hidden)');
  }
  const address = optional(source, 'DISTANCE_ADDRESS') ?? '127.0.0.1:50065';
  if (!/^[^:\s]+:\d{1,5}$/.test(address)) throw new EvaluatorConfigError('DISTANCE_ADDRESS', 'host:port', address);
  return {
    key: keyPairFromSeed(seed),
    address,
    pollMs: int(source, 'EVALUATOR_POLL_MS', 1000, 10, 600_000),
    credentials: credentialsFrom(source),
    healthPort: optional(source, 'GRPC_HEALTH_PORT') === undefined ? undefined : int(source, 'GRPC_HEALTH_PORT', 0, 0, 65535),
    host: optional(source, 'GRPC_HOST') ?? '127.0.0.1',
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
