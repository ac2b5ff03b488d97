import { encodePosition, type Json, type LogPosition, type RecordedEvent } from '@ewx/platform';

export type ServiceName = 'registry' | 'voting' | 'consensus' | 'rewards' | 'distance';
export const SERVICES: readonly ServiceName[] = ['registry', 'voting', 'consensus', 'rewards', 'distance'];

/**
 * One event as the audit reads it from a log: the service whose log holds it and the row as
 * stored. `position` is the log's own global position (a bigint column in PostgreSQL and PGlite,
 * a decimal string in an export), kept as a bigint here; nothing computes with it.
 */
export interface LogEvent {
  readonly service: ServiceName;
  readonly position: bigint;
  readonly streamId: string;
  readonly version: number;
  readonly type: string;
  readonly data: Json;
  readonly metadata?: Json;
}

/**
 * The event as the services' deciders see it: the position in the store port's serialised form
 * (a non-negative one-component position is its decimal text, which is what encodePosition gives;
 * anything else goes through encodePosition and its checks).
 */
export const asRecorded = (e: LogEvent): RecordedEvent =>
  e.metadata === undefined
    ? { streamId: e.streamId, version: e.version, position: positionText(e.position), type: e.type, data: e.data }
    : { streamId: e.streamId, version: e.version, position: positionText(e.position), type: e.type, data: e.data, metadata: e.metadata };

const positionText = (p: bigint): LogPosition => (typeof p === 'bigint' && p >= 0n ? (p.toString() as LogPosition) : encodePosition([p]));

/** A fact of the log that the rules (or another service's log) contradict. */
export interface Divergence {
  readonly service: ServiceName | 'cross';
  /** Where it shows: the position of the event in `service`'s log (absent for a whole-log finding). */
  readonly position?: bigint;
  /** The stream and version of that event, when there is one. */
  readonly streamId?: string;
  readonly version?: number;
  /** Short id of the check that failed (e.g. `ledger-invariant`, `decision`, `nonce`). */
  readonly check: string;
  readonly message: string;
  /** What the rules give. */
  readonly expected?: string;
  /** What the log says. */
  readonly recorded?: string;
}

/** Something worth knowing that is not a divergence: work still under way at the end of the log, a dissent, an evaluator off the oracle. */
export interface Note {
  readonly service: ServiceName | 'cross';
  readonly position?: bigint;
  readonly kind: string;
  readonly message: string;
}

export interface ServiceSummary {
  readonly service: ServiceName;
  /** A partition log of a partitioned voting (VOTING_PARTITIONS > 1): schema `<service>_p<partition>`. */
  partition?: number;
  events: number;
  /** How many times each check ran. */
  readonly checks: Record<string, number>;
  divergences: number;
  lastPosition: bigint;
}

/** Where an audit's time went, in ms of this thread (signature checks in worker threads: `signatureThreadsMs`, summed over the threads). */
export interface Phases {
  /** Reading rows from the source and decoding them (JSON). */
  read: number;
  /** Handing signatures to the worker threads and waiting for verdicts not in yet, or checking them in this thread. */
  signatures: number;
  /** Replaying the events: the services' deciders and folds, the audit's checks. */
  replay: number;
  /** The checks across services. */
  cross: number;
  signatureThreadsMs: number;
}

export const noPhases = (): Phases => ({ read: 0, signatures: 0, replay: 0, cross: 0, signatureThreadsMs: 0 });

export interface AuditReport {
  readonly source: string;
  readonly services: ServiceSummary[];
  readonly divergences: Divergence[];
  readonly notes: Note[];
  /** Cross-service checks and how many items each covered. */
  readonly cross: Record<string, number>;
  readonly events: number;
  readonly ms: number;
  /**
   * What this audit did not check (e.g. command signatures, with --skip-signatures): a reduced
   * audit. Empty or absent for a full audit.
   */
  readonly reduced?: string[];
  /** Where the time went. */
  readonly phases?: Phases;
  /** Command signatures checked in worker threads (ahead of the replay) and in the main thread. */
  readonly signatureChecks?: { readonly threads: number; readonly ahead: number; readonly inline: number };
  /** Services whose log was replayed in a worker thread, beside the others (AuditOptions.parallel). */
  readonly parallel?: ServiceName[];
}

export interface Progress {
  readonly service: ServiceName;
  readonly phase: 'read' | 'audit';
  readonly done: number;
  readonly total: number;
}
