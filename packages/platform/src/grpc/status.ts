import type { Runtime } from '../runtime.js';

/** The GetStatus every service serves: its log position and the last block it recorded. */
export const serviceStatus = <S extends { height: number }>(runtime: Runtime<S>) => async () => ({
  service: runtime.service,
  logPosition: runtime.position(),
  height: BigInt(runtime.state().height),
});
