import { readFileSync } from 'node:fs';

/**
 * Process configuration from the environment, shared by the services (through @ewx/platform) and
 * the client processes that must not load the server platform (the distance evaluator): the same
 * variables, the same `NAME_FILE` rule, the same messages. Import it as `@ewx/client/config`.
 */

/** A bad configuration value: start-up fails naming the variable, what was expected and what was found. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    expected: string,
    got: string | undefined,
  ) {
    super(`configuration ${variable}: expected ${expected}, got ${got === undefined ? '(unset)' : quote(got, 200)}`);
    this.name = 'ConfigError';
  }
}

/** JSON-quoted, past `max` characters cut with an ellipsis and its full length (as the platform's `quote`). */
function quote(s: string, max: number): string {
  return s.length <= max ? JSON.stringify(s) : `${JSON.stringify(s.slice(0, max))}… (${s.length} characters)`;
}

/** Reads configuration from the environment; every bad value fails start-up naming the variable. */
export interface Env {
  str(name: string, fallback?: string): string;
  optional(name: string): string | undefined;
  int(name: string, fallback: number, min: number, max: number): number;
  list(name: string, fallback?: string): string[];
  oneOf<T extends string>(name: string, values: readonly T[], fallback: T): T;
}

/**
 * Every variable NAME may instead be given as NAME_FILE, a path whose content is the value (how
 * Kubernetes mounts a Secret key as a file, so a seed need not sit in the environment); both set is
 * an error.
 */
export function readEnv(source: Record<string, string | undefined> = process.env): Env {
  const optional = (name: string): string | undefined => {
    const v = source[name];
    const file = source[`${name}_FILE`];
    const direct = v === undefined || v.trim() === '' ? undefined : v.trim();
    if (file === undefined || file.trim() === '') return direct;
    if (direct !== undefined) throw new ConfigError(`${name}_FILE`, `unset when ${name} is set (one source)`, file);
    let text: string;
    try {
      text = readFileSync(file.trim(), 'utf8');
    } catch (e) {
      throw new ConfigError(`${name}_FILE`, 'a readable file', `${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return text.trim() === '' ? undefined : text.trim();
  };
  return {
    optional,
    str(name, fallback) {
      const v = optional(name) ?? fallback;
      if (v === undefined) throw new ConfigError(name, 'a value', undefined);
      return v;
    },
    int(name, fallback, min, max) {
      const v = optional(name);
      if (v === undefined) return fallback;
      if (!/^-?\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new ConfigError(name, `an integer from ${min} to ${max}`, v);
      return Number(v);
    },
    list(name, fallback) {
      const v = optional(name) ?? fallback;
      return v === undefined
        ? []
        : v
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s.length > 0);
    },
    oneOf(name, values, fallback) {
      const v = optional(name) ?? fallback;
      if (!values.includes(v as never)) throw new ConfigError(name, `one of ${values.join(', ')}`, v);
      return v as never;
    },
  };
}

/** A PEM file named by a variable, read at start-up; a missing or non-PEM file fails start-up naming the variable. */
export function pemFileFrom(env: Env, name: string, what: string): Buffer | undefined {
  const path = env.optional(name);
  if (path === undefined) return undefined;
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (e) {
    throw new ConfigError(name, `a readable ${what} file`, `${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!/-----BEGIN [A-Z0-9 ]+-----/.test(text.toString('latin1'))) throw new ConfigError(name, `a PEM ${what} file`, path);
  return text;
}

export interface ClientTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/**
 * For this process's outgoing gRPC calls (distance → registry, evaluator → distance):
 * GRPC_CLIENT_TLS=1 or GRPC_CLIENT_TLS_CA_FILE turn TLS on (the CA file replaces the system roots);
 * GRPC_CLIENT_TLS_CERT_FILE + GRPC_CLIENT_TLS_KEY_FILE present a client certificate.
 */
export function clientTlsFrom(env: Env): ClientTls | undefined {
  const on = env.oneOf('GRPC_CLIENT_TLS', ['0', '1'], '0') === '1';
  const ca = pemFileFrom(env, 'GRPC_CLIENT_TLS_CA_FILE', 'CA certificate');
  const cert = pemFileFrom(env, 'GRPC_CLIENT_TLS_CERT_FILE', 'certificate');
  const key = pemFileFrom(env, 'GRPC_CLIENT_TLS_KEY_FILE', 'private key');
  if ((cert === undefined) !== (key === undefined)) {
    const missing = cert === undefined ? 'GRPC_CLIENT_TLS_CERT_FILE' : 'GRPC_CLIENT_TLS_KEY_FILE';
    throw new ConfigError(missing, 'set together with the other of GRPC_CLIENT_TLS_CERT_FILE / GRPC_CLIENT_TLS_KEY_FILE', undefined);
  }
  if (!on && ca === undefined && cert === undefined) return undefined;
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}
