import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { connect, isAddress, keyFileSigner, readKeyFile, SERVICE_NAMES, type Ewx, type KeyPair, type ServiceName, type Signer } from '@ewx/client';
import { plain, record, table } from './output.js';
import { UsageError } from './parse.js';

export interface GlobalOptions {
  keysDir: string;
  address: string;
  json: boolean;
  /** False with --no-retry. */
  retry: boolean;
  registry?: string;
  voting?: string;
  consensus?: string;
  rewards?: string;
  distance?: string;
}

/** What every command gets: where keys live, how to reach the network, how to print. */
export interface Ctx {
  readonly json: boolean;
  readonly keysDir: string;
  /** The key file for `--key` (a name in the keys directory, or a path). */
  keyFile(nameOrPath: string): string;
  /** Loads a key and its nonce file; fails with one line naming the file when missing or damaged. */
  signer(nameOrPath: string): Signer & { key: KeyPair };
  /** An address as given, or the address of a key name. */
  account(field: string, addressOrName: string): string;
  connect(signer?: Signer): Ewx;
  /** Prints `data` as JSON with --json, else `human` (a string, or rows for a table, or one record). */
  print(data: unknown, human?: string | Record<string, unknown>[] | Record<string, unknown>): void;
  /** Where the services are, for messages. */
  readonly where: string;
  /** False with --no-retry or EWX_NO_RETRY=1: calls are made once, and a wait ends at its first failing check. */
  readonly retry: boolean;
}

export const DEFAULT_KEYS_DIR = (): string => process.env.EWX_KEYS_DIR ?? join(homedir(), '.ewx', 'keys');

/** Whether calls are retried: not with --no-retry or EWX_NO_RETRY=1 (0, false or empty leave retries on). */
export function retryOn(o: Pick<GlobalOptions, 'retry'>, env: string | undefined = process.env.EWX_NO_RETRY): boolean {
  if (o.retry === false) return false;
  const v = (env ?? '').trim().toLowerCase();
  if (v === '1' || v === 'true') return false;
  if (v === '' || v === '0' || v === 'false') return true;
  throw new UsageError(`EWX_NO_RETRY: expected 1 or true (no retries) or 0, false or empty (retries), got ${JSON.stringify(env)}`);
}

export function contextOf(cmd: Command): Ctx {
  const o = cmd.optsWithGlobals() as GlobalOptions;
  const keysDir = resolve(o.keysDir);
  const keyFile = (n: string): string => {
    if (n.includes('/') || n.endsWith('.key')) return isAbsolute(n) ? n : resolve(n);
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(n))
      throw new UsageError(`key: expected a key name ([A-Za-z0-9._-], up to 64) or a path to a key file, got ${JSON.stringify(n)}`);
    return join(keysDir, `${n}.key`);
  };
  const loadSigner = (n: string) => {
    try {
      return keyFileSigner(keyFile(n));
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new UsageError(
        `${(e as Error).message}${existsSync(keysDir) ? '' : ` (keys directory ${keysDir} does not exist; create a key with: ewx keys new <name>)`}`,
      );
    }
  };
  const split = SERVICE_NAMES.filter((n) => o[n]);
  if (split.length > 0 && split.length < SERVICE_NAMES.length) {
    throw new UsageError(
      `addresses: give all five of --registry, --voting, --consensus, --rewards, --distance, or none (then --address); missing: ${SERVICE_NAMES.filter(
        (n) => !o[n],
      )
        .map((n) => `--${n}`)
        .join(', ')}`,
    );
  }
  const addresses = split.length ? (Object.fromEntries(SERVICE_NAMES.map((n) => [n, o[n]!])) as Record<ServiceName, string>) : undefined;
  return {
    json: o.json,
    keysDir,
    keyFile,
    signer: loadSigner,
    account(field, s) {
      if (isAddress(s)) return s;
      if (s.startsWith('ed25519:')) throw new UsageError(`${field}: expected ed25519:<64 lowercase hex>, got ${JSON.stringify(s)}`);
      let file: string;
      try {
        file = keyFile(s);
      } catch {
        throw new UsageError(`${field}: expected an address (ed25519:<64 hex> or SS58) or a key name, got ${JSON.stringify(s)}`);
      }
      if (!existsSync(file)) throw new UsageError(`${field}: ${JSON.stringify(s)} is neither an address (ed25519:<64 hex> or SS58) nor a key in ${keysDir}`);
      try {
        return readKeyFile(file).address;
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    },
    connect: (signer) => {
      const retry = retryOn(o) ? {} : ({ retry: false } as const);
      return addresses ? connect({ addresses, signer, ...retry }) : connect({ address: o.address, signer, ...retry });
    },
    print(data, human) {
      if (o.json || human === undefined) process.stdout.write(JSON.stringify(plain(data), null, 2) + '\n');
      else if (typeof human === 'string') process.stdout.write(human + '\n');
      else if (Array.isArray(human)) process.stdout.write(table(human) + '\n');
      else process.stdout.write(record(human) + '\n');
    },
    retry: retryOn(o),
    where: addresses ? SERVICE_NAMES.map((n) => `${n}=${addresses[n]}`).join(' ') : o.address,
  };
}

/** Runs `body` with a connection, closed afterwards. */
export async function withEwx<T>(ctx: Ctx, signer: Signer | undefined, body: (ewx: Ewx) => Promise<T>): Promise<T> {
  const ewx = ctx.connect(signer);
  try {
    return await body(ewx);
  } finally {
    ewx.close();
  }
}
