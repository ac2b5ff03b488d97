import { decodeConsensusLog } from '@ewx/contracts';
import type { RecordedEvent } from './eventstore/types.js';

/**
 * The block clock as every service sees it: consensus's block events, recorded in each service's
 * own log. `BlockProduced {height}` is one block (older logs, the block timer); `BlocksProduced
 * {from, to}` is a run of blocks in one event (ProduceBlocks). Rules counted in blocks read heights
 * from here.
 */
export const BLOCK_PRODUCED = 'BlockProduced';
export const BLOCKS_PRODUCED = 'BlocksProduced';

export interface BlockProduced {
  readonly height: number;
}

export interface BlockRange {
  readonly from: number;
  readonly to: number;
}

/** True for either block event (the trigger of rules counted in blocks). */
export const isBlockEvent = (e: { readonly type: string }): boolean => e.type === BLOCK_PRODUCED || e.type === BLOCKS_PRODUCED;

/** The blocks an event records (one block reads as the run height..height), or undefined. */
export const blockRangeOf = (e: RecordedEvent): BlockRange | undefined => {
  const block = decodeConsensusLog(e);
  if (block?.type === BLOCK_PRODUCED) return { from: block.data.height, to: block.data.height };
  if (block?.type === BLOCKS_PRODUCED) return { from: block.data.from, to: block.data.to };
  return undefined;
};

/** The height after a block event (the last block it records), or undefined. */
export const blockHeightOf = (e: RecordedEvent): number | undefined => blockRangeOf(e)?.to;
