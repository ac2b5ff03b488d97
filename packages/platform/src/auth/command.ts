import { DomainError } from '../errors.js';
import type { Auth, CoSigner } from '../runtime.js';
import { signBytes, signerKeyProblem, signingBytes, verifyBytes, type KeyPair } from './keys.js';

/** The `auth` field every command message carries (proto `ewx.v1.Auth`). */
export interface WireAuth {
  signer: string;
  nonce: bigint;
  signature: Uint8Array;
}

export interface Signed {
  auth?: WireAuth | undefined;
}

export type Encode<T> = (message: T) => Uint8Array;

/**
 * The largest nonce accepted: 2^53 − 1 (Number.MAX_SAFE_INTEGER). Nonces only grow per account, so
 * one at the top of uint64 would lock its account out for good; this bound leaves every client a
 * way forward and is exact in every JSON/JavaScript client. Clock nonces (microseconds, ~1.8e15
 * today) stay below it until the year 2255.
 */
export const MAX_NONCE = 2n ** 53n - 1n;

/**
 * The checks of `auth` that need no signature work: present, nonce in 1..MAX_NONCE, and a signer
 * that can sign (a strict ed25519 key: not the treasury, not small order, canonical).
 */
export function checkAuth(message: Signed, field = 'auth'): WireAuth {
  const a = message.auth;
  if (!a || !a.signer) throw new DomainError('UNAUTHENTICATED', `${field}: a signed command needs ${field}.signer, ${field}.nonce and ${field}.signature`);
  checkWireAuth(a, field);
  return a;
}

function checkWireAuth(a: WireAuth, field: string): void {
  if (a.nonce <= 0n) throw new DomainError('INVALID_ARGUMENT', `${field}.nonce: must be a positive integer`);
  if (a.nonce > MAX_NONCE) throw new DomainError('INVALID_ARGUMENT', `${field}.nonce: must be at most ${MAX_NONCE} (2^53 − 1), got ${a.nonce}`);
  const problem = signerKeyProblem(a.signer);
  if (problem) throw new DomainError('UNAUTHENTICATED', `${field}.signer: ${problem}`);
}

/** Verifies a command's signature; the nonce is checked against the log by the runtime. */
export function authenticate<T extends Signed>(method: string, message: T, encode: Encode<T>): Auth {
  const a = checkAuth(message);
  const bytes = signingBytes(method, a.signer, a.nonce, encode({ ...message, auth: undefined }));
  if (!verifyBytes(a.signer, bytes, a.signature)) {
    throw new DomainError('UNAUTHENTICATED', `auth.signature: not a valid ed25519 signature by ${a.signer} over this ${method} command`);
  }
  return { signer: a.signer, nonce: a.nonce };
}

/** The client side: sign a command for `method` with the next nonce. */
export function signCommand<T extends Signed>(key: KeyPair, method: string, message: T, nonce: bigint, encode: Encode<T>): T {
  const bytes = signingBytes(method, key.address, nonce, encode({ ...message, auth: undefined }));
  return { ...message, auth: { signer: key.address, nonce, signature: signBytes(key, bytes) } };
}

/** A client-side nonce source: one increasing counter per key works for every service. */
export function nonceCounter(start = 0n): () => bigint {
  let n = start;
  return () => ++n;
}

/**
 * A nonce source for long-lived signers (services, workers) that restart without keeping a counter:
 * microseconds of the wall clock, strictly increasing within the process. Client side only.
 * `atLeast(n)` moves it past a nonce the server says it already accepted.
 */
export function clockNonces(): (() => bigint) & { atLeast(n: bigint): void } {
  let last = 0n;
  const next = (): bigint => {
    const now = BigInt(Date.now()) * 1000n;
    last = now > last ? now : last + 1n;
    return last;
  };
  return Object.assign(next, { atLeast(n: bigint) { if (n > last) last = n; } });
}

/**
 * A second signature on one command (ConnectWorker's `worker_auth`: the worker's consent): another
 * account signs the same canonical bytes as `auth`, with its own nonce. `encode` must also leave out
 * the co-signature field, so both parties sign the same payload and either may sign first.
 */
export function cosignCommand<T extends Signed>(key: KeyPair, method: string, message: T, nonce: bigint, encode: Encode<T>): WireAuth & { signature: Buffer } {
  const bytes = signingBytes(method, key.address, nonce, encode({ ...message, auth: undefined }));
  return { signer: key.address, nonce, signature: signBytes(key, bytes) };
}

/**
 * Verifies the co-signature carried in `field` (see cosignCommand); undefined when absent, for the
 * rules to refuse. The runtime checks and records the returned nonce (Auth.cosigners).
 */
export function authenticateCosigner<T extends Signed>(method: string, field: string, a: WireAuth | undefined, message: T, encode: Encode<T>): CoSigner | undefined {
  if (!a) return undefined;
  checkWireAuth(a, field);
  const bytes = signingBytes(method, a.signer, a.nonce, encode({ ...message, auth: undefined }));
  if (!verifyBytes(a.signer, bytes, a.signature)) {
    throw new DomainError('UNAUTHENTICATED', `${field}.signature: not a valid ed25519 signature by ${a.signer} over this ${method} command`);
  }
  return { field, signer: a.signer, nonce: a.nonce };
}
