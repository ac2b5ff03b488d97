import { isStartAborted, type LeaseRow, type Logger, type PartitionLeases } from '@ewx/platform';

/**
 * What one replica does at a lease tick, given the lease table: keep at most its fair share
 * (ceil(partitions / live replicas)), give back the surplus (highest partitions first), and take
 * free or expired partitions (lowest first) up to the share. A partition leased under its own id
 * that this process does not have in memory (`known`: held, being given back or being stopped) was
 * left by a former process of the same id (a restart under a fixed id such as the pod name): it is
 * taken back at once, with a new epoch that fences that process. Pure: the keeper below acts on it.
 */
export function leasePlan(
  me: string,
  rows: readonly LeaseRow[],
  liveReplicas: number,
  holding: ReadonlySet<number>,
  known: ReadonlySet<number> = holding,
): { release: number[]; acquire: number[]; share: number } {
  const share = Math.ceil(rows.length / Math.max(1, liveReplicas));
  const mine = [...holding].sort((a, b) => a - b);
  const release = mine.length > share ? mine.slice(share).reverse() : [];
  const want = Math.max(0, share - mine.length);
  const acquire = rows
    .filter((r) => !holding.has(r.partition) && !known.has(r.partition) && (r.owner === null || !r.live || r.owner === me))
    .map((r) => r.partition)
    .slice(0, want);
  return { release, acquire, share };
}

export interface HeldPartition {
  readonly epoch: number;
}

/** What the keeper asks of the service: start a partition it took, stop one it gives back or lost. */
export interface PartitionHooks {
  start(k: number, epoch: number): Promise<void>;
  stop(k: number, why: 'lost' | 'released' | 'stopping'): Promise<void>;
}

/**
 * The lease keeper of one replica: every leaseMs / 3 it renews its heartbeat and its leases, starts
 * the partitions it takes and stops the ones it loses or gives back. A partition it gives back is
 * stopped first and released after (its lease renewed meanwhile, its log still written: see
 * `writable`), so its next owner starts only once nothing here writes to it; requests for it are
 * refused (UNAVAILABLE, retry) from the moment the give-back begins. A lost one is forgotten at once
 * (appends then fail the guard).
 */
export function leaseKeeper(
  leases: PartitionLeases,
  o: { replica: string; address: string; leaseMs: number; log: Logger },
  hooks: PartitionHooks,
): {
  /** The epoch of a partition this replica holds and has not begun to give back, else undefined: where requests are routed. */
  epoch(k: number): number | undefined;
  /**
   * The epoch of a partition whose lease this replica still holds, being given back included
   * (until `release`): what its log's appends are checked with (the store's guard; PostgreSQL checks
   * (owner, epoch) again in the append's transaction). A partition given back keeps writing while it
   * stops: a start still in flight is aborted (the service's hook), the inbox batch and the commands
   * in hand are recorded, and its consumer leaves the group, before the lease goes to the next
   * owner. A lost lease is undefined at once.
   */
  writable(k: number): number | undefined;
  /** The latest view of the table (owners and their addresses), refreshed every tick. */
  rows(): readonly LeaseRow[];
  /** One tick now (also what `start` runs first). */
  tick(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
} {
  const held = new Map<number, { epoch: number; releasing: boolean }>();
  let view: readonly LeaseRow[] = [];
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const every = Math.max(100, Math.floor(o.leaseMs / 3));

  const tickOnce = async (): Promise<void> => {
    await leases.heartbeat(o.replica, o.address, o.leaseMs);
    for (const [k, h] of [...held]) {
      if (await leases.renew(k, o.replica, h.epoch, o.leaseMs)) continue;
      held.delete(k);
      o.log.warn('partition lease lost to another replica: stopping it here', { partition: k, epoch: h.epoch });
      void hooks.stop(k, 'lost').catch((e: Error) => o.log.error('partition stop failed', { partition: k, error: e.message }));
    }
    view = await leases.rows();
    if (stopped) return;
    const live = await leases.liveReplicas();
    const holding = new Set([...held].filter(([, h]) => !h.releasing).map(([k]) => k));
    const plan = leasePlan(o.replica, view, live, holding, new Set(held.keys()));
    for (const k of plan.release) {
      const h = held.get(k)!;
      h.releasing = true;
      o.log.info('partition given back to balance the replicas', { partition: k, share: plan.share, replicas: live });
      void hooks
        .stop(k, 'released')
        .then(() => leases.release(k, o.replica, h.epoch))
        .then(() => o.log.info('partition lease released', { partition: k, epoch: h.epoch }))
        .catch((e: Error) => o.log.error('partition release failed (its lease expires instead)', { partition: k, error: e.message }))
        .finally(() => {
          if (held.get(k) === h) held.delete(k);
        });
    }
    for (const k of plan.acquire) {
      const epoch = await leases.acquire(k, o.replica, o.address, o.leaseMs);
      if (epoch === undefined) continue;
      const h = { epoch, releasing: false };
      held.set(k, h);
      o.log.info('partition lease taken: starting it here', { partition: k, epoch });
      void hooks.start(k, epoch).catch(async (e: Error) => {
        // Aborted by its stop (lease lost, given back, replica stopping): that stop releases what is still held.
        if (isStartAborted(e)) return;
        o.log.error('partition start failed: giving its lease back', { partition: k, error: e.message });
        if (held.get(k) === h) held.delete(k);
        await hooks.stop(k, 'released').catch(() => undefined);
        await leases.release(k, o.replica, epoch).catch(() => undefined);
      });
    }
    if (plan.acquire.length > 0) view = await leases.rows();
  };
  const tick = (): Promise<void> => {
    running = running.then(tickOnce, tickOnce).catch((e: Error) => o.log.warn('lease tick failed; retried', { error: e.message }));
    return running;
  };
  const loop = (): void => {
    timer = setTimeout(() => {
      if (stopped) return;
      void tick().finally(() => {
        if (!stopped) loop();
      });
    }, every);
  };
  return {
    epoch: (k) => {
      const h = held.get(k);
      return h === undefined || h.releasing ? undefined : h.epoch;
    },
    writable: (k) => held.get(k)?.epoch,
    rows: () => view,
    tick,
    async start() {
      await tick();
      loop();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      for (const [k, h] of [...held]) {
        h.releasing = true;
        await hooks.stop(k, 'stopping').catch((e: Error) => o.log.error('partition stop failed', { partition: k, error: e.message }));
        await leases.release(k, o.replica, h.epoch).catch(() => undefined);
        held.delete(k);
      }
      await leases.leave(o.replica).catch(() => undefined);
    },
  };
}
