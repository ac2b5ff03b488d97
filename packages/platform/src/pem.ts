import { readFileSync } from 'node:fs';
import type { Env } from './config.js';
import { ConfigError } from './errors.js';

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
