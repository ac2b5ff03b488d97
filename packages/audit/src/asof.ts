import { decodeConsensusLog } from '@ewx/contracts';
import { distanceDecider } from '@ewx/distance';
import { identityStatus } from '@ewx/distance/domain/status';
import type { DistanceState } from '@ewx/distance/domain/state';
import { registryDecider, type RegistryState } from '@ewx/registry';
import { accountView, groupView, operatorView } from '@ewx/registry/api/views';
import type { Decider } from '@ewx/platform';
import type { LogSource } from './source.js';
import { asRecorded, type ServiceName } from './types.js';

/** What `asOf` answers: the same views the services' gRPC reads give, as they stood at `height`. */
export interface AsOfQuery {
  readonly group?: string;
  readonly operator?: string;
  readonly identity?: number;
}

/** A service's state after every event recorded at or before block `height` (its log up to the next block). */
async function stateAt<S>(
  source: LogSource,
  service: ServiceName,
  decider: Decider<S>,
  height: number,
): Promise<{ state: S; position: bigint; height: number }> {
  const state = decider.initialState();
  let position = 0n;
  let at = 0;
  for await (const b of source.read(service)) {
    for (const e of b) {
      const block = decodeConsensusLog(e);
      if (block?.type === 'BlockProduced' && block.data.height > height) return { state, position, height: at };
      if (block?.type === 'BlocksProduced' && block.data.from > height) return { state, position, height: at };
      if (block?.type === 'BlocksProduced' && block.data.to > height) {
        // A run of blocks across `height`: its part up to `height` (nothing else happened inside a run).
        decider.evolve(state, { ...asRecorded(e), data: { from: block.data.from, to: height } });
        return { state, position: e.position, height };
      }
      decider.evolve(state, asRecorded(e));
      position = e.position;
      if (block?.type === 'BlockProduced') at = block.data.height;
      if (block?.type === 'BlocksProduced') at = block.data.to;
    }
  }
  return { state, position, height: at };
}

/**
 * As-of reads from the logs: a group, an operator (its ledger account and subscriptions) or a
 * web-of-trust identity as the service saw it at block `height` (replayed with the service's own
 * fold, stopped before the first event of block height + 1). Reads only.
 */
export async function asOf(source: LogSource, height: number, q: AsOfQuery): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { height };
  if (q.group !== undefined || q.operator !== undefined) {
    const r = await stateAt<RegistryState>(source, 'registry', registryDecider, height);
    out.registry = { position: r.position.toString(), recordedHeight: r.height };
    if (q.group !== undefined) out.group = groupView(r.state, q.group) ?? null;
    if (q.operator !== undefined) out.operator = { ...operatorView(r.state, q.operator), account: accountView(r.state, q.operator) };
  }
  if (q.identity !== undefined) {
    const d = await stateAt<DistanceState>(source, 'distance', distanceDecider, height);
    out.distance = { position: d.position.toString(), recordedHeight: d.height };
    out.identity = identityStatus(d.state, q.identity);
  }
  return out;
}
