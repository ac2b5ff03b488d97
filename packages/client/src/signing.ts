import { signBytes, type KeyPair } from './keys.js';

/** The `auth` field every command message carries (proto `ewx.v1.Auth`). */
export interface WireAuth {
  signer: string;
  nonce: bigint;
  signature: Uint8Array;
}

/** Any request message with an `auth` field: a signed command. */
export interface Signed {
  auth?: WireAuth | undefined;
}

export type Encode<T> = (message: T) => Uint8Array;

/** The first line of every signed command's bytes; changing it would split the network. */
export const SIGNING_DOMAIN = 'ewx/v1/command';

/**
 * The canonical bytes a command signature covers (docs/SIGNING.md):
 * `ewx/v1/command\n` + full gRPC method (with its leading slash) + `\n` + signer + `\n` + nonce in
 * decimal + `\n`, then the protobuf encoding of the request with `auth` unset, fields at their
 * default value left out. Binding the method stops a signature for one command being replayed as
 * another.
 */
export function signingBytes(method: string, signer: string, nonce: bigint, payload: Uint8Array): Buffer {
  if (!method.startsWith('/'))
    throw new Error(`method: the full gRPC path with its leading slash, e.g. /ewx.v1.Registry/Deposit, got ${JSON.stringify(method)}`);
  const head = Buffer.from(`${SIGNING_DOMAIN}\n${method}\n${signer}\n${nonce.toString()}\n`, 'utf8');
  return Buffer.concat([head, payload]);
}

/**
 * Fields that carry a second signature over the same bytes (ConnectWorker's `worker_auth`, the
 * worker's consent): unset, like `auth`, in the payload every party signs.
 */
export const COSIGNATURE_FIELDS = ['workerAuth'] as const;

/** The message as every signature of it covers it: `auth` and co-signature fields unset. */
export function unsigned<T extends Signed>(message: T): T {
  const out = { ...message, auth: undefined } as unknown as Record<string, unknown>;
  for (const f of COSIGNATURE_FIELDS) if (f in out) out[f] = undefined;
  return out as T;
}

/** Signs `message` for `method` with `nonce`: returns the message with `auth` filled in. */
export function signCommand<T extends Signed>(key: KeyPair, method: string, message: T, nonce: bigint, encode: Encode<T>): T {
  const bytes = signingBytes(method, key.address, nonce, encode(unsigned(message)));
  return { ...message, auth: { signer: key.address, nonce, signature: signBytes(key, bytes) } };
}

/**
 * Who signs: an address, a signature function and a nonce source. Kept apart from `KeyPair` so a
 * hardware key or a remote signer can stand in.
 */
export interface Signer {
  readonly address: string;
  sign(bytes: Uint8Array): Uint8Array | Promise<Uint8Array>;
  nextNonce(): bigint | Promise<bigint>;
}

/** Signs with the signer's next nonce. */
export async function signWith<T extends Signed>(signer: Signer, method: string, message: T, encode: Encode<T>): Promise<T> {
  return { ...message, auth: await cosignWith(signer, method, message, encode) };
}

/**
 * A signature of `message` by `signer` for a co-signature field (e.g. `workerAuth`): the same
 * canonical bytes as `auth`, with the co-signer's own nonce.
 */
export async function cosignWith<T extends Signed>(signer: Signer, method: string, message: T, encode: Encode<T>): Promise<WireAuth> {
  const nonce = await signer.nextNonce();
  const bytes = signingBytes(method, signer.address, nonce, encode(unsigned(message)));
  return { signer: signer.address, nonce, signature: await signer.sign(bytes) };
}

/** A signer over a key pair in memory and a nonce source. */
export const keySigner = (key: KeyPair, nextNonce: () => bigint | Promise<bigint>): Signer => ({
  address: key.address,
  sign: (bytes) => signBytes(key, bytes),
  nextNonce,
});
