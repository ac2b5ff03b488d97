import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

/**
 * Accounts are ed25519 keys; the address is `ed25519:<64 lowercase hex of the public key>`. The
 * scheme prefix leaves room for sr25519/SS58 addresses without changing the wire format.
 */
export const ADDRESS_PREFIX = 'ed25519:';
const ADDRESS_RE = /^ed25519:[0-9a-f]{64}$/;
const SEED_RE = /^[0-9a-f]{64}$/i;

export interface KeyPair {
  readonly address: string;
  readonly privateKey: KeyObject;
  /** 32-byte seed, hex: what a key file holds. */
  readonly seed: string;
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export const isAddress = (s: string): boolean => ADDRESS_RE.test(s);
export const isSeed = (s: string): boolean => SEED_RE.test(s);

export function keyPairFromSeed(seedHex: string): KeyPair {
  if (!isSeed(seedHex)) throw new Error('ed25519 seed: expected 64 hex characters');
  const seed = Buffer.from(seedHex, 'hex');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { address: ADDRESS_PREFIX + spki.subarray(spki.length - 32).toString('hex'), privateKey, seed: seed.toString('hex') };
}

export function generateKeyPair(): KeyPair {
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' }) as { d: string };
  return keyPairFromSeed(Buffer.from(jwk.d, 'base64url').toString('hex'));
}

/** The 32-byte public key of an address. */
export function publicKeyBytes(address: string): Buffer {
  if (!isAddress(address)) throw new Error(`address: expected ed25519:<64 hex>, got ${JSON.stringify(address)}`);
  return Buffer.from(address.slice(ADDRESS_PREFIX.length), 'hex');
}

export const signBytes = (key: KeyPair, bytes: Uint8Array): Buffer => sign(null, bytes, key.privateKey);

export function verifyBytes(address: string, bytes: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64 || !isAddress(address)) return false;
  const x = publicKeyBytes(address).toString('base64url');
  return verify(null, bytes, createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }), signature);
}
