import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { REGISTRY_TREASURY } from '../contracts/events.js';
import { quote } from '../errors.js';

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

/**
 * The address format only (`ed25519:<64 lowercase hex>`): right for destinations and identifiers,
 * the treasury included. Whether an address can *sign* is `signerKeyProblem`/`isSignerAddress`.
 */
export const isAddress = (s: string): boolean => ADDRESS_RE.test(s);

// ---- strict verification (RFC 8032 §5.1.7 with the checks of libsodium / ed25519-dalek verify_strict) ----
//
// Node's verify (OpenSSL) accepts public keys of small order and non-canonical encodings: under the
// treasury's key (`ed25519:` + 64 zeros, a point of order 4) the constant signature R = 01‖0³¹,
// S = 0 verifies for about one message in four. So before Node's (cofactorless) equation:
//   - the key decodes canonically (y < p, no x = 0 with the sign bit), is on the curve and is not of
//     small order (checked once per address with @noble/curves, cached);
//   - S < L, R is a canonical encoding (y < p) and not a small-order point (bytes only, per signature).
// Of the "Taming the many EdDSAs" vectors (ed25519-speccheck) this accepts only vector 3, like
// libsodium and dalek's verify_strict (fixture: auth/ed25519-speccheck.json).

/** p = 2^255 − 19 and L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
const P_LE = Buffer.from('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'hex');
const L_LE = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');

/** Little-endian a < b over 32 bytes (`maskTop`: ignore bit 255, the sign of x in a point). */
function lessLE(a: Uint8Array, offset: number, b: Buffer, maskTop: boolean): boolean {
  for (let i = 31; i >= 0; i--) {
    const x = i === 31 && maskTop ? a[offset + i]! & 0x7f : a[offset + i]!;
    if (x !== b[i]) return x < b[i]!;
  }
  return false;
}

/**
 * The y coordinates (sign bit cleared, hex) of the 8 points of small order: 1 (identity), p − 1
 * (order 2), 0 (order 4), and ±y of the order-8 points. An encoding whose y is one of these is a
 * small-order point, or x = 0 with the sign bit set (non-canonical). The test checks the list
 * against @noble/curves (each decodes to a small-order point, and they are the whole torsion group).
 */
export const SMALL_ORDER_Y: readonly string[] = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
];
const SMALL_Y = new Set(SMALL_ORDER_Y);

/** Why the 32-byte point encoding at `offset` is refused (format only), or undefined. */
function encodingProblem(b: Uint8Array, offset: number): string | undefined {
  if (!lessLE(b, offset, P_LE, true)) return 'a non-canonical point encoding (y ≥ 2^255 − 19)';
  const y = Buffer.from(b.subarray(offset, offset + 32));
  y[31]! &= 0x7f;
  if (SMALL_Y.has(y.toString('hex'))) return 'a point of small order (no private key signs for it)';
  return undefined;
}

/** Accounts defined by the system that no one holds a key for (also refused as small-order points). */
const KEYLESS = new Map<string, string>([[REGISTRY_TREASURY, 'the registry treasury']]);

interface KeyEntry { readonly key?: KeyObject; readonly problem?: string }
const keyCache = new Map<string, KeyEntry>();

function keyEntry(address: string): KeyEntry {
  let k = keyCache.get(address);
  if (!k) {
    k = checkKey(address);
    if (keyCache.size > 100_000) keyCache.clear();
    keyCache.set(address, k);
  }
  return k;
}

function checkKey(address: string): KeyEntry {
  if (!isAddress(address)) return { problem: `expected ed25519:<64 lowercase hex>, got ${quote(address, 80)}` };
  if (KEYLESS.has(address)) return { problem: `${address} is ${KEYLESS.get(address)}: an account without a key, it never signs` };
  const bytes = Buffer.from(address.slice(ADDRESS_PREFIX.length), 'hex');
  const bad = encodingProblem(bytes, 0);
  if (bad) return { problem: `${address} is ${bad}` };
  let point;
  try {
    point = ed25519.Point.fromBytes(bytes, false); // strict RFC 8032 decoding: canonical, on the curve
  } catch {
    return { problem: `${address} is not a point of the ed25519 curve` };
  }
  if (point.isSmallOrder()) return { problem: `${address} is a point of small order (no private key signs for it)` };
  // Parsing a key object costs as much as a verification: that is why entries are cached.
  return { key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(bytes) }, format: 'jwk' }) };
}

/**
 * Why `address` can never sign (malformed, non-canonical, not on the curve, small order), or
 * undefined when it is a valid ed25519 public key. Cached per address.
 */
export const signerKeyProblem = (address: string): string | undefined => keyEntry(address).problem;

/** An address that can sign: the format of `isAddress` and a strict ed25519 public key. */
export const isSignerAddress = (address: string): boolean => keyEntry(address).problem === undefined;

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

/**
 * Strict ed25519 verification: false for a key `isSignerAddress` refuses, a signature that is not
 * 64 bytes, S ≥ L, a non-canonical or small-order R, or a failing equation. Never throws.
 */
export function verifyBytes(address: string, bytes: Uint8Array, signature: Uint8Array): boolean {
  const { key } = keyEntry(address);
  if (!key || signature.length !== 64) return false;
  if (!lessLE(signature, 32, L_LE, false) || encodingProblem(signature, 0) !== undefined) return false;
  return verify(null, bytes, key, signature);
}
