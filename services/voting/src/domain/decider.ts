import { blockHeightOf, type Decider, type RecordedEvent } from '@ewx/platform';

export interface VotingState {
  height: number;
}

export function evolve(s: VotingState, e: RecordedEvent): VotingState {
  const h = blockHeightOf(e);
  if (h !== undefined) s.height = h;
  return s;
}

export const votingDecider: Decider<VotingState> = { initialState: () => ({ height: 0 }), evolve };
