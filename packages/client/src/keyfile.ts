import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isSeed, keyPairFromSeed, type KeyPair } from './keys.js';
import { fileNonces } from './nonces.js';
import { keySigner, type Signer } from './signing.js';

/**
 * A key file holds the 32-byte ed25519 seed as 64 hex characters and a newline (the format of the
 * embedded mode's admin.key). It is created with mode 0600.
 */
export function readKeyFile(path: string): KeyPair {
  if (!existsSync(path)) throw new Error(`key file not found: ${path}`);
  const text = readFileSync(path, 'utf8').trim();
  if (!isSeed(text)) throw new Error(`key file ${path}: expected 64 hex characters (an ed25519 seed)`);
  return keyPairFromSeed(text);
}

/** Writes a new key file; refuses to overwrite one. */
export function writeKeyFile(path: string, key: KeyPair): void {
  writeFileSync(path, key.seed + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600);
}

/** The signer of a key file, with the nonce kept beside it (`<path>.nonce`). */
export function keyFileSigner(path: string): Signer & { readonly key: KeyPair } {
  const key = readKeyFile(path);
  return { ...keySigner(key, fileNonces(path)), key };
}
