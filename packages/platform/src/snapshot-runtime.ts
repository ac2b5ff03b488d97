import { START, type EventStore, type LogPosition } from './eventstore/types.js';
import type { Logger } from './log.js';
import type { Decider } from './runtime.js';
import { deserializeState, serializeState, snapshotsOf, snapshotVersion, type RuntimeImage, type SnapshotOptions } from './snapshot.js';

export type { SnapshotOptions } from './snapshot.js';

export interface SnapshotHooks<S> {
  /** After each event applied: takes a snapshot every `every` events, or more as the state grows (`bytesPerEvent`; written in the background). */
  applied(): void;
  /** At start, before the replay: the newest compatible snapshot, or undefined (full replay). */
  load(): Promise<(RuntimeImage<S> & { position: LogPosition }) | undefined>;
  /** At a clean stop: waits for a write under way, then stores one at the last position if it moved. */
  final(): Promise<void>;
}

/**
 * The runtime's snapshot duties (runtime.ts calls these three hooks). A write never holds up a
 * command: the state is serialised synchronously between two events (it is updated in place, so it
 * cannot be read later), the store write runs in the background, one at a time, and a failure is
 * logged only. Nothing here changes the state or what a command decides.
 */
export function snapshotRuntime<S>(
  service: string,
  store: EventStore,
  decider: Decider<S>,
  log: Logger,
  opts: SnapshotOptions | undefined,
  image: () => RuntimeImage<S>,
  position: () => LogPosition,
): SnapshotHooks<S> {
  const snaps = snapshotsOf(store);
  if (snaps === undefined || opts === undefined || opts.every <= 0) {
    return { applied: () => undefined, load: async () => undefined, final: async () => undefined };
  }
  const version = snapshotVersion(opts.version, decider.initialState());
  let applied = 0;
  let since = 0;
  /** Events before the next snapshot: `every`, or more after a large one (`bytesPerEvent`). */
  let gap = opts.every;
  const spaceAfter = (bytes: number): void => {
    const per = opts.bytesPerEvent ?? 0;
    gap = per > 0 ? Math.max(opts.every, Math.ceil(bytes / per)) : opts.every;
  };
  let lastAt: LogPosition = START;
  let writing: Promise<void> | undefined;

  const take = (): Promise<void> | undefined => {
    const at = position();
    if (at === lastAt || at === START) return undefined;
    const t0 = performance.now();
    let data: Uint8Array;
    try {
      data = serializeState(image());
    } catch (e) {
      log.warn('snapshot: the state cannot be serialised; none taken', { service, position: at, error: (e as Error).message });
      since = 0;
      return undefined;
    }
    const serializeMs = Math.round(performance.now() - t0);
    lastAt = at;
    since = 0;
    spaceAfter(data.byteLength);
    const events = applied;
    const w = snaps
      .saveSnapshot({ position: at, version, events, data })
      .then(() =>
        log.info('snapshot stored', {
          service,
          position: at,
          version,
          bytes: data.byteLength,
          serializeMs,
          ms: Math.round(performance.now() - t0),
          nextAfterEvents: gap,
        }),
      )
      .catch((e: Error) => log.warn('snapshot: storing failed (the next one is tried later)', { service, position: at, error: e.message }))
      .finally(() => {
        if (writing === w) writing = undefined;
      });
    writing = w;
    return w;
  };

  return {
    applied() {
      applied++;
      if (++since >= gap && writing === undefined) take();
    },
    async load() {
      if (position() !== START) return undefined;
      const t0 = performance.now();
      let snap: Awaited<ReturnType<typeof snaps.loadSnapshot>>;
      try {
        snap = await snaps.loadSnapshot();
        if (snap !== undefined && snap.version !== version) {
          log.info('snapshot ignored: taken by another version of the decider (full replay unless an older one fits)', {
            service,
            position: snap.position,
            stored: snap.version,
            version,
          });
          snap = await snaps.loadSnapshot(version);
        }
      } catch (e) {
        log.warn('snapshot: reading failed; full replay', { service, error: (e as Error).message });
        return undefined;
      }
      if (snap === undefined) return undefined;
      try {
        const img = deserializeState<RuntimeImage<S>>(snap.data);
        for (const k of ['versions', 'nonces', 'inboxSeen', 'inboxTypeSeen', 'typeVersions'] as const) {
          if (!(img[k] instanceof Map)) throw new Error(`${k} is not a Map`);
        }
        if (img.state === undefined || img.state === null) throw new Error('no state');
        applied = snap.events;
        lastAt = snap.position;
        spaceAfter(snap.data.byteLength);
        log.info('state restored from a snapshot', {
          service,
          position: snap.position,
          version,
          events: snap.events,
          bytes: snap.data.byteLength,
          ms: Math.round(performance.now() - t0),
        });
        return { ...img, position: snap.position };
      } catch (e) {
        log.warn('snapshot ignored: unreadable; full replay', { service, position: snap.position, error: (e as Error).message });
        return undefined;
      }
    },
    async final() {
      await writing;
      await take();
    },
  };
}
