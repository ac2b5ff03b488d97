import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';

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
