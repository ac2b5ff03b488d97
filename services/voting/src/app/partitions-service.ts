import { eventSourcedService, type EventSourcedServiceOptions, type ServiceContext, type ServiceInstance } from '@ewx/platform';
import type { VotingState } from '../domain/state.js';
import { partitionedVoting } from './partitioned.js';
import type { PartitionSettings } from './partitions.js';

export { partitionSettingsFrom } from './partitions.js';

/**
 * How voting runs: with one partition (the default), the usual event-sourced service over its one
 * log, exactly as without partitions; with more, `partitionedVoting` (leases, a runtime per
 * partition held, the router answering for all of them).
 */
export const votingServiceFor =
  (ctx: ServiceContext, settings: PartitionSettings) =>
  (o: EventSourcedServiceOptions<VotingState>): ServiceInstance =>
    settings.partitions > 1 ? partitionedVoting(ctx, settings, { ...o, grpc: (runtime) => o.grpc(runtime)[0]! }) : eventSourcedService(ctx, 'voting', o);
