import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  generateKeyPair,
  isAddress,
  isSeed,
  isSignerAddress,
  keyPairFromSeed,
  publicKeyBytes,
  signBytes,
  signerKeyProblem,
  sr25519FromMiniSecret,
  sr25519FromMnemonic,
  ss58Decode,
  ss58Encode,
  verifyBytes,
} from './keys.js';

/**
 * Published vector: the Substrate `subkey inspect` example (docs.substrate.io, "subkey" reference):
 * the phrase, its secret seed (mini-secret), public key and SS58 address (generic prefix 42).
 */
const SUBKEY = {
  phrase: 'caution juice atom organ advance problem want pledge someone senior holiday very',
  secretSeed: '0xc8fa03532fb22ee1f7f6908b9c02b4e72483f0dbd66e4cd456b8f34c6230b849',
  publicKey: 'd6a3105d6768e956e9e5d41050ac29843f98561410d3a47f9dd5b3b227ab8746',
  ss58: '5Gv8YYFu8H1btvmrJy9FjjAWfb99wrhV3uhPFoNEr918utyR',
};
/** A signature made by `subkey sign` with that key over "test message\n" (another implementation: schnorrkel). */
const SUBKEY_SIGNATURE = '22f91b41ba12f8663ddce26bfc90dbfe6a51683fd3782ad679ab2a5fdbe7d44c2a119f22c74eea22555e5483eb7f42b828f189a38379d59c3b607d2461f0858e';

describe('sr25519 accounts (Energy Web X wallets)', () => {
  test('a known mnemonic derives the published secret seed, public key and SS58 address', () => {
    const k = sr25519FromMnemonic(SUBKEY.phrase);
    assert.equal(k.scheme, 'sr25519');
    assert.equal(k.address, SUBKEY.ss58);
    assert.equal(k.seed, `sr25519:${SUBKEY.secretSeed.slice(2)}`);
    assert.equal(publicKeyBytes(k.address).toString('hex'), SUBKEY.publicKey);
    assert.equal(sr25519FromMiniSecret(SUBKEY.secretSeed).address, SUBKEY.ss58);
    assert.equal(keyPairFromSeed(k.seed).address, SUBKEY.ss58, 'a key file (sr25519:<hex>) gives the same account');
  });

  test('a signature made by subkey verifies; a changed message or byte does not', () => {
    const sig = Buffer.from(SUBKEY_SIGNATURE, 'hex');
    assert.ok(verifyBytes(SUBKEY.ss58, Buffer.from('test message\n'), sig));
    assert.ok(!verifyBytes(SUBKEY.ss58, Buffer.from('test message'), sig));
    const bent = Buffer.from(sig);
    bent[5]! ^= 1;
    assert.ok(!verifyBytes(SUBKEY.ss58, Buffer.from('test message\n'), bent));
    assert.ok(!verifyBytes(generateKeyPair('sr25519').address, Buffer.from('test message\n'), sig), 'another key');
  });

  test('sign and verify round trip; randomized signatures both verify', () => {
    const k = generateKeyPair('sr25519');
    const msg = Buffer.from('ewx/v1/command\n/ewx.v1.Voting/SubmitVote\n');
    const a = signBytes(k, msg);
    const b = signBytes(k, msg);
    assert.equal(a.length, 64);
    assert.notDeepEqual(a, b);
    assert.ok(verifyBytes(k.address, msg, a) && verifyBytes(k.address, msg, b));
    assert.ok(!verifyBytes(k.address, Buffer.concat([msg, Buffer.from('x')]), a));
  });

  test('SS58: the generic prefix only, checksum checked, messages name the fix', () => {
    const pk = Buffer.from(SUBKEY.publicKey, 'hex');
    assert.equal(ss58Encode(pk), SUBKEY.ss58);
    const polkadot = ss58Encode(pk, 0);
    assert.ok(polkadot.startsWith('1'));
    assert.ok(!isAddress(polkadot), 'the same key in Polkadot format is another string: refused, not a second account');
    assert.match(signerKeyProblem(polkadot)!, new RegExp(`network prefix 0.*${SUBKEY.ss58}`));
    const typo = SUBKEY.ss58.slice(0, -1) + (SUBKEY.ss58.endsWith('R') ? 'S' : 'R');
    assert.ok(!isAddress(typo));
    assert.deepEqual(ss58Decode(typo), { problem: 'a wrong SS58 checksum' });
    assert.ok(isAddress(SUBKEY.ss58) && isSignerAddress(SUBKEY.ss58));
    assert.ok(!isAddress(`sr25519:${SUBKEY.publicKey}`), 'no scheme-prefixed hex form for sr25519');
  });

  test('key file text: ed25519 seed or sr25519:<hex>', () => {
    assert.ok(isSeed('ab'.repeat(32)) && isSeed(`sr25519:${'ab'.repeat(32)}`));
    assert.ok(!isSeed(`sr25519:${'ab'.repeat(31)}`) && !isSeed('sr25519:') && !isSeed(SUBKEY.phrase));
    assert.throws(
      () => sr25519FromMnemonic('caution juice atom organ advance problem want pledge someone senior holiday holiday'),
      /mnemonic: not a valid BIP-39/,
    );
  });

  test('ed25519 keys are unchanged (address form, deterministic signature)', () => {
    const k = keyPairFromSeed('11'.repeat(32));
    assert.equal(k.scheme, 'ed25519');
    assert.match(k.address, /^ed25519:[0-9a-f]{64}$/);
    assert.deepEqual(signBytes(k, Buffer.from('x')), signBytes(k, Buffer.from('x')));
    assert.ok(verifyBytes(k.address, Buffer.from('x'), signBytes(k, Buffer.from('x'))));
    assert.ok(!isSignerAddress(`ed25519:${'0'.repeat(64)}`), 'small-order point');
  });
});
