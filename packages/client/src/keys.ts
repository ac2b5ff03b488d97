import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { ed25519, ristretto255 } from '@noble/curves/ed25519.js';
import { blake2b } from '@noble/hashes/blake2.js';
import { pbkdf2 } from '@noble/hashes/pbkdf2.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { base58 } from '@scure/base';
import { mnemonicToEntropy, validateMnemonic } from '@scure/bip39';
import { wordlist as english } from '@scure/bip39/wordlists/english.js';
import * as sr25519 from '@scure/sr25519';

/**
 * The one implementation of accounts, keys and signature checks: the servers (`@ewx/platform`
 * re-exports it), the CLI, the worker runtime and the tests all use this module, so a client and a
 * server cannot disagree on what an address is or whether a signature verifies.
 *
 * Two kinds of account (docs/SIGNING.md "Keys and addresses"):
 * - **ed25519**: the address is `ed25519:<64 lowercase hex of the public key>`; a key file holds the
 *   32-byte seed as 64 hex characters.
 * - **sr25519** (the keys Energy Web X wallets hold): the address is the public key's SS58 form in
 *   the generic Substrate format (network prefix 42, addresses starting with `5`); a key file holds
 *   `sr25519:` + the 32-byte mini-secret ("secret seed" in `subkey`) as 64 hex characters. Only
 *   prefix 42 is accepted so that one key is one account (the same key in Polkadot's or another
 *   network's format is refused with a message saying so).
 */
export const ADDRESS_PREFIX = 'ed25519:';
/** The SS58 network prefix of sr25519 addresses: 42, generic Substrate. */
export const SS58_PREFIX = 42;
export const SR25519_SEED_PREFIX = 'sr25519:';
const ED25519_ADDRESS_RE = /^ed25519:[0-9a-f]{64}$/;
const HEX64 = /^[0-9a-f]{64}$/i;
const SS58_RE = /^[1-9A-HJ-NP-Za-km-z]{46,50}$/;

export type KeyScheme = 'ed25519' | 'sr25519';

export interface KeyPair {
  readonly address: string;
  readonly scheme: KeyScheme;
  /** What a key file holds: 64 hex characters (ed25519 seed) or `sr25519:` + 64 hex (mini-secret). */
  readonly seed: string;
  /** ed25519 only: Node's key object (signing goes through `signBytes`). */
  readonly privateKey?: KeyObject;
  /** sr25519 only: the 64-byte expanded secret key. */
  readonly secretKey?: Uint8Array;
}

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

// ---- SS58 (https://docs.substrate.io/reference/address-formats/) ----

const SS58_CONTEXT = Buffer.from('SS58PRE', 'utf8');
const ss58Checksum = (body: Uint8Array): Uint8Array => blake2b(Buffer.concat([SS58_CONTEXT, body]), { dkLen: 64 }).subarray(0, 2);

/** The SS58 form (prefix 42) of a 32-byte public key. */
export function ss58Encode(publicKey: Uint8Array, prefix = SS58_PREFIX): string {
  if (publicKey.length !== 32) throw new Error('ss58: a public key is 32 bytes');
  if (prefix < 0 || prefix > 63) throw new Error('ss58: only the one-byte network prefixes (0–63) are supported');
  const body = Buffer.concat([Buffer.from([prefix]), publicKey]);
  return base58.encode(Buffer.concat([body, ss58Checksum(body)]));
}

/** The network prefix and 32-byte public key of an SS58 account address, or why it is not one. */
export function ss58Decode(address: string): { prefix: number; publicKey: Buffer } | { problem: string } {
  if (!SS58_RE.test(address)) return { problem: 'not an SS58 address (base58, 46–50 characters)' };
  let raw: Uint8Array;
  try {
    raw = base58.decode(address);
  } catch {
    return { problem: 'not base58' };
  }
  let prefix: number;
  let offset: number;
  if (raw.length === 35) {
    prefix = raw[0]!;
    offset = 1;
  } else if (raw.length === 36 && (raw[0]! & 0x40) !== 0) {
    prefix = ((raw[0]! & 0x3f) << 2) | (raw[1]! >> 6) | ((raw[1]! & 0x3f) << 8);
    offset = 2;
  } else return { problem: 'not a 32-byte account (SS58 of another length)' };
  if (prefix > 63 && offset === 1) return { problem: 'a reserved SS58 prefix' };
  const body = raw.subarray(0, offset + 32);
  const sum = ss58Checksum(body);
  if (sum[0] !== raw[offset + 32] || sum[1] !== raw[offset + 33]) return { problem: 'a wrong SS58 checksum' };
  return { prefix, publicKey: Buffer.from(raw.subarray(offset, offset + 32)) };
}

/**
 * Why `s` (not of the ed25519 scheme) is not an SS58 sr25519 address of prefix 42, or undefined:
 * not SS58 at all, a bad checksum, or another network's prefix (naming the prefix-42 form to use).
 */
export function ss58Problem(s: string): string | undefined {
  const d = ss58Decode(s);
  if ('problem' in d) return d.problem;
  if (d.prefix !== SS58_PREFIX)
    return `an SS58 address of network prefix ${d.prefix}: give the same key in the generic Substrate format, ${ss58Encode(d.publicKey)}`;
  return undefined;
}

/** Why `s` is not an address of either kind (format only), or undefined. */
function formatProblem(s: string): string | undefined {
  if (s.startsWith(ADDRESS_PREFIX)) return ED25519_ADDRESS_RE.test(s) ? undefined : 'expected ed25519:<64 lowercase hex>';
  const problem = ss58Problem(s);
  return problem === undefined ? undefined : `expected ed25519:<64 lowercase hex> or an SS58 sr25519 address (prefix ${SS58_PREFIX}): ${problem}`;
}

/**
 * The address format only: `ed25519:<64 lowercase hex>` or an SS58 address with prefix 42. Right
 * for destinations and identifiers (the treasury included); whether an address can *sign* is
 * `signerKeyProblem` / `isSignerAddress`.
 */
export const isAddress = (s: string): boolean => typeof s === 'string' && formatProblem(s) === undefined;

/** Why `s` is not an address (a message naming the accepted forms), or undefined. */
export const addressProblem = (s: string): string | undefined => formatProblem(s);

export const schemeOf = (address: string): KeyScheme => (address.startsWith(ADDRESS_PREFIX) ? 'ed25519' : 'sr25519');

/** A key file's text: an ed25519 seed (64 hex) or `sr25519:` + a 64-hex mini-secret. */
export const isSeed = (s: string): boolean => HEX64.test(s) || (s.startsWith(SR25519_SEED_PREFIX) && HEX64.test(s.slice(SR25519_SEED_PREFIX.length)));

/** The key pair of a key file's text (`isSeed`): ed25519 for 64 hex, sr25519 for `sr25519:<hex>`. */
export function keyPairFromSeed(seedText: string): KeyPair {
  if (seedText.startsWith(SR25519_SEED_PREFIX)) return sr25519FromMiniSecret(seedText.slice(SR25519_SEED_PREFIX.length));
  if (!HEX64.test(seedText)) throw new Error('ed25519 seed: expected 64 hex characters (or sr25519:<64 hex> for an sr25519 mini-secret)');
  const seed = Buffer.from(seedText, 'hex');
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { address: ADDRESS_PREFIX + spki.subarray(spki.length - 32).toString('hex'), scheme: 'ed25519', privateKey, seed: seed.toString('hex') };
}

/** An sr25519 key from its 32-byte mini-secret (`subkey`'s "secret seed", with or without 0x). */
export function sr25519FromMiniSecret(hex: string): KeyPair {
  const h = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (!HEX64.test(h)) throw new Error('sr25519 secret seed: expected 64 hex characters (0x optional)');
  const secretKey = sr25519.secretFromSeed(Buffer.from(h, 'hex'));
  const address = ss58Encode(sr25519.getPublicKey(secretKey));
  return { address, scheme: 'sr25519', secretKey, seed: SR25519_SEED_PREFIX + h.toLowerCase() };
}

/**
 * The sr25519 key of a BIP-39 mnemonic as Substrate wallets derive it (no derivation path): the
 * mini-secret is the first 32 bytes of PBKDF2-HMAC-SHA512(entropy, "mnemonic" + password, 2048).
 */
export function sr25519FromMnemonic(phrase: string, password = ''): KeyPair {
  const words = phrase.trim().split(/\s+/).join(' ');
  if (!validateMnemonic(words, english)) throw new Error('mnemonic: not a valid BIP-39 English phrase (12–24 words with a correct checksum)');
  const entropy = mnemonicToEntropy(words, english);
  const mini = pbkdf2(sha512, entropy, Buffer.from(`mnemonic${password}`, 'utf8'), { c: 2048, dkLen: 64 }).subarray(0, 32);
  return sr25519FromMiniSecret(Buffer.from(mini).toString('hex'));
}

/** Key generation reads randomness: call it from tools, tests and wiring, never from domain code. */
export function generateKeyPair(scheme: KeyScheme = 'ed25519'): KeyPair {
  if (scheme === 'sr25519') return sr25519FromMiniSecret(randomBytes(32).toString('hex'));
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' }) as { d: string };
  return keyPairFromSeed(Buffer.from(jwk.d, 'base64url').toString('hex'));
}

/** The 32-byte public key of an address of either kind. */
export function publicKeyBytes(address: string): Buffer {
  const problem = formatProblem(address);
  if (problem) throw new Error(`address: ${problem}, got ${JSON.stringify(address)}`);
  if (address.startsWith(ADDRESS_PREFIX)) return Buffer.from(address.slice(ADDRESS_PREFIX.length), 'hex');
  return (ss58Decode(address) as { publicKey: Buffer }).publicKey;
}

/** Signs with the key's scheme. sr25519 signatures are randomized (schnorrkel): two differ, both verify. */
export function signBytes(key: KeyPair, bytes: Uint8Array): Buffer {
  if (key.scheme === 'sr25519') return Buffer.from(sr25519.sign(key.secretKey!, bytes));
  return sign(null, bytes, key.privateKey!);
}

// ---- strict verification ----
//
// ed25519 (RFC 8032 §5.1.7 with the checks of libsodium / ed25519-dalek verify_strict). Node's
// verify (OpenSSL) accepts public keys of small order and non-canonical encodings: under the
// treasury's key (`ed25519:` + 64 zeros, a point of order 4) the constant signature R = 01‖0³¹,
// S = 0 verifies for about one message in four. So before Node's (cofactorless) equation:
//   - the key decodes canonically (y < p, no x = 0 with the sign bit), is on the curve and is not of
//     small order (checked once per address with @noble/curves, cached);
//   - S < L, R is a canonical encoding (y < p) and not a small-order point (bytes only, per signature).
// Of the "Taming the many EdDSAs" vectors (ed25519-speccheck) this accepts only vector 3, like
// libsodium and dalek's verify_strict (fixture: platform auth/ed25519-vectors.json).
// sr25519: @scure/sr25519 (schnorrkel's verify: Ristretto decoding refuses non-canonical points, the
// signature's marker bit is required); the key must decode to a Ristretto point other than identity.

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

/** Accounts that no one holds a key for, with what they are (the platform registers the treasury). */
const KEYLESS = new Map<string, string>();

/** Declares an account keyless: it never signs (`signerKeyProblem` names `what`). */
export function declareKeyless(address: string, what: string): void {
  KEYLESS.set(address, what);
  keyCache.delete(address);
}

interface KeyEntry {
  readonly ed?: KeyObject;
  readonly sr?: Uint8Array;
  readonly problem?: string;
}
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

const shown = (s: string): string => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);

function checkKey(address: string): KeyEntry {
  if (typeof address !== 'string') return { problem: 'an address is a string' };
  const problem = formatProblem(address);
  if (problem) return { problem: `${problem}, got ${shown(address)}` };
  if (KEYLESS.has(address)) return { problem: `${address} is ${KEYLESS.get(address)}: an account without a key, it never signs` };
  const bytes = publicKeyBytes(address);
  if (!address.startsWith(ADDRESS_PREFIX)) {
    try {
      const p = sr25519RistrettoPoint(bytes);
      if (p === 'identity') return { problem: `${address} is the identity point (no private key signs for it)` };
    } catch {
      return { problem: `${address} is not a valid sr25519 public key (not a Ristretto point)` };
    }
    return { sr: bytes };
  }
  const bad = encodingProblem(bytes, 0);
  if (bad) return { problem: `${address} is ${bad}` };
  let point: ReturnType<typeof ed25519.Point.fromBytes>;
  try {
    point = ed25519.Point.fromBytes(bytes, false); // strict RFC 8032 decoding: canonical, on the curve
  } catch {
    return { problem: `${address} is not a point of the ed25519 curve` };
  }
  if (point.isSmallOrder()) return { problem: `${address} is a point of small order (no private key signs for it)` };
  // Parsing a key object costs as much as a verification: that is why entries are cached.
  return { ed: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: bytes.toString('base64url') }, format: 'jwk' }) };
}

function sr25519RistrettoPoint(bytes: Uint8Array): 'identity' | 'point' {
  const p = ristretto255.Point.fromBytes(bytes);
  return p.equals(ristretto255.Point.ZERO) ? 'identity' : 'point';
}

/**
 * Why `address` can never sign (malformed, non-canonical, not on the curve, small order, keyless),
 * or undefined when it is a valid public key of its scheme. Cached per address.
 */
export const signerKeyProblem = (address: string): string | undefined => keyEntry(address).problem;

/** An address that can sign: the format of `isAddress` and a strict public key of its scheme. */
export const isSignerAddress = (address: string): boolean => keyEntry(address).problem === undefined;

/**
 * Strict verification under the address's scheme: false for a key `isSignerAddress` refuses, a
 * signature that is not 64 bytes, (ed25519) S ≥ L, a non-canonical or small-order R, or a failing
 * equation. Never throws.
 */
export function verifyBytes(address: string, bytes: Uint8Array, signature: Uint8Array): boolean {
  const k = keyEntry(address);
  if (k.problem !== undefined || signature.length !== 64) return false;
  if (k.sr) {
    try {
      return sr25519.verify(bytes, signature, k.sr);
    } catch {
      return false;
    }
  }
  if (!lessLE(signature, 32, L_LE, false) || encodingProblem(signature, 0) !== undefined) return false;
  return verify(null, bytes, k.ed!, signature);
}
