import { decodeConsensusLog } from '@ewx/contracts';
import type { RecordedEvent } from './eventstore/types.js';

/**
 * The block clock as every service sees it: `BlockProduced` events from the consensus service,
 * recorded in each service's own log. Rules counted in blocks read `height` from here.
 */
export const BLOCK_PRODUCED = 'BlockProduced';

export interface BlockProduced {
  readonly height: number;
}

export const blockHeightOf = (e: RecordedEvent): number | undefined => {
  const block = decodeConsensusLog(e);
  return block?.type === BLOCK_PRODUCED ? block.data.height : undefined;
};
