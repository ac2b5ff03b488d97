import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { DomainError } from '../errors.js';

/**
 * Accounts are ed25519 keys; the address is `ed25519:<hex public key>`. The scheme prefix leaves
 * room for sr25519/SS58 addresses (the keys EWX wallets use) without changing the wire format.
 */
export const ADDRESS_PREFIX = 'ed25519:';
const ADDRESS_RE = /^ed25519:[0-9a-f]{64}$/;

export interface KeyPair {
  readonly address: string;
  readonly privateKey: KeyObject;
  /** 32-byte seed, hex: what a key file holds. */
  readonly seed: string;
}

const b64url = (b: Buffer): string => b.toString('base64url');

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function keyPairFromSeed(seedHex: string): KeyPair {
  if (!/^[0-9a-f]{64}$/i.test(seedHex)) throw new Error('ed25519 seed: expected 64 hex characters');
  const seed = Buffer.from(seedHex, 'hex');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { address: ADDRESS_PREFIX + spki.subarray(spki.length - 32).toString('hex'), privateKey, seed: seed.toString('hex') };
}

/** Key generation reads randomness: call it from tools, tests and wiring, never from domain code. */
export function generateKeyPair(): KeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' }) as { d: string };
  return keyPairFromSeed(Buffer.from(jwk.d, 'base64url').toString('hex'));
}

export const isAddress = (s: string): boolean => ADDRESS_RE.test(s);

const keyCache = new Map<string, KeyObject>();
/** Parsing a key object costs as much as a verification: cache them. */
function publicKeyOf(address: string): KeyObject {
  let k = keyCache.get(address);
  if (!k) {
    if (!isAddress(address)) throw new DomainError('UNAUTHENTICATED', `auth.signer: expected ed25519:<64 hex>, got ${JSON.stringify(address)}`);
    k = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(Buffer.from(address.slice(ADDRESS_PREFIX.length), 'hex')) }, format: 'jwk' });
    if (keyCache.size > 100_000) keyCache.clear();
    keyCache.set(address, k);
  }
  return k;
}

/**
 * The canonical bytes a command signature covers: a domain tag, the full gRPC method name, the
 * signer, the nonce and the deterministic protobuf encoding of the request with `auth` unset.
 * Binding the method stops a signature for one command being replayed as another.
 */
export function signingBytes(method: string, signer: string, nonce: bigint, payload: Uint8Array): Buffer {
  const head = Buffer.from(`ewx/v1/command\n${method}\n${signer}\n${nonce.toString()}\n`, 'utf8');
  return Buffer.concat([head, payload]);
}

export const signBytes = (key: KeyPair, bytes: Uint8Array): Buffer => sign(null, bytes, key.privateKey);

export function verifyBytes(address: string, bytes: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  return verify(null, bytes, publicKeyOf(address), signature);
}
