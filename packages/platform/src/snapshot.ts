import { createHash } from 'node:crypto';
import { deserialize, serialize } from 'node:v8';
import type { EventStore, LogPosition } from './eventstore/types.js';

/**
 * Snapshots of a runtime's folded state (see docs/DEVELOPING.md, "Snapshots").
 *
 * The state is serialised with Node's structured-clone serialiser (`node:v8`): it round-trips
 * Maps and Sets (in insertion order), bigints, typed arrays, Dates, nested and shared objects
 * exactly, and its format is backward compatible (Node documents it as safe to store). It does not
 * keep class instances' prototypes or functions: a state must be plain data (every service's is).
 */
export const serializeState = (value: unknown): Uint8Array => serialize(value);
export const deserializeState = <T>(bytes: Uint8Array): T => deserialize(bytes) as T;

/** One stored snapshot: the state after the event at `position`, by a decider of `version`. */
export interface StoredSnapshot {
  readonly position: LogPosition;
  /** `<decider version>:<shape>`; a start uses only a snapshot of its own. */
  readonly version: string;
  /** Events of the log folded into it (for logs and reports). */
  readonly events: number;
  readonly data: Uint8Array;
}

/** What the SQL adapters offer beside the log (KurrentDB has no snapshots). */
export interface SnapshotStore {
  saveSnapshot(s: StoredSnapshot): Promise<void>;
  /**
   * The newest snapshot (by position) whose position is still an event of this log, of `version`
   * if given; `data` is read only when it is of that version.
   */
  loadSnapshot(version?: string): Promise<StoredSnapshot | undefined>;
}

export const snapshotsOf = (store: EventStore): SnapshotStore | undefined => {
  const s = store as Partial<SnapshotStore>;
  return typeof s.saveSnapshot === 'function' && typeof s.loadSnapshot === 'function' ? (s as SnapshotStore) : undefined;
};

/** Default SNAPSHOT_EVERY: a snapshot every 10,000 events applied (0 = none written nor loaded). */
export const DEFAULT_SNAPSHOT_EVERY = 10_000;
/**
 * Default SNAPSHOT_BYTES_PER_EVENT: after a snapshot of B bytes the next waits for at least
 * B / 256 events (and SNAPSHOT_EVERY), so storing snapshots costs at most ≈ 256 bytes' worth of
 * serialising and writing per event applied, however large the state (0 = by event count only).
 */
export const DEFAULT_SNAPSHOT_BYTES_PER_EVENT = 256;

export interface SnapshotOptions {
  /** Events applied between two snapshots; 0 turns snapshots off (none written, none loaded). */
  readonly every: number;
  /**
   * Spaces snapshots by the state's size: after a snapshot (taken or loaded) of B bytes, the next is
   * taken after max(`every`, ⌈B / bytesPerEvent⌉) events. Bounds the snapshots' cost per event for a
   * large state; the tail replayed after a crash grows with the state, as loading it does. Unset or
   * 0: every `every` events whatever the size.
   */
  readonly bytesPerEvent?: number;
  /**
   * The decider's version: bump it whenever `evolve` or the state's shape changes. Combined with a
   * fingerprint of the initial state's shape, which catches a new or renamed top-level field.
   */
  readonly version: number;
}

/** The version string stored with a snapshot: the decider's version and the shape of its initial state. */
export function snapshotVersion(version: number, initialState: unknown): string {
  const shape = createHash('sha256').update(shapeOf(initialState)).digest('hex').slice(0, 12);
  return `${version}:${shape}`;
}

function shapeOf(v: unknown): string {
  if (v instanceof Map) return 'Map';
  if (v instanceof Set) return 'Set';
  if (Array.isArray(v)) return 'Array';
  if (v instanceof Uint8Array) return 'Bytes';
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${k}:${shapeOf((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return typeof v;
}

/** What the runtime keeps beside the decider's state, so a start from a snapshot decides as one from the log. */
export interface RuntimeImage<S> {
  readonly state: S;
  readonly versions: Map<string, number>;
  readonly nonces: Map<string, bigint>;
  readonly inboxSeen: Map<string, number>;
  readonly inboxTypeSeen: Map<string, number>;
  readonly typeVersions: Map<string, number>;
}

/**
 * The first place where `a` and `b` differ, as a path (`$.rounds.get("x").votes`) with both
 * values, or undefined when they are equal. Strict: the same kinds, Map and Set entries in the same
 * order, object keys in the same order (a key whose value is undefined counts as absent, as in JSON),
 * bigints and bytes by value.
 */
export function firstDifference(a: unknown, b: unknown, path = '$'): { path: string; a: string; b: string } | undefined {
  return differenceAt(a, b, () => path);
}

/** `firstDifference` with the path built only when a difference is found (a large state is compared node by node). */
function differenceAt(a: unknown, b: unknown, at: () => string): { path: string; a: string; b: string } | undefined {
  const brief = (x: unknown): string => {
    const s =
      typeof x === 'bigint'
        ? `${x}n`
        : x instanceof Map
          ? `Map(${x.size})`
          : x instanceof Set
            ? `Set(${x.size})`
            : (() => {
                try {
                  return JSON.stringify(x, (_k, y) => (typeof y === 'bigint' ? `${y}n` : y)) ?? String(x);
                } catch {
                  return String(x);
                }
              })();
    return s.length > 200 ? `${s.slice(0, 200)}…` : s;
  };
  const differ = (p = at()) => ({ path: p, a: brief(a), b: brief(b) });
  if (Object.is(a, b)) return undefined;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return differ();
  const kind = (x: object): string => Object.prototype.toString.call(x);
  if (kind(a) !== kind(b as object)) return differ();
  if (a instanceof Map) {
    const m = b as Map<unknown, unknown>;
    if (a.size !== m.size) return differ(`${at()}.size`);
    const ea = [...a.entries()];
    const eb = [...m.entries()];
    for (let i = 0; i < ea.length; i++) {
      const k = differenceAt(ea[i]![0], eb[i]![0], () => `${at()}.keys[${i}]`);
      if (k) return k;
      const key = ea[i]![0];
      const v = differenceAt(ea[i]![1], eb[i]![1], () => `${at()}.get(${brief(key)})`);
      if (v) return v;
    }
    return undefined;
  }
  if (a instanceof Set) {
    const xa = [...a];
    const xb = [...(b as Set<unknown>)];
    if (xa.length !== xb.length) return differ(`${at()}.size`);
    for (let i = 0; i < xa.length; i++) {
      const d = differenceAt(xa[i], xb[i], () => `${at()}.values[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (ArrayBuffer.isView(a)) {
    const x = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    const y = Buffer.from((b as ArrayBufferView).buffer, (b as ArrayBufferView).byteOffset, (b as ArrayBufferView).byteLength);
    return x.equals(y) ? undefined : differ();
  }
  if (a instanceof Date) return a.getTime() === (b as Date).getTime() ? undefined : differ();
  // A key whose value is undefined counts as absent: JSON (events, their replay) cannot tell them apart.
  const keys = (x: object): string[] => Object.keys(x).filter((k) => (x as Record<string, unknown>)[k] !== undefined || Array.isArray(x));
  const ka = keys(a);
  const kb = keys(b as object);
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return { path: `${at()} (keys)`, a: ka.join(','), b: kb.join(',') };
  for (const k of ka) {
    const d = differenceAt(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
      Array.isArray(a) ? () => `${at()}[${k}]` : () => `${at()}.${k}`,
    );
    if (d) return d;
  }
  return undefined;
}
