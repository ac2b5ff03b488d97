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
   * Inbox streams are never forgotten (their marks guard against applying a delivery twice).
   */
  finishedStreams?(state: S, event: RecordedEvent): readonly string[] | undefined;
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
    const forgotten = decider.finishedStreams !== undefined && e.version > 0 && !versions.has(e.streamId) && !e.streamId.startsWith(INBOX_PREFIX);
    if (!forgotten) versions.set(e.streamId, e.version);
    const m = e.metadata as
      | { signer?: string; nonce?: string; cosigners?: { signer: string; nonce: string }[]; source?: string; sourceStream?: string; sourceVersion?: number }
      | undefined;
    if (m?.signer !== undefined && m.nonce !== undefined) nonces.set(m.signer, BigInt(m.nonce));
    for (const c of m?.cosigners ?? []) if (BigInt(c.nonce) > (nonces.get(c.signer) ?? 0n)) nonces.set(c.signer, BigInt(c.nonce));
    if (m?.source !== undefined && m.sourceStream !== undefined && m.sourceVersion !== undefined) {
      inboxSeen.set(`${m.source}|${m.sourceStream}`, m.sourceVersion);
      inboxTypeSeen.set(`${m.source}|${m.sourceStream}|${e.type}`, m.sourceVersion);
    } else {
      if (!forgotten) typeVersions.set(`${e.streamId}|${e.type}`, e.version);
      if (decider.finishedStreams) ownTypes.add(e.type);
    }
    state = decider.evolve(state, e);
    if (decider.finishedStreams) for (const id of decider.finishedStreams(state, e) ?? []) forget(id);
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

  const appendAndApply = async (streamId: string, decided: readonly EventData[]): Promise<RecordedEvent[]> => {
    const expected = versions.get(streamId) ?? -1;
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
          for (let attempt = 0; ; attempt++) {
            await catchUpUnlocked();
            if ((inboxSeen.get(`${env.source}|${env.streamId}`) ?? -1) >= env.version) return false;
            if (env.prevOfType !== undefined) {
              const last = inboxTypeSeen.get(`${env.source}|${env.streamId}|${env.type}`) ?? -1;
              if (env.prevOfType !== last) {
                inboxGapCount++;
                throw new InboxGapError(env.source, env.streamId, env.type, last, env.prevOfType, env.version);
              }
            }
            try {
              await appendAndApply(`${INBOX_PREFIX}${env.source}:${env.streamId}`, [
                {
                  type: env.type,
                  data: env.data,
                  metadata: { source: env.source, sourceStream: env.streamId, sourceVersion: env.version, sourcePosition: env.position },
                },
              ]);
              return true;
            } catch (e) {
              if (!isWrongExpectedVersion(e) || attempt >= MAX_CONFLICT_RETRIES) throw e;
            }
          }
        }),
      );
    },
    ingestBatch(envs, traces) {
      return exclusive(async () => {
        const recorded = envs.map(() => false);
        for (let attempt = 0; ; attempt++) {
          await catchUpUnlocked();
          try {
            for (let i = 0; i < envs.length; ) {
              const first = envs[i]!;
              const key = `${first.source}|${first.streamId}`;
              let seen = inboxSeen.get(key) ?? -1;
              const typeSeen = new Map<string, number>();
              const run: EventData[] = [];
              const at: number[] = [];
              let gap: InboxGapError | undefined;
              let j = i;
              for (; j < envs.length && envs[j]!.source === first.source && envs[j]!.streamId === first.streamId; j++) {
                const env = envs[j]!;
                if (seen >= env.version) continue;
                if (env.prevOfType !== undefined) {
                  const last = typeSeen.get(env.type) ?? inboxTypeSeen.get(`${key}|${env.type}`) ?? -1;
                  if (env.prevOfType !== last) {
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
              if (run.length > 0) {
                await appendAndApply(`${INBOX_PREFIX}${first.source}:${first.streamId}`, run);
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
