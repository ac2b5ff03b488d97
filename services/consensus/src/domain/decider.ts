import { BLOCK_PRODUCED, denied, invalid, precondition, type BlockProduced, type Decider, type EventData, type RecordedEvent } from '@ewx/platform';

export interface ConsensusState {
  height: number;
}

export type ConsensusCommand =
  /** An admin asks for `count` blocks at once; only with a manual block time. */
  | { readonly type: 'ProduceBlocks'; readonly signer: string; readonly admin: string; readonly manual: boolean; readonly count: number }
  /** The block timer's tick: produce the block after `after`, unless someone already did. */
  | { readonly type: 'ProduceNextBlock'; readonly after: number };

export const MAX_BLOCKS_PER_CALL = 10_000;

const block = (height: number): EventData => ({ type: BLOCK_PRODUCED, data: { height } satisfies BlockProduced });

export function decide(c: ConsensusCommand, s: ConsensusState): EventData[] {
  switch (c.type) {
    case 'ProduceBlocks': {
      if (c.signer !== c.admin) throw denied('ProduceBlocks: only the admin account may produce blocks');
      if (!c.manual) throw precondition('ProduceBlocks: the block time is automatic (set BLOCK_TIME_MS=manual to produce blocks by hand)');
      if (!Number.isInteger(c.count) || c.count < 1 || c.count > MAX_BLOCKS_PER_CALL) {
        throw invalid('count', `expected 1 to ${MAX_BLOCKS_PER_CALL} blocks, got ${c.count}`);
      }
      return Array.from({ length: c.count }, (_, i) => block(s.height + 1 + i));
    }
    case 'ProduceNextBlock':
      // Two producers racing for the same height: the loser's retry sees the block and adds none.
      return s.height === c.after ? [block(c.after + 1)] : [];
    default: {
      const never: never = c;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
}

export function evolve(s: ConsensusState, e: RecordedEvent): ConsensusState {
  if (e.type === BLOCK_PRODUCED) s.height = (e.data as unknown as BlockProduced).height;
  return s;
}

export const consensusDecider: Decider<ConsensusState> = { initialState: () => ({ height: 0 }), evolve };
