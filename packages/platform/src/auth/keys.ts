/**
 * Accounts, keys and signature checks are the client kit's (`@ewx/client`, packages/client/src/keys.ts):
 * one implementation for servers, clients and tests, so they cannot drift. Imported by subpath
 * (`@ewx/client/keys`: node:crypto and the noble/scure libraries only) so domain code loads no gRPC. The platform adds what
 * only the system knows: the accounts no one holds a key for.
 */
import { declareKeyless } from '@ewx/client/keys';
import { REGISTRY_TREASURY } from '../contracts/events.js';

export {
  ADDRESS_PREFIX,
  SS58_PREFIX,
  SMALL_ORDER_Y,
  addressProblem,
  declareKeyless,
  generateKeyPair,
  isAddress,
  isSeed,
  isSignerAddress,
  keyPairFromSeed,
  publicKeyBytes,
  schemeOf,
  signBytes,
  signerKeyProblem,
  sr25519FromMiniSecret,
  sr25519FromMnemonic,
  ss58Decode,
  ss58Encode,
  ss58Problem,
  verifyBytes,
  type KeyPair,
  type KeyScheme,
} from '@ewx/client/keys';
export { signingBytes } from '@ewx/client/signing';

declareKeyless(REGISTRY_TREASURY, 'the registry treasury');
