import {
  channelCredentials,
  eventSourcedService,
  isStartAborted,
  partitionLeases,
  postgresEventStore,
  schemaFor,
  START,
  StartAborted,
  type EventSourcedServiceOptions,
  type EventStore,
  type GrpcService,
  type Runtime,
  type ServiceContext,
  type ServiceInstance,
} from '@ewx/platform';
import type { VotingState } from '../domain/state.js';
import { leaseKeeper } from './leases.js';
import type { PartitionSettings } from './partitions.js';
import { votingRouter, type Route } from './router.js';

/** The category (schema `ewx_<category>`) of partition k's log: `voting_p<k>`, after the namespace if any. */
export const partitionCategory = (namespace: string, k: number): string => `${namespace ? `${namespace}_` : ''}voting_p${k}`;
/** The runtime name of partition k: its inbox consumer group is `ewx-voting_p<k>`, its relay key `voting_p<k>`. */
export const partitionInstance = (k: number): string => `voting_p${k}`;

interface Running {
  readonly service: ServiceInstance & { runtime: Runtime<VotingState> };
  readonly store: EventStore;
  readonly impl: Record<string, (call: never, callback?: never) => void>;
  queryable: boolean;
  /** Aborted when the partition stops here: its watchers go on from PostgreSQL (or its next start here). */
  readonly gone: AbortController;
}

/**
 * Voting split into VOTING_PARTITIONS logs by solution (`partitionOf`), each written by the one
 * replica that holds its lease (PostgreSQL, `ewx_<ns_>voting.partition_leases`); every replica
 * answers the whole gRPC API through `votingRouter`. Each partition is the usual event-sourced
 * service over its own log (schema `ewx_<ns_>voting_p<k>`): its own runtime, snapshots, relay
 * (topic `ewx.voting.events.v1`, key `voting_p<k>`) and inbox (consumer group `ewx-voting_p<k>`,
 * all of registry's, consensus's and rewards' inputs, so a partition log replays alone). Appends to
 * a partition's log check the lease in their transaction (fencing).
 */
export function partitionedVoting(
  ctx: ServiceContext,
  settings: PartitionSettings,
  options: Omit<EventSourcedServiceOptions<VotingState>, 'grpc' | 'instance'> & { grpc: (runtime: Runtime<VotingState>) => GrpcService },
): ServiceInstance {
  const log = ctx.log.child({ service: 'voting', replica: settings.replica });
  const url = ctx.env.str('DATABASE_URL');
  const running = new Map<number, Running>();
  let leases: Awaited<ReturnType<typeof partitionLeases>> | undefined;
  let keeper: ReturnType<typeof leaseKeeper> | undefined;
  /** Partitions being started or stopped here, so a stop waits for a start in flight. */
  const busy = new Map<number, Promise<void>>();
  const serially = (k: number, fn: () => Promise<void>): Promise<void> => {
    const next = (busy.get(k) ?? Promise.resolve()).then(fn, fn);
    busy.set(
      k,
      next.catch(() => undefined),
    );
    return next;
  };
  /**
   * The start of each partition in flight or queued here, aborted by its stop (lease lost, given back,
   * replica stopping): it stops waiting for its consumer group and its inbox catch-up at once.
   */
  const starts = new Map<number, AbortController>();

  const startPartition = (k: number): Promise<void> => {
    const abort = new AbortController();
    starts.set(k, abort);
    return serially(k, async () => {
      if (abort.signal.aborted) {
        log.info('partition start aborted here before it began', { partition: k, why: String(abort.signal.reason) });
        return;
      }
      const store = await postgresEventStore(url, partitionCategory(ctx.namespace, k), 5, {
        // Checked with the epoch held until the lease is released, a give-back included (see `writable`):
        // a partition given back still records the inbox batch and commands in hand while it stops.
        guard: leases!.guard(k, settings.replica, () => keeper?.writable(k)),
      });
      let grpc: GrpcService | undefined;
      const service = eventSourcedService({ ...ctx, store, log }, 'voting', {
        ...options,
        instance: partitionInstance(k),
        grpc: (runtime) => {
          grpc = options.grpc(runtime);
          return [grpc];
        },
      });
      const entry: Running = { service, store, impl: grpc!.implementation as Running['impl'], queryable: false, gone: new AbortController() };
      running.set(k, entry);
      try {
        await service.start({
          queryable: () => {
            entry.queryable = true;
          },
          signal: abort.signal,
        });
        entry.queryable = true;
        log.info('partition serving here', { partition: k, position: service.runtime.position() });
      } catch (e) {
        running.delete(k);
        entry.gone.abort();
        await service.stop().catch(() => undefined);
        await store.close().catch(() => undefined);
        if (isStartAborted(e)) log.info('partition start aborted here: stopped', { partition: k, error: e.message });
        throw e;
      }
    }).finally(() => {
      if (starts.get(k) === abort) starts.delete(k);
    });
  };

  const stopPartition = (k: number, why: 'lost' | 'released' | 'stopping'): Promise<void> => {
    // A start in flight has nothing that must finish: what its inbox recorded is in the log (fenced by
    // owner and epoch), the rest is redelivered to the next owner. It stops waiting now.
    starts
      .get(k)
      ?.abort(
        new Error(why === 'lost' ? 'its lease was lost to another replica' : why === 'released' ? 'its lease is being given back' : 'this replica is stopping'),
      );
    return serially(k, async () => {
      const entry = running.get(k);
      if (!entry) return;
      running.delete(k);
      entry.gone.abort();
      await entry.service.stop();
      await entry.store.close();
      log.info('partition stopped here', { partition: k, why });
    });
  };

  const route = (k: number): Route => {
    const entry = running.get(k);
    if (keeper?.epoch(k) !== undefined) {
      if (entry?.queryable) return { local: entry.impl };
      return { none: `voting partition ${k} is starting on this replica (${settings.replica}): rebuilding its state from its log; retry` };
    }
    const row = keeper?.rows().find((r) => r.partition === k);
    if (row?.owner === settings.replica)
      return {
        none: `voting partition ${k} is moving: being stopped on this replica (${settings.replica}) (its lease given back to balance the replicas, lost, or left by this replica's previous process); retry: its next owner serves it once started`,
      };
    if (row && row.owner !== null && row.live && row.address) return { remote: row.address, owner: row.owner };
    return {
      none: `voting partition ${k} has no live owner now${row?.owner ? ` (replica ${row.owner}'s lease expired)` : ''}: a replica takes it within VOTING_LEASE_MS (${settings.leaseMs} ms); retry`,
    };
  };
  /**
   * Readers of the partition logs for Watch, straight from PostgreSQL (a read needs no lease), opened
   * on the first read: a partition is read only up to what its owner applied, so its schema exists
   * by then (no migration races the owner's).
   */
  const readers = new Map<number, Promise<EventStore>>();
  const readerOf = (k: number): Promise<EventStore> => {
    let r = readers.get(k);
    if (!r) {
      r = postgresEventStore(url, partitionCategory(ctx.namespace, k), 2);
      readers.set(k, r);
      r.catch(() => readers.delete(k));
    }
    return r;
  };
  const router = votingRouter({
    partitions: settings.partitions,
    route,
    replica: settings.replica,
    logs: {
      local: (k) => {
        const entry = running.get(k);
        if (!entry?.queryable || entry.gone.signal.aborted || entry.service.runtime.isLive?.() !== true) return undefined;
        return { runtime: entry.service.runtime, gone: entry.gone.signal };
      },
      reader: (k) => ({ readAll: async (after, limit) => (await readerOf(k)).readAll(after, limit) }),
      name: partitionInstance,
    },
    forwardTimeoutMs: settings.forwardTimeoutMs,
    log,
    credentials: channelCredentials(settings.forwardTls),
    ...(settings.forwardTlsName === undefined ? {} : { tlsName: settings.forwardTlsName }),
  });

  return {
    grpc: [router],
    async start(hooks) {
      // The unsplit log (ctx.store, schema `ewx_<ns_>voting`) stays empty with partitions: events there
      // are an unsplit voting's rounds, which the partitions would not see. Refused until it is split.
      if ((await ctx.store.readAll(START, 1)).length > 0)
        throw new Error(
          `VOTING_PARTITIONS=${settings.partitions}, but voting's unsplit log (schema ${schemaFor(`${ctx.namespace ? `${ctx.namespace}_` : ''}voting`)}) holds events: split it first, with voting stopped (ewx voting split --partitions ${settings.partitions}; docs/OPERATIONS.md, "Scale voting out"), or start with VOTING_PARTITIONS=1`,
        );
      leases = await partitionLeases(url, schemaFor(`${ctx.namespace ? `${ctx.namespace}_` : ''}voting`), settings.partitions);
      await leases.init();
      keeper = leaseKeeper(
        leases,
        { replica: settings.replica, address: settings.address, leaseMs: settings.leaseMs, log },
        { start: (k) => startPartition(k), stop: (k, why) => stopPartition(k, why) },
      );
      log.info('partitioned voting: taking leases', {
        partitions: settings.partitions,
        replica: settings.replica,
        address: settings.address,
        leaseMs: settings.leaseMs,
      });
      await keeper.start();
      await hooks?.queryable?.();
      // Commands are accepted (health SERVING) once the partitions taken at start are started here.
      // Aborted (the process is stopping), the start ends at once: the stop then stops the partitions
      // (each start still in flight aborted, its consumer out of its group) and gives the leases back.
      const signal = hooks?.signal;
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(new StartAborted('while its partitions start', signal!.reason));
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        const done = (): void => signal?.removeEventListener('abort', onAbort);
        Promise.all([...busy.values()]).then(
          () => {
            done();
            resolve();
          },
          (e: unknown) => {
            done();
            reject(e);
          },
        );
      });
    },
    async stop() {
      await keeper?.stop();
      await Promise.all([...busy.values()]);
      router.close();
      await leases?.close();
      for (const r of readers.values()) await r.then((s) => s.close()).catch(() => undefined);
      readers.clear();
    },
  };
}
