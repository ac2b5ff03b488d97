import { createHash } from 'node:crypto';
import type { Tally } from '@ewx/platform/domain';
import { tallyText } from './tally.js';

export const GENESIS_HASH = '00'.repeat(32);

/** A result chain entry: sha256 over the previous entry's hash, the round, the result and the tally. */
export const chainHash = (prevHash: string, roundId: string, result: string, t: Tally): string =>
  createHash('sha256')
    .update(`ewx/v1/result-chain\n${prevHash}\n${roundId}\n${result}\n${tallyText(t)}`, 'utf8')
    .digest('hex');
