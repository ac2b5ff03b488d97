import { blockHeightOf, type Decider, type RecordedEvent } from '@ewx/platform';

export interface DistanceState {
  height: number;
}

export function evolve(s: DistanceState, e: RecordedEvent): DistanceState {
  const h = blockHeightOf(e);
  if (h !== undefined) s.height = h;
  return s;
}

export const distanceDecider: Decider<DistanceState> = { initialState: () => ({ height: 0 }), evolve };
