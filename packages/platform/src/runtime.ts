import { denied, isWrongExpectedVersion, unavailable } from './errors.js';
import { INBOX_PREFIX, type Envelope } from './envelope.js';
import { START, type EventData, type EventStore, type Json, type LogPosition, type RecordedEvent } from './eventstore/types.js';
import type { Logger } from './log.js';
import { appendSpan, commandSpan, countAppended, ingestSpan, recordReplay, stampTrace } from './telemetry/runtime.js';
import { withTraceOf } from './telemetry/trace.js';
import { snapshotRuntime, type SnapshotOptions } from './snapshot-runtime.js';

/** The pure half of a service: its whole state folded from its own log. */
export interface Decider<S> {
  initialState(): S;
  /** May update `state` in place and return it: the runtime owns the state and applies each event once. */
  evolve(state: S, event: RecordedEvent): S;
  /**
   * Optional: the service's own streams that `event` (just folded into `state`) finished — never
   * appended to again. The runtime forgets their versions (`versions`, `typeVersions`, kept per
   * stream and in every snapshot), so they do not grow with finished streams. Nothing depends on
   * the answer being right: an append to a forgotten stream carries expected version "no stream",
   * which the store refuses; the runtime then reads the stream's versions back and decides again.
   * Inbox streams are not named here (see `finishedInboxStreams`).
   */
  finishedStreams?(state: S, event: RecordedEvent): readonly string[] | undefined;
  /**
   * Optional: the inbox streams (`inbox:<source>:<stream>`, copies of another service's stream)
   * that `event` (just folded into `state`) finished — no decision reads their marks again. The
   * runtime forgets their marks (`versions`, and the last source version per stream and per type
   * that deduplicate deliveries and detect gaps), so they do not grow with finished source streams,
   * and a forgotten stream stays forgotten: later copies into it (a source that wrote it again) are
   * recorded but not noted, so the maps are the same whether the log was replayed or lived.
   * Nothing is lost or recorded twice if a forgotten stream's event is delivered again: its copy
   * is appended with expected version "no stream", which the store refuses since the stream
   * exists; the runtime then reads the stream's marks back (for that delivery only) and finds the
   * duplicate. A delivery that looks like a gap in a stream the runtime does not know is checked
   * against the marks read back the same way before it is refused as a gap.
   */
  finishedInboxStreams?(state: S, event: RecordedEvent): readonly string[] | undefined;
}

/** Who signed a command, already verified by the API layer. */
export interface Auth {
  readonly signer: string;
  readonly nonce: bigint;
  /** Further accounts that signed the same command (a worker's consent); their nonces are checked and recorded too. */
  readonly cosigners?: readonly CoSigner[];
}

/** `field` names the request field that carries the co-signature, for error messages. */
export interface CoSigner {
  readonly field: string;
  readonly signer: string;
  readonly nonce: bigint;
}

export interface Runtime<S> {
  readonly service: string;
  readonly store: EventStore;
  state(): S;
  /** Position of the last event applied (`START` before any); opaque, see LogPosition. */
  position(): LogPosition;
  /** Replays the whole log, then follows appends by other processes sharing the store. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Load → decide → append with the expected version → apply. `decide` is pure and may throw a
   * DomainError, which changes nothing. A concurrent writer's conflict is retried on fresh state.
   */
  execute(streamId: string, decide: (state: S) => readonly EventData[], auth?: Auth): Promise<RecordedEvent[]>;
  /** Records another service's event in this log once, whatever the number of deliveries. */
  ingest(envelope: Envelope): Promise<boolean>;
  /**
   * `ingest` of several deliveries in order, with one append per run of consecutive envelopes of
   * one source stream (a source's burst of events costs one transaction, not one each). Says per
   * envelope whether it was recorded (false: a duplicate). `traces[i]`: trace context to record
   * with envelope i (its delivery's). A gap throws after recording the envelopes before it.
   */
  ingestBatch?(envelopes: readonly Envelope[], traces?: readonly (Record<string, string> | undefined)[]): Promise<boolean[]>;
  /** Applied events after start-up (live), for reactions; replays at start do not call it. */
  onEvent(listener: (event: RecordedEvent, state: S) => void): () => void;
  lastNonce(signer: string): bigint;
  /**
   * True once start() has replayed the log: from then on `onEvent` is called for every applied
   * event, synchronously and in log order, after `position()` moved to it (Watch relies on it).
   */
  isLive?(): boolean;
  catchUp(): Promise<void>;
  /**
   * While a reason is set, `execute` refuses every command with UNAVAILABLE and that reason (a
   * service that is starting: its state may still miss other services' events); `undefined`
   * accepts commands again. Queries, which read `state()`, are not affected; neither is `ingest`.
   */
  refuseCommands(reason: string | undefined): void;
}

const MAX_CONFLICT_RETRIES = 20;

/** A forgotten inbox stream's marks read back from the store: its version, last source version, and last source version per type. */
interface Recalled {
  version: number;
  seen: number;
  types: Map<string, number>;
}

/**
 * An inbox delivery that would skip events of a source stream: the transport lost something. The
 * consumer stops there (the delivery is retried, never recorded) instead of moving on.
 */
export class InboxGapError extends Error {
  readonly isInboxGap = true;
  constructor(
    readonly source: string,
    readonly sourceStream: string,
    readonly type: string,
    readonly expectedPrev: number,
    readonly gotPrev: number,
    readonly version: number,
  ) {
    super(
      `inbox: gap in ${source} stream ${sourceStream}: ${type} v${version} follows ${type} v${gotPrev}, but the last recorded ${type} of that stream is ${expectedPrev < 0 ? 'none' : `v${expectedPrev}`}; events were lost in transport — consumption stopped here (restore the source topic or rebuild this service's inbox; see docs/DEVELOPING.md)`,
    );
    this.name = 'InboxGapError';
  }
}
export const isInboxGap = (e: unknown): e is InboxGapError => typeof e === 'object' && e !== null && (e as { isInboxGap?: unknown }).isInboxGap === true;

/** Process-wide count of refused deliveries (gaps), for health and metrics. */
let inboxGapCount = 0;
export const inboxGaps = (): number => inboxGapCount;

export function createRuntime<S>(service: string, store: EventStore, decider: Decider<S>, log: Logger, opts: { snapshots?: SnapshotOptions } = {}): Runtime<S> {
  let state = decider.initialState();
  let pos: LogPosition = START;
  let live = false;
  let stopped = false;
  let follower: Promise<void> | undefined;
  let refusal: string | undefined;
  const versions = new Map<string, number>();
  const nonces = new Map<string, bigint>();
  const inboxSeen = new Map<string, number>();
  /** Last recorded source version per source stream and type (gap check of filtered inboxes). */
  const inboxTypeSeen = new Map<string, number>();
  /** Last version per own stream and type: each appended event records the previous one's. */
  const typeVersions = new Map<string, number>();
  const listeners = new Set<(e: RecordedEvent, s: S) => void>();
  // Forgotten streams (Decider.finishedStreams): the own event types seen, to forget a stream's
  // per-type versions. A forgotten stream another process writes again stays forgotten here (its
  // versions are not noted from those events), so what a snapshot holds never depends on it: our
  // next append to it is refused by the store and reads its versions back.
  const ownTypes = new Set<string>();
  const forget = (streamId: string): void => {
    if (streamId.startsWith(INBOX_PREFIX)) return;
    versions.delete(streamId);
    for (const t of ownTypes) typeVersions.delete(`${streamId}|${t}`);
  };
  // Forgotten inbox streams (Decider.finishedInboxStreams): the inbox event types seen, to forget a
  // stream's per-type marks. A forgotten inbox stream stays forgotten: its events are not noted again.
  const inboxTypes = new Set<string>();
  const forgetsInbox = decider.finishedInboxStreams !== undefined;
  const forgetInbox = (streamId: string): void => {
    if (!streamId.startsWith(INBOX_PREFIX)) return;
    const at = streamId.indexOf(':', INBOX_PREFIX.length);
    if (at < 0) return;
    const key = `${streamId.slice(INBOX_PREFIX.length, at)}|${streamId.slice(at + 1)}`;
    versions.delete(streamId);
    inboxSeen.delete(key);
    for (const t of inboxTypes) inboxTypeSeen.delete(`${key}|${t}`);
  };
  /** An inbox stream whose marks may have been forgotten: read back from the store when a delivery needs them. */
  const mayBeForgotten = (streamId: string): boolean => forgetsInbox && !versions.has(streamId);
  /** A forgotten inbox stream's marks, read back from the store for one delivery (never put back in the maps). */
  const recall = async (streamId: string): Promise<Recalled> => {
    const r: Recalled = { version: -1, seen: -1, types: new Map() };
    for (const e of await store.readStream(streamId)) {
      r.version = e.version;
      const v = (e.metadata as { sourceVersion?: unknown } | null | undefined)?.sourceVersion;
      if (typeof v !== 'number') continue;
      if (v > r.seen) r.seen = v;
      r.types.set(e.type, v);
    }
    return r;
  };
  /** A forgotten own stream's versions, read back from the store. */
  const readBack = async (streamId: string): Promise<void> => {
    if (streamId.startsWith(INBOX_PREFIX)) return;
    for (const e of await store.readStream(streamId)) {
      versions.set(streamId, e.version);
      typeVersions.set(`${streamId}|${e.type}`, e.version);
      ownTypes.add(e.type);
    }
  };
  let chain: Promise<unknown> = Promise.resolve();
  // Snapshots (snapshot-runtime.ts): what the runtime keeps, taken and restored as one image.
  const snaps = snapshotRuntime(
    service,
    store,
    decider,
    log,
    opts.snapshots,
    () => ({ state, versions, nonces, inboxSeen, inboxTypeSeen, typeVersions }),
    () => pos,
  );

  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  };

  const apply = (e: RecordedEvent): void => {
    // An own stream forgotten and written again by another process: left forgotten (see `ownTypes`).
    const inboxCopy = e.streamId.startsWith(INBOX_PREFIX);
    const forgotten = decider.finishedStreams !== undefined && e.version > 0 && !versions.has(e.streamId) && !inboxCopy;
    // A forgotten inbox stream copied into again: recorded, not noted (see finishedInboxStreams).
    const forgottenInbox = forgetsInbox && inboxCopy && e.version > 0 && !versions.has(e.streamId);
    if (!forgotten && !forgottenInbox) versions.set(e.streamId, e.version);
    const m = e.metadata as
      | {
          signer?: string;
          nonce?: string;
          cosigners?: { signer: string; nonce: string }[];
          signers?: [string, string, string?][];
          source?: string;
          sourceStream?: string;
          sourceVersion?: number;
        }
      | undefined;
    if (m?.signer !== undefined && m.nonce !== undefined) nonces.set(m.signer, BigInt(m.nonce));
    // Several commands in one event (voting's VotesCast): each signer's [signer, nonce, signature?].
    if (m?.signers !== undefined) for (const [signer, nonce] of m.signers) nonces.set(signer, BigInt(nonce));
    for (const c of m?.cosigners ?? []) if (BigInt(c.nonce) > (nonces.get(c.signer) ?? 0n)) nonces.set(c.signer, BigInt(c.nonce));
    if (m?.source !== undefined && m.sourceStream !== undefined && m.sourceVersion !== undefined) {
      if (!forgottenInbox) {
        inboxSeen.set(`${m.source}|${m.sourceStream}`, m.sourceVersion);
        inboxTypeSeen.set(`${m.source}|${m.sourceStream}|${e.type}`, m.sourceVersion);
      }
      if (forgetsInbox) inboxTypes.add(e.type);
    } else {
      if (!forgotten) typeVersions.set(`${e.streamId}|${e.type}`, e.version);
      if (decider.finishedStreams) ownTypes.add(e.type);
    }
    state = decider.evolve(state, e);
    if (decider.finishedStreams) for (const id of decider.finishedStreams(state, e) ?? []) forget(id);
    if (decider.finishedInboxStreams) for (const id of decider.finishedInboxStreams(state, e) ?? []) forgetInbox(id);
    pos = e.position;
    snaps.applied();
    // Reactions run in the trace of the event that triggered them.
    if (live && listeners.size > 0)
      withTraceOf(e.metadata, () => {
        for (const l of listeners) l(e, state);
      });
  };

  /** What was folded before start() went live (a command before start() replays too), for the start log. */
  const replay = { events: 0, ms: 0 };
  let restored = false;
  const catchUpUnlocked = async (): Promise<void> => {
    const t0 = live ? 0 : Date.now();
    if (!restored) {
      // The first read of the log (a start, or a command before it) begins at the newest compatible snapshot.
      restored = true;
      const image = await snaps.load();
      if (image) {
        state = image.state;
        for (const [mine, theirs] of [
          [versions, image.versions],
          [inboxSeen, image.inboxSeen],
          [inboxTypeSeen, image.inboxTypeSeen],
          [typeVersions, image.typeVersions],
        ] as const)
          for (const [k, v] of theirs) mine.set(k, v);
        for (const [k, v] of image.nonces) nonces.set(k, v);
        for (const k of typeVersions.keys()) ownTypes.add(k.slice(k.lastIndexOf('|') + 1));
        if (forgetsInbox) for (const k of inboxTypeSeen.keys()) inboxTypes.add(k.slice(k.lastIndexOf('|') + 1));
        pos = image.position;
      }
    }
    for (;;) {
      const batch = await store.readAll(pos, 5000);
      for (const e of batch) apply(e);
      if (!live) replay.events += batch.length;
      if (batch.length < 5000) break;
    }
    if (!live) replay.ms += Date.now() - t0;
  };

  /** Own streams: each event carries the version of the previous event of its type (see Envelope). */
  const withTypeChain = (streamId: string, expected: number, events: readonly EventData[]): readonly EventData[] => {
    if (streamId.startsWith(INBOX_PREFIX)) return events;
    const last = new Map<string, number>();
    return events.map((e, i) => {
      const prevOfType = last.get(e.type) ?? typeVersions.get(`${streamId}|${e.type}`) ?? -1;
      last.set(e.type, expected + 1 + i);
      return { ...e, metadata: { ...((e.metadata as object | null) ?? {}), prevOfType } as Json };
    });
  };

  const appendAndApply = async (streamId: string, decided: readonly EventData[], expected = versions.get(streamId) ?? -1): Promise<RecordedEvent[]> => {
    const events = stampTrace(withTypeChain(streamId, expected, decided));
    const before = pos;
    const r = await appendSpan(service, streamId, events, () =>
      store.append(streamId, events, expected).catch(async (e: unknown) => {
        // Perhaps a forgotten stream (Decider.finishedStreams): its versions read back, the caller decides again.
        if (expected === -1 && decider.finishedStreams && isWrongExpectedVersion(e)) await readBack(streamId);
        throw e;
      }),
    );
    countAppended(service, events);
    const w = r.written;
    if (w !== undefined && w.preceding === before && w.positions.length === events.length) {
      // The store vouches that our events directly follow the last one applied (nobody appended in
      // between): apply them at the positions it gave, without reading them back. Positions are
      // never computed here: they need not be dense, nor unique in any one component.
      const recorded = events.map(
        (e, i): RecordedEvent => ({
          ...e,
          streamId,
          version: expected + 1 + i,
          position: w.positions[i]!,
        }),
      );
      for (const e of recorded) apply(e);
      return recorded;
    }
    await catchUpUnlocked();
    return (await store.readStream(streamId, expected + 1)).slice(0, events.length);
  };

  const runtime: Runtime<S> = {
    service,
    store,
    state: () => state,
    position: () => pos,
    lastNonce: (signer) => nonces.get(signer) ?? 0n,
    catchUp: () => exclusive(catchUpUnlocked),
    async start() {
      await exclusive(catchUpUnlocked);
      live = true;
      log.info('state rebuilt from the log', { service, position: pos, events: replay.events, ms: replay.ms });
      recordReplay(service, replay.events, replay.ms);
      follower = (async () => {
        while (!stopped) {
          await store.waitForAppend(250);
          if (stopped) break;
          await exclusive(catchUpUnlocked).catch((e: Error) => log.warn('follow: catch-up failed', { error: e.message }));
        }
      })();
    },
    async stop() {
      stopped = true;
      await follower;
      await chain;
      await exclusive(() => snaps.final());
    },
    refuseCommands(reason) {
      refusal = reason;
    },
    execute(streamId, decide, auth) {
      if (refusal !== undefined) return Promise.reject(unavailable(refusal));
      return exclusive(() =>
        commandSpan(service, streamId, async () => {
          for (let attempt = 0; ; attempt++) {
            await catchUpUnlocked();
            for (const a of auth ? [auth, ...(auth.cosigners ?? [])] : []) {
              if (a.nonce <= (nonces.get(a.signer) ?? 0n)) {
                throw denied(
                  `${'field' in a ? `${a.field}.` : ''}nonce: ${a.nonce} was already used by ${a.signer} (last accepted ${nonces.get(a.signer)}); use a larger one`,
                );
              }
            }
            const decided = decide(state);
            if (decided.length === 0) return [];
            const events = auth
              ? decided.map((e) => ({
                  ...e,
                  metadata: {
                    ...((e.metadata as object) ?? {}),
                    signer: auth.signer,
                    nonce: auth.nonce.toString(),
                    ...(auth.cosigners?.length ? { cosigners: auth.cosigners.map((c) => ({ signer: c.signer, nonce: c.nonce.toString() })) } : {}),
                  } as Json,
                }))
              : decided;
            try {
              return await appendAndApply(streamId, events);
            } catch (e) {
              if (!isWrongExpectedVersion(e) || attempt >= MAX_CONFLICT_RETRIES) throw e;
            }
          }
        }),
      );
    },
    ingest(env) {
      return exclusive(() =>
        ingestSpan(service, env, async () => {
          const stream = `${INBOX_PREFIX}${env.source}:${env.streamId}`;
          const key = `${env.source}|${env.streamId}`;
          // A forgotten stream's marks, read back for this delivery (finishedInboxStreams).
          let recalled: Recalled | undefined;
          for (let attempt = 0; ; attempt++) {
            await catchUpUnlocked();
            if ((inboxSeen.get(key) ?? recalled?.seen ?? -1) >= env.version) return false;
            if (env.prevOfType !== undefined) {
              const last = inboxTypeSeen.get(`${key}|${env.type}`) ?? recalled?.types.get(env.type) ?? -1;
              if (env.prevOfType !== last) {
                if (recalled === undefined && mayBeForgotten(stream)) {
                  recalled = await recall(stream);
                  continue;
                }
                inboxGapCount++;
                throw new InboxGapError(env.source, env.streamId, env.type, last, env.prevOfType, env.version);
              }
            }
            try {
              await appendAndApply(
                stream,
                [
                  {
                    type: env.type,
                    data: env.data,
                    metadata: { source: env.source, sourceStream: env.streamId, sourceVersion: env.version, sourcePosition: env.position },
                  },
                ],
                versions.get(stream) ?? recalled?.version ?? -1,
              );
              return true;
            } catch (e) {
              // Perhaps a forgotten stream: the store refused "no stream"; its marks are read back.
              if (isWrongExpectedVersion(e) && mayBeForgotten(stream)) recalled = await recall(stream);
              if (!isWrongExpectedVersion(e) || attempt >= MAX_CONFLICT_RETRIES) throw e;
            }
          }
        }),
      );
    },
    ingestBatch(envs, traces) {
      return exclusive(async () => {
        const recorded = envs.map(() => false);
        // Forgotten streams' marks, read back for this call (finishedInboxStreams).
        const recalled = new Map<string, Recalled>();
        for (let attempt = 0; ; attempt++) {
          await catchUpUnlocked();
          try {
            for (let i = 0; i < envs.length; ) {
              const first = envs[i]!;
              const key = `${first.source}|${first.streamId}`;
              const stream = `${INBOX_PREFIX}${first.source}:${first.streamId}`;
              const rec = recalled.get(stream);
              let seen = inboxSeen.get(key) ?? rec?.seen ?? -1;
              const typeSeen = new Map<string, number>();
              const run: EventData[] = [];
              const at: number[] = [];
              let gap: InboxGapError | undefined;
              let readBack = false;
              let j = i;
              for (; j < envs.length && envs[j]!.source === first.source && envs[j]!.streamId === first.streamId; j++) {
                const env = envs[j]!;
                if (seen >= env.version) continue;
                if (env.prevOfType !== undefined) {
                  const last = typeSeen.get(env.type) ?? inboxTypeSeen.get(`${key}|${env.type}`) ?? rec?.types.get(env.type) ?? -1;
                  if (env.prevOfType !== last) {
                    if (rec === undefined && mayBeForgotten(stream)) {
                      readBack = true;
                      break;
                    }
                    inboxGapCount++;
                    gap = new InboxGapError(env.source, env.streamId, env.type, last, env.prevOfType, env.version);
                    break;
                  }
                }
                const trace = traces?.[j];
                run.push({
                  type: env.type,
                  data: env.data,
                  metadata: { source: env.source, sourceStream: env.streamId, sourceVersion: env.version, sourcePosition: env.position, ...trace },
                });
                at.push(j);
                seen = env.version;
                typeSeen.set(env.type, env.version);
              }
              if (readBack) {
                // This run again, against the stream's marks read back from the store.
                recalled.set(stream, await recall(stream));
                continue;
              }
              if (run.length > 0) {
                try {
                  await appendAndApply(stream, run, versions.get(stream) ?? rec?.version ?? -1);
                } catch (e) {
                  // Perhaps a forgotten stream: the store refused "no stream"; its marks are read back.
                  if (isWrongExpectedVersion(e) && mayBeForgotten(stream)) recalled.set(stream, await recall(stream));
                  throw e;
                }
                // Its marks moved on: a later run of it in this call reads them again.
                recalled.delete(stream);
                for (const k of at) recorded[k] = true;
              }
              if (gap) throw gap;
              i = j;
            }
            return recorded;
          } catch (e) {
            if (!isWrongExpectedVersion(e) || attempt >= MAX_CONFLICT_RETRIES) throw e;
          }
        }
      });
    },
    onEvent(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    isLive: () => live,
  };
  return runtime;
}
