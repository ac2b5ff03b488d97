import { createHash } from 'node:crypto';
import { DomainError } from '../errors.js';
import type { EventData, Json } from '../eventstore/types.js';
import type { Auth, CoSigner } from '../runtime.js';
import { signCommand, type Encode, type Signed, type WireAuth } from '@ewx/client';
import { signerKeyProblem, signingBytes, verifyBytes, type KeyPair } from './keys.js';

export type { Encode, Signed, WireAuth } from '@ewx/client';

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
  if (!a?.signer) throw new DomainError('UNAUTHENTICATED', `${field}: a signed command needs ${field}.signer, ${field}.nonce and ${field}.signature`);
  checkWireAuth(a, field);
  return a;
}

function checkWireAuth(a: WireAuth, field: string): void {
  if (a.nonce <= 0n) throw new DomainError('INVALID_ARGUMENT', `${field}.nonce: must be a positive integer`);
  if (a.nonce > MAX_NONCE) throw new DomainError('INVALID_ARGUMENT', `${field}.nonce: must be at most ${MAX_NONCE} (2^53 − 1), got ${a.nonce}`);
  const problem = signerKeyProblem(a.signer);
  if (problem) throw new DomainError('UNAUTHENTICATED', `${field}.signer: ${problem}`);
}

/**
 * What lets anyone check a command's signatures from the log alone: recorded in the metadata of
 * the first event the command appended (`proof`), next to the signer and nonce the runtime
 * records. The signed bytes are `signingBytes(method, signer, nonce, payload)`; the payload is the
 * request's protobuf encoding without its signature fields. Payloads above PROOF_PAYLOAD_LIMIT
 * bytes (a large web-of-trust import) keep only their sha256: the signature is then not
 * checkable from the log.
 */
export interface CommandProof {
  readonly method: string;
  /** base64 of the payload, or absent when only its hash is kept. */
  readonly payload?: string;
  readonly payloadSha256?: string;
  /** hex ed25519 signature of `auth`. */
  readonly signature: string;
  /** hex signatures of the co-signers, in the order of metadata `cosigners`. */
  readonly cosignatures?: readonly string[];
}
export const PROOF_PAYLOAD_LIMIT = 64 * 1024;

/** An authenticated command with what proves it (see CommandProof). */
export type ProvenAuth = Auth & { readonly proof: CommandProof };

function proofOf(method: string, payload: Uint8Array, signature: Uint8Array): CommandProof {
  const hex = Buffer.from(signature).toString('hex');
  if (payload.length > PROOF_PAYLOAD_LIMIT) return { method, payloadSha256: createHash('sha256').update(payload).digest('hex'), signature: hex };
  return { method, payload: Buffer.from(payload).toString('base64'), signature: hex };
}

/** Verifies a command's signature; the nonce is checked against the log by the runtime. */
export function authenticate<T extends Signed>(method: string, message: T, encode: Encode<T>): ProvenAuth {
  const a = checkAuth(message);
  const payload = encode({ ...message, auth: undefined });
  const bytes = signingBytes(method, a.signer, a.nonce, payload);
  if (!verifyBytes(a.signer, bytes, a.signature)) {
    throw new DomainError('UNAUTHENTICATED', `auth.signature: not a valid signature by ${a.signer} over this ${method} command`);
  }
  return { signer: a.signer, nonce: a.nonce, proof: proofOf(method, payload, a.signature) };
}

/**
 * The decide function of an authenticated command, with the command's proof in the metadata of
 * its first event (and the co-signers' signatures when `auth` carries co-signers from
 * `authenticateCosigner`): `runtime.execute(stream, proven(auth, decide), auth)`.
 */
export function proven<S>(auth: Auth & { readonly proof?: CommandProof }, decide: (state: S) => readonly EventData[]): (state: S) => readonly EventData[] {
  return (state) => {
    const events = decide(state);
    if (events.length === 0 || !auth.proof) return events;
    const cosignatures = ((auth.cosigners ?? []) as readonly (CoSigner & { signature?: string })[]).map((c) => c.signature ?? '');
    const proof: CommandProof = cosignatures.length > 0 ? { ...auth.proof, cosignatures } : auth.proof;
    const [first, ...rest] = events;
    return [{ ...first!, metadata: { ...((first!.metadata as object | null | undefined) ?? {}), proof } as unknown as Json }, ...rest];
  };
}

/** The client side (the client kit's, re-exported for the servers' tests). */
export { clockNonces, counterNonces as nonceCounter, signCommand } from '@ewx/client';

/**
 * A second signature on one command (ConnectWorker's `worker_auth`: the worker's consent): another
 * account signs the same canonical bytes as `auth`, with its own nonce. `encode` must also leave out
 * the co-signature field, so both parties sign the same payload and either may sign first.
 */
export function cosignCommand<T extends Signed>(key: KeyPair, method: string, message: T, nonce: bigint, encode: Encode<T>): WireAuth & { signature: Buffer } {
  const { auth } = signCommand(key, method, message, nonce, encode);
  return { ...auth!, signature: Buffer.from(auth!.signature) };
}

/**
 * Verifies the co-signature carried in `field` (see cosignCommand); undefined when absent, for the
 * rules to refuse. The runtime checks and records the returned nonce (Auth.cosigners).
 */
export function authenticateCosigner<T extends Signed>(
  method: string,
  field: string,
  a: WireAuth | undefined,
  message: T,
  encode: Encode<T>,
): (CoSigner & { readonly signature: string }) | undefined {
  if (!a) return undefined;
  checkWireAuth(a, field);
  const bytes = signingBytes(method, a.signer, a.nonce, encode({ ...message, auth: undefined }));
  if (!verifyBytes(a.signer, bytes, a.signature)) {
    throw new DomainError('UNAUTHENTICATED', `${field}.signature: not a valid signature by ${a.signer} over this ${method} command`);
  }
  return { field, signer: a.signer, nonce: a.nonce, signature: Buffer.from(a.signature).toString('hex') };
}
