import { positionProgress } from '../eventstore/types.js';
import type { Runtime } from '../runtime.js';

/**
 * The GetStatus every service serves: its log position and the last block it recorded. `log_position`
 * is a uint64: `positionProgress` of the runtime's position (the SQL identity; KurrentDB's commit);
 * `position` the position itself, to resume a Watch from. `counted`: consensus's block timer, the
 * height it counted when it produces (`counted_height`; 0 otherwise and in every other service).
 */
export const serviceStatus =
  <S extends { height: number }>(runtime: Runtime<S>, counted: () => number | undefined = () => undefined) =>
  async () => ({
    service: runtime.service,
    logPosition: positionProgress(runtime.position()),
    height: BigInt(runtime.state().height),
    position: runtime.position() as string,
    // Filled by a partitioned voting only (its router); every other service has one log.
    partitions: [],
    countedHeight: BigInt(counted() ?? 0),
  });
