import { deserializeState, firstDifference, snapshotVersion, PUBLISHED, type CommandProof, type Decider, type EventData, type Json } from '@ewx/platform';
import { upcast } from '@ewx/contracts';
import { DEFAULT_BATCH, type LogSource } from './source.js';
import {
  asRecorded,
  type AuditReport,
  type Divergence,
  type LogEvent,
  type Note,
  type Phases,
  type Progress,
  type ServiceName,
  type ServiceSummary,
} from './types.js';
import { commandSignatureValid, type SignatureChecks, type SignatureJob } from './verify.js';

export { commandSignatureValid };

const INBOX_PREFIX = 'inbox:';

/** `{type, data}` as JSON: how the audit compares an event with what the rules give. */
export const canonical = (e: { type: string; data: unknown }): string => JSON.stringify({ type: e.type, data: e.data });

/** What a value is to JSON.stringify, where the audit can compare it without the text; `other` for anything else (then the texts are compared). */
const jsonKind = (x: unknown): 'string' | 'number' | 'boolean' | 'null' | 'array' | 'object' | 'other' => {
  switch (typeof x) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'number':
      return Number.isFinite(x) ? 'number' : 'other';
    case 'object': {
      if (x === null) return 'null';
      if (Array.isArray(x)) return 'array';
      const proto = Object.getPrototypeOf(x);
      return (proto === Object.prototype || proto === null) && typeof (x as { toJSON?: unknown }).toJSON !== 'function' ? 'object' : 'other';
    }
    default:
      return 'other';
  }
};

/**
 * Whether the JSON texts of `a` and `b` are equal, found without writing them: true or false for
 * plain JSON values (objects' keys in order, a key whose value is undefined left out, as
 * JSON.stringify does); undefined when unsure (any other value), and the caller compares the texts.
 */
function sameJson(a: unknown, b: unknown): boolean | undefined {
  const ka = jsonKind(a);
  const kb = jsonKind(b);
  if (ka === 'other' || kb === 'other') return undefined;
  if (ka !== kb) return false;
  if (ka === 'array') {
    const x = a as unknown[];
    const y = b as unknown[];
    if (x.length !== y.length) return false;
    let same: boolean | undefined = true;
    for (let i = 0; i < x.length && same === true; i++) same = sameJson(x[i], y[i]);
    return same;
  }
  if (ka === 'object') {
    const x = a as Record<string, unknown>;
    const y = b as Record<string, unknown>;
    // Fast path: the same keys in the same order, no value JSON leaves out; anything else is settled below.
    const fx = Object.keys(x);
    const fy = Object.keys(y);
    if (fx.length === fy.length) {
      let i = 0;
      for (; i < fx.length; i++) {
        const k = fx[i]!;
        if (k !== fy[i]) break;
        const vx = x[k];
        const vy = y[k];
        const tx = typeof vx;
        const ty = typeof vy;
        if (tx === 'undefined' || tx === 'function' || tx === 'symbol' || ty === 'undefined' || ty === 'function' || ty === 'symbol') break;
        // Both texts have this key at this place, after the same keys: a different value makes them differ.
        const same = sameJson(vx, vy);
        if (same !== true) return same;
      }
      if (i === fx.length) return true;
    }
    const keys = (o: Record<string, unknown>): string[] | undefined => {
      const out: string[] = [];
      for (const k of Object.keys(o)) {
        const t = typeof o[k];
        if (t === 'function' || t === 'symbol') return undefined;
        if (t !== 'undefined') out.push(k);
      }
      return out;
    };
    const kx = keys(x);
    const ky = keys(y);
    if (kx === undefined || ky === undefined) return undefined;
    if (kx.length !== ky.length) return false;
    let same: boolean | undefined = true;
    for (let i = 0; i < kx.length && same === true; i++) same = kx[i] === ky[i] ? sameJson(x[kx[i]!], y[ky[i]!]) : false;
    return same;
  }
  return a === b;
}

/** `canonical(a) === canonical(b)`, mostly without writing the texts (see sameJson). */
export function sameCanonical(a: { type: string; data: unknown }, b: { type: string; data: unknown }): boolean {
  if (typeof a.type === 'string' && typeof b.type === 'string' && a.data !== undefined && b.data !== undefined) {
    if (a.type !== b.type) return false;
    const same = sameJson(a.data, b.data);
    if (same !== undefined) return same;
  }
  return canonical(a) === canonical(b);
}

export const show = (v: unknown): string => {
  const s = typeof v === 'string' ? v : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
  return s.length > 600 ? `${s.slice(0, 600)}… (${s.length} characters)` : s;
};

interface Meta {
  proof?: CommandProof;
  signature?: string;
  signer?: string;
  nonce?: string;
  cosigners?: { signer: string; nonce: string }[];
  /** Several commands in one event (voting's VotesCast): each one's [signer, nonce, signature?], in order. */
  signers?: unknown;
  source?: string;
  sourceStream?: string;
  sourceVersion?: number;
  prevOfType?: number;
}
export const metaOf = (e: LogEvent): Meta => (e.metadata ?? {}) as Meta;
export const isInbox = (e: LogEvent): boolean => e.streamId.startsWith(INBOX_PREFIX);

/** One signer of an event that carries several commands (`metadata.signers`, voting's VotesCast). */
export interface EventSigner {
  readonly signer: string;
  readonly nonce: string;
  readonly signature?: string;
}

/**
 * The well-formed entries of `metadata.signers` ([signer, nonce text, signature?] each), in order;
 * anything else in it is left out (the service's audit reports a malformed list: see votesCastShape).
 */
export function eventSigners(m: { signers?: unknown }): EventSigner[] {
  if (!Array.isArray(m.signers)) return [];
  const out: EventSigner[] = [];
  for (const x of m.signers as unknown[]) {
    if (!Array.isArray(x) || typeof x[0] !== 'string' || typeof x[1] !== 'string') continue;
    out.push(typeof x[2] === 'string' ? { signer: x[0], nonce: x[1], signature: x[2] } : { signer: x[0], nonce: x[1] });
  }
  return out;
}

/** `stream === \`inbox:${source}:${sourceStream}\``, without writing that text (for strings; anything else as the text compares it). */
export function isInboxStreamOf(stream: string, source: unknown, sourceStream: unknown): boolean {
  if (typeof source !== 'string' || typeof sourceStream !== 'string') return stream === `${INBOX_PREFIX}${source}:${sourceStream}`;
  const colon = INBOX_PREFIX.length + source.length;
  return (
    stream.length === colon + 1 + sourceStream.length &&
    stream.startsWith(INBOX_PREFIX) &&
    stream.startsWith(source, INBOX_PREFIX.length) &&
    stream.charCodeAt(colon) === 58 &&
    stream.endsWith(sourceStream)
  );
}

/** Event types other services record through their inbox, by source service: the audit keeps these to compare the copies. */
const CONSUMED: Record<ServiceName, ReadonlySet<string>> = {
  consensus: new Set(Object.values(PUBLISHED.consensus)),
  voting: new Set([
    PUBLISHED.voting.RoundStarted,
    PUBLISHED.voting.RoundSnapshot,
    PUBLISHED.voting.VoteCast,
    PUBLISHED.voting.VotesCast,
    PUBLISHED.voting.RoundClosed,
  ]),
  registry: new Set(Object.values(PUBLISHED.registry)),
  rewards: new Set(Object.values(PUBLISHED.rewards)),
  distance: new Set(Object.values(PUBLISHED.distance)),
};

/**
 * The signatures `checkProof` checks on an own event: the command's and each co-signer's, over the
 * payload its proof keeps (none when the payload is not kept).
 */
export function proofJobs(e: LogEvent): SignatureJob[] {
  if (isInbox(e)) return [];
  const m = metaOf(e);
  const p = m.proof;
  if (m.signer === undefined || m.nonce === undefined || p === undefined || p.payload === undefined) return [];
  const payload = new Uint8Array(Buffer.from(p.payload, 'base64'));
  return [
    { method: p.method, signer: m.signer, nonce: m.nonce, payload, signature: p.signature },
    ...(m.cosigners ?? []).map((c, i): SignatureJob => ({ method: p.method, signer: c.signer, nonce: c.nonce, payload, signature: p.cosignatures?.[i] ?? '' })),
  ];
}

/** An event's type and data, kept as read (compared as values with sameCanonical; written as text only for a divergence). */
export interface Published {
  readonly type: string;
  readonly data: unknown;
}

/** A copy of another service's event in a log's inbox: where it is, and which event of which log it copies. */
export interface Copy {
  readonly service: ServiceName;
  readonly position: bigint;
  readonly source: string;
  readonly sourceStream: string;
  readonly sourceVersion: number;
  readonly event: Published;
  readonly type: string;
}

/** `service|stream|version`: how a published event is named in the report. */
export const copyKey = (c: Pick<Copy, 'source' | 'sourceStream' | 'sourceVersion'>): string => `${c.source}|${c.sourceStream}|${c.sourceVersion}`;

/** Published events by service, then stream (the strings as read: no key text built per event), then version. */
export type PublishedIndex = Map<string, Map<string, (Published | undefined)[]>>;

export const publishedAt = (p: PublishedIndex, service: string, stream: string, version: number): Published | undefined =>
  p.get(service)?.get(stream)?.[version];

export function publish(p: PublishedIndex, service: string, stream: string, version: number, event: Published): void {
  let streams = p.get(service);
  if (streams === undefined) {
    streams = new Map();
    p.set(service, streams);
  }
  let versions = streams.get(stream);
  if (versions === undefined) {
    versions = [];
    streams.set(stream, versions);
  }
  versions[version] = event;
}

/** A run of consecutive copies found equal to their originals as they were read (each counted as one `copies` check). */
export interface CheckedCopies {
  checked: number;
}

/**
 * Records a copy for the cross check. When its source log was replayed already into the same
 * index (`replayed`), it is compared now, while it is at hand: an equal copy is only counted (a
 * run of them is one entry, and the copy is not kept); any other copy is kept and the cross check
 * reports it, at its place among the copies, as it would have.
 */
export function recordCopy(cross: CrossIndex, c: Copy): void {
  if (cross.replayed?.has(c.source as ServiceName) && cross.present.has(c.source as ServiceName)) {
    const original = publishedAt(cross.published, c.source, c.sourceStream, c.sourceVersion);
    if (original !== undefined && sameCanonical(original, c.event)) {
      const last = cross.copies[cross.copies.length - 1];
      if (last !== undefined && 'checked' in last) last.checked++;
      else cross.copies.push({ checked: 1 });
      return;
    }
  }
  cross.copies.push(c);
}

export interface CrossIndex {
  /** The published events (their type and data as read) other services may copy. */
  readonly published: PublishedIndex;
  /** The copies in log order; those already found equal to their originals as runs of counts. */
  readonly copies: (Copy | CheckedCopies)[];
  /** The services whose logs are replayed to the end into `published` (their copies are compared as they are read). */
  readonly replayed?: Set<ServiceName>;
  /** Facts each service's auditor records for the cross checks (see cross.ts). */
  readonly facts: Map<string, unknown>;
  readonly present: Set<ServiceName>;
}

/** What a service's audit hooks get for the event at hand. */
export interface Ctx {
  readonly event: LogEvent;
  diverge(check: string, message: string, values?: { expected?: unknown; recorded?: unknown }, at?: LogEvent): void;
  note(kind: string, message: string, at?: LogEvent): void;
  /** Counts one run of a check, for the summary. */
  count(check: string): void;
  /**
   * The events the rules give for the command that explains the current event: compared one by one
   * with this event and the ones that follow it in the same stream (one append is consecutive).
   */
  expect(check: string, events: readonly EventData[]): void;
  /** The event `k` places after the current one in this log (k ≥ 1), if read already (a look-ahead of thousands). */
  peek(k: number): LogEvent | undefined;
  /** The last accepted nonce of a signer in this log, as the service's runtime keeps it. */
  lastNonce(signer: string): bigint;
  /**
   * Checks a command signature (counted as the check `signature`); undefined when this audit does
   * not check command signatures (a reduced audit, counted as `signature-skipped`; the job may
   * then be left out: see `checkingSignatures`).
   */
  signatureValid(job: SignatureJob | undefined): boolean | undefined;
  /**
   * The same check, its verdict taken when it is in: `report` (which reports the divergence, at
   * this event) runs if the signature is not valid, now or once the worker threads answer; the
   * report keeps the order of a serial audit. Nothing in the replay may depend on the verdict.
   */
  signatureCheck(job: SignatureJob | undefined, report: () => void): void;
  /** Whether this audit checks command signatures (false: a reduced audit, the jobs need not be built). */
  readonly checkingSignatures: boolean;
  /** The hook `signatures` of this service for the current event, as built when they were handed to the worker threads (built now otherwise). */
  serviceSignatures(): SignatureJob[];
  readonly cross: CrossIndex;
}

export interface ServiceAudit<S> {
  readonly service: ServiceName;
  readonly decider: Decider<S>;
  /** The service's STATE_VERSION: a stored snapshot of this version is compared with the replay at its position. */
  readonly stateVersion?: number;
  /** An own (non-inbox) event that no expectation explains yet, before it is applied. */
  own?(e: LogEvent, state: S, ctx: Ctx): void;
  /** Every event, after it is applied. */
  after?(e: LogEvent, state: S, ctx: Ctx): void;
  /** End of the log. */
  finish?(state: S, ctx: Omit<Ctx, 'event' | 'expect' | 'peek'>): void;
  /** The signatures `own` will check on this event (checked ahead, in worker threads); a miss is only slower. */
  signatures?(e: LogEvent): SignatureJob[];
}

export interface RunOptions {
  readonly onProgress?: (p: Progress) => void;
  readonly batchSize?: number;
  /** Events read ahead of the one being checked. */
  readonly lookahead?: number;
  /**
   * Where command signatures are checked (see verify.ts); absent: not checked at all, a reduced
   * audit (the report says so).
   */
  readonly checks?: SignatureChecks;
  /** Time spent per phase (ms), added to. */
  readonly phases?: Phases;
  /**
   * Where the replay leaves the settling of signature verdicts not in yet (their divergences
   * then take their places in the report); absent: settled before auditService returns.
   */
  readonly settleLater?: (() => Promise<void>)[];
}

interface Expectation {
  readonly check: string;
  readonly events: readonly EventData[];
  index: number;
  readonly streamId: string;
  readonly origin: LogEvent;
}

/**
 * Replays one service's log with its own decider and the audit hooks, checking on the way what
 * holds for every log: contiguous stream versions, the per-type chain of own events, increasing
 * nonces per signer, inbox copies recorded once, and that each event applies.
 */
export async function auditService<S>(
  source: LogSource,
  audit: ServiceAudit<S>,
  cross: CrossIndex,
  out: { divergences: Divergence[]; notes: Note[] },
  opts: RunOptions = {},
): Promise<ServiceSummary> {
  const service = audit.service;
  const summary: ServiceSummary = { service, events: 0, checks: {}, divergences: 0, lastPosition: 0n };
  const total = await source.count(service);
  const state = audit.decider.initialState();
  // From this very state (an auditor's initialState may watch the object it returns), before any event.
  const wanted = audit.stateVersion === undefined ? undefined : snapshotVersion(audit.stateVersion, state);
  const versions = new Map<string, number>();
  const typeVersions = new Map<string, number>();
  const inboxSeen = new Map<string, number>();
  const inboxTypeSeen = new Map<string, number>();
  /** Own streams the decider finished (Decider.finishedStreams): the runtime forgets their versions, the checks here keep them. */
  const forgotten = new Set<string>();
  /**
   * Inbox streams the decider finished (Decider.finishedInboxStreams): the runtime forgets their
   * marks for good (later copies into one are not noted), the checks here keep them.
   */
  const forgottenInbox = new Set<string>();
  /** As the runtime keeps them: the signer's nonce of the last event that carried one. */
  const nonces = new Map<string, bigint>();
  /** Per signer: the event that last moved its nonce (several events of one command share it). */
  const lastSigned = new Map<string, { nonce: bigint; streamId: string; version: number }>();
  const consumed = CONSUMED[service];
  let expectation: Expectation | undefined;
  let current!: LogEvent;
  /** The command whose proof was checked last: its later events share signer, nonce and stream. */
  let proven: { signer: string; nonce: string; streamId: string; version: number } | undefined;
  let unproven = 0;
  const methodPrefix = `/ewx.v1.${service[0]!.toUpperCase()}${service.slice(1)}/`;
  let buffer: LogEvent[] = [];
  let at = 0;

  const count = (check: string): void => {
    summary.checks[check] = (summary.checks[check] ?? 0) + 1;
  };
  const diverge = (check: string, message: string, values: { expected?: unknown; recorded?: unknown } = {}, e: LogEvent = current): void => {
    summary.divergences++;
    out.divergences.push({
      service,
      position: e.position,
      streamId: e.streamId,
      version: e.version,
      check,
      message,
      ...(values.expected !== undefined ? { expected: show(values.expected) } : {}),
      ...(values.recorded !== undefined ? { recorded: show(values.recorded) } : {}),
    });
  };
  const note = (kind: string, message: string, e: LogEvent = current): void => {
    out.notes.push({ service, position: e.position, kind, message });
  };
  const checks = opts.checks;
  const signatureValid = (job: SignatureJob | undefined): boolean | undefined => {
    if (!checks) {
      count('signature-skipped');
      return undefined;
    }
    count('signature');
    if (job === undefined) throw new Error('a signature to check was not given');
    return checks.valid(job);
  };
  /** Verdicts not in yet: each holds the place in `out.divergences` (a placeholder) where its divergence, if any, goes. */
  const waiting: { placeholder: Divergence; event: LogEvent; verdict: Promise<boolean>; report: () => void }[] = [];
  const signatureCheck = (job: SignatureJob | undefined, report: () => void): void => {
    if (!checks) {
      count('signature-skipped');
      return;
    }
    count('signature');
    if (job === undefined) throw new Error('a signature to check was not given');
    const v = checks.verdict(job);
    if (v === true) return;
    if (v === false) {
      report();
      return;
    }
    const placeholder: Divergence = { service, check: 'signature', message: '(verdict not in yet)' };
    out.divergences.push(placeholder);
    waiting.push({ placeholder, event: current, verdict: v, report });
  };
  /** Takes the verdicts not in yet, in log order, and puts their divergences in their places. */
  const settle = async (): Promise<void> => {
    if (waiting.length === 0) return;
    const at = new Map<Divergence, Divergence[]>();
    for (const w of waiting) {
      const found: Divergence[] = [];
      if (!(await w.verdict)) {
        current = w.event;
        const before = out.divergences.length;
        w.report();
        found.push(...out.divergences.splice(before));
      }
      at.set(w.placeholder, found);
    }
    waiting.length = 0;
    const all = out.divergences.flatMap((d) => at.get(d) ?? [d]);
    out.divergences.length = 0;
    for (const d of all) out.divergences.push(d);
  };
  /** The jobs built for the worker threads, per event: the replay takes them instead of building them again. */
  const built = new Map<LogEvent, { proof: SignatureJob[]; service: SignatureJob[] }>();
  const base = {
    diverge,
    note,
    count,
    cross,
    signatureValid,
    signatureCheck,
    checkingSignatures: checks !== undefined,
    serviceSignatures: (): SignatureJob[] => built.get(current)?.service ?? (audit.signatures && !isInbox(current) ? audit.signatures(current) : []),
    lastNonce: (signer: string) => nonces.get(signer) ?? 0n,
  };
  const ctx: Ctx = {
    ...base,
    get event() {
      return current;
    },
    expect(check, events) {
      if (events.length === 0) {
        diverge(check, `the rules give no event here (the command is already done or refused), the log has ${current.type}`, { recorded: canonical(current) });
        return;
      }
      expectation = { check, events, index: 0, streamId: current.streamId, origin: current };
    },
    peek: (k) => buffer[at + k],
  };

  const checkNonce = (e: LogEvent, signer: string, nonceText: string, role: string): void => {
    count('nonce');
    let nonce: bigint;
    try {
      nonce = BigInt(nonceText);
    } catch {
      diverge('nonce', `${role} ${signer}: nonce ${JSON.stringify(nonceText)} is not an integer`);
      return;
    }
    const last = lastSigned.get(signer);
    const sameCommand = last !== undefined && last.nonce === nonce && last.streamId === e.streamId && last.version + 1 === e.version;
    if (last !== undefined && nonce <= last.nonce && !sameCommand) {
      diverge('nonce', `${role} ${signer}: nonce ${nonce} does not exceed ${last.nonce}, accepted earlier in this log (a replayed or reordered command)`, {
        expected: `> ${last.nonce}`,
        recorded: nonce.toString(),
      });
    }
    if (nonce < 1n || nonce > 2n ** 53n - 1n) diverge('nonce', `${role} ${signer}: nonce ${nonce} is outside 1 … 2^53 − 1`);
    lastSigned.set(signer, { nonce, streamId: e.streamId, version: e.version });
  };

  /** The command's signatures, from the proof on its first event (see CommandProof in the platform). */
  const checkProof = (e: LogEvent, m: Meta): void => {
    const signer = m.signer!;
    const nonce = m.nonce!;
    if (m.proof === undefined) {
      const sameCommand =
        proven !== undefined && proven.signer === signer && proven.nonce === nonce && proven.streamId === e.streamId && proven.version + 1 === e.version;
      if (sameCommand) proven = { ...proven!, version: e.version };
      else if (m.signature === undefined) unproven++;
      return;
    }
    const p = m.proof;
    proven = { signer, nonce, streamId: e.streamId, version: e.version };
    if (typeof p.method !== 'string' || !p.method.startsWith(methodPrefix))
      diverge('signature', `a ${service} event proven by a command of another service (${JSON.stringify(p.method)})`);
    if (p.payload === undefined) {
      count('signature');
      note(
        'signature',
        `${p.method} by ${signer}: the payload (over ${p.payloadSha256 ? 'the size limit' : 'nothing'}) is not kept, its signature is not checkable`,
      );
      return;
    }
    // The same jobs as were checked ahead (proofJobs), in the same order.
    const [own, ...co] = built.get(e)?.proof ?? proofJobs(e);
    signatureCheck(own!, () =>
      diverge('signature', `${p.method}: the signature is not ${signer}'s over this command (nonce ${nonce})`, { recorded: p.signature }),
    );
    const cos = m.cosigners ?? [];
    if ((p.cosignatures?.length ?? 0) !== cos.length)
      diverge('signature', `${cos.length} co-signer(s) recorded, ${p.cosignatures?.length ?? 0} co-signature(s) in the proof`);
    co.forEach((job, i) => {
      signatureCheck(job, () => diverge('signature', `${p.method}: the co-signature is not ${cos[i]!.signer}'s over this command (nonce ${cos[i]!.nonce})`));
    });
  };

  const step = (e: LogEvent): void => {
    current = e;
    summary.events++;
    summary.lastPosition = e.position;
    // Stream versions: 0, 1, 2 … with nothing missing or repeated.
    count('stream-version');
    const last = versions.get(e.streamId) ?? -1;
    if (e.version !== last + 1) {
      diverge(
        'stream-version',
        e.version <= last
          ? `stream ${e.streamId}: version ${e.version} again (the last was ${last})`
          : `stream ${e.streamId}: version ${e.version} follows ${last}: ${e.version - last - 1} event(s) of this stream are missing`,
        { expected: last + 1, recorded: e.version },
      );
    }
    versions.set(e.streamId, e.version);
    forgotten.delete(e.streamId);
    const m = metaOf(e);
    const inbox = isInbox(e);
    if (inbox) {
      count('inbox-copy');
      if (m.source === undefined || m.sourceStream === undefined || m.sourceVersion === undefined || !isInboxStreamOf(e.streamId, m.source, m.sourceStream)) {
        diverge('inbox-copy', `inbox event without a consistent source (metadata source/sourceStream/sourceVersion and stream ${e.streamId})`, {
          recorded: e.metadata,
        });
      } else {
        const key = `${m.source}|${m.sourceStream}`;
        const seen = inboxSeen.get(key) ?? -1;
        if (m.sourceVersion <= seen)
          diverge(
            'inbox-copy',
            `${m.source} stream ${m.sourceStream} version ${m.sourceVersion} recorded again (already up to ${seen}): an input counted twice`,
          );
        inboxSeen.set(key, Math.max(seen, m.sourceVersion));
        inboxTypeSeen.set(`${key}|${e.type}`, m.sourceVersion);
        recordCopy(cross, {
          service,
          position: e.position,
          source: m.source,
          sourceStream: m.sourceStream,
          sourceVersion: m.sourceVersion,
          event: { type: e.type, data: e.data },
          type: e.type,
        });
      }
    } else {
      const typeKey = `${e.streamId}|${e.type}`;
      if (m.prevOfType !== undefined) {
        count('type-chain');
        const prev = typeVersions.get(typeKey) ?? -1;
        if (m.prevOfType !== prev) {
          diverge(
            'type-chain',
            `stream ${e.streamId}: this ${e.type} names v${m.prevOfType} as the previous ${e.type}, the log has ${prev < 0 ? 'none' : `v${prev}`}`,
            { expected: prev, recorded: m.prevOfType },
          );
        }
      }
      typeVersions.set(typeKey, e.version);
      if (consumed.has(e.type)) publish(cross.published, service, e.streamId, e.version, { type: e.type, data: e.data });
      if (m.signer !== undefined && m.nonce !== undefined) {
        checkNonce(e, m.signer, m.nonce, 'signer');
        checkProof(e, m);
      }
      for (const c of m.cosigners ?? []) checkNonce(e, c.signer, c.nonce, 'co-signer');
      // Several commands in one event (voting's VotesCast): each signer's nonce as a command's of its own.
      if (m.signers !== undefined)
        for (const x of eventSigners(m)) {
          checkNonce(e, x.signer, x.nonce, 'signer');
          if (x.signature === undefined) unproven++;
        }
    }

    let explained = false;
    if (expectation) {
      const x = expectation;
      const want = x.events[x.index]!;
      count('recomputed');
      if (e.streamId !== x.streamId) {
        diverge(
          x.check,
          `the rules give ${x.events.length} event(s) from position ${x.origin.position} in stream ${x.streamId}; the log has ${x.index}, then an event of stream ${e.streamId}`,
          { expected: canonical(want) },
        );
        expectation = undefined;
      } else {
        if (!sameCanonical(want, upcast(e)))
          diverge(x.check, `${e.type} differs from what the rules give`, { expected: canonical(want), recorded: canonical(e) });
        explained = true;
        if (++x.index >= x.events.length) expectation = undefined;
      }
    }
    if (!inbox && !explained && audit.own) {
      try {
        audit.own(e, state, ctx);
      } catch (err) {
        diverge('rules', `recomputing this ${e.type} failed: ${(err as Error).message}`);
        expectation = undefined;
      }
      if (expectation?.origin === e) {
        const x = expectation;
        count('recomputed');
        if (!sameCanonical(x.events[0]!, upcast(e)))
          diverge(x.check, `${e.type} differs from what the rules give`, { expected: canonical(x.events[0]!), recorded: canonical(e) });
        if (++x.index >= x.events.length) expectation = undefined;
      }
    }

    // The runtime's own bookkeeping, then the service's fold.
    if (m.signer !== undefined && m.nonce !== undefined) {
      try {
        nonces.set(m.signer, BigInt(m.nonce));
      } catch {
        /* reported above */
      }
    }
    for (const c of m.cosigners ?? []) {
      try {
        if (BigInt(c.nonce) > (nonces.get(c.signer) ?? 0n)) nonces.set(c.signer, BigInt(c.nonce));
      } catch {
        /* reported */
      }
    }
    if (m.signers !== undefined)
      for (const x of eventSigners(m)) {
        try {
          nonces.set(x.signer, BigInt(x.nonce));
        } catch {
          /* reported above */
        }
      }
    try {
      const recorded = asRecorded(e);
      audit.decider.evolve(state, recorded);
      for (const id of audit.decider.finishedStreams?.(state, recorded) ?? []) if (!id.startsWith('inbox:')) forgotten.add(id);
      for (const id of audit.decider.finishedInboxStreams?.(state, recorded) ?? []) if (id.startsWith('inbox:')) forgottenInbox.add(id);
    } catch (err) {
      diverge('apply', `${e.type} cannot be applied to the state the log builds before it: ${(err as Error).message}`, { recorded: canonical(e) });
    }
    if (snap !== undefined && e.position === snap.position) compareSnapshot(e);
    audit.after?.(e, state, ctx);
    if (ahead) built.delete(e);
  };

  // The newest stored snapshot must equal this replay at its position (a start would use it).
  const stored = await source.snapshot?.(service);
  let snap = stored;
  if (stored !== undefined && stored.version !== wanted) {
    out.notes.push({
      service,
      position: stored.position,
      kind: 'snapshot',
      message: `the newest snapshot (position ${stored.position}) is of version ${stored.version}, this audit's decider is ${wanted ?? 'unversioned'}: not compared (a start of this version ignores it too)`,
    });
    snap = undefined;
  }
  const compareSnapshot = (e: LogEvent): void => {
    count('snapshot');
    // The versions as the runtime keeps them: without the streams it forgot.
    const kept = <V>(m: Map<string, V>, streamOf: (k: string) => string): Map<string, V> =>
      forgotten.size === 0 && forgottenInbox.size === 0 ? m : new Map([...m].filter(([k]) => !forgotten.has(streamOf(k)) && !forgottenInbox.has(streamOf(k))));
    // `source|stream` (and `|type`) of the inbox marks → the inbox stream `inbox:source:stream`.
    const inboxStreamOf = (k: string): string => `inbox:${k.slice(0, k.indexOf('|'))}:${k.slice(k.indexOf('|') + 1)}`;
    const replayed = {
      state,
      versions: kept(versions, (k) => k),
      nonces,
      inboxSeen: kept(inboxSeen, inboxStreamOf),
      inboxTypeSeen: kept(inboxTypeSeen, (k) => inboxStreamOf(k.slice(0, k.lastIndexOf('|')))),
      typeVersions: kept(typeVersions, (k) => k.slice(0, k.lastIndexOf('|'))),
    };
    let image: Record<string, unknown>;
    try {
      image = deserializeState<Record<string, unknown>>(snap!.data);
    } catch (err) {
      diverge('snapshot', `the snapshot stored at this position cannot be read: ${(err as Error).message}`);
      return;
    }
    const d = firstDifference(image, replayed);
    if (d)
      diverge('snapshot', `the snapshot stored at position ${e.position} differs from the replay of the log to it, at ${d.path}`, {
        expected: d.b,
        recorded: d.a,
      });
  };

  const lookahead = opts.lookahead ?? 20_000;
  let done = 0;
  const progress = (): void => opts.onProgress?.({ service, phase: 'audit', done, total });
  const phases = opts.phases;
  let clock = performance.now();
  /** Adds the time since the last call to `phase`. */
  const lap = (phase: keyof Phases): void => {
    const now = performance.now();
    if (phases) phases[phase] += now - clock;
    clock = now;
  };
  // Signatures are checked ahead in worker threads, batch by batch, while the replay goes on (it
  // does not wait for them: no state depends on a verdict); the verdicts are taken at the end, in
  // log order (settle), so the report is the serial one.
  const ahead = checks !== undefined && checks.threads > 0;
  const run = (n: number): void => {
    for (let k = 0; k < n; k++) {
      step(buffer[at]!);
      at++;
      done++;
    }
    lap('replay');
  };
  const reader = source.read(service, opts.batchSize ?? DEFAULT_BATCH)[Symbol.asyncIterator]();
  // The next page is asked for before this one is replayed: a database works on it meanwhile.
  let coming = reader.next();
  for (;;) {
    const next = await coming;
    lap('read');
    if (next.done) break;
    coming = reader.next();
    coming.catch(() => undefined);
    const batch = next.value;
    if (ahead) {
      const jobs: SignatureJob[] = [];
      for (const e of batch) {
        const proof = proofJobs(e);
        const own = audit.signatures && !isInbox(e) ? audit.signatures(e) : [];
        if (proof.length === 0 && own.length === 0) continue;
        built.set(e, { proof, service: own });
        for (const j of proof) jobs.push(j);
        for (const j of own) jobs.push(j);
      }
      checks.prefetch(jobs).catch(() => undefined);
      lap('signatures');
    }
    buffer = at === 0 ? buffer.concat(batch) : buffer.slice(at).concat(batch);
    at = 0;
    if (buffer.length - at > lookahead) run(buffer.length - at - lookahead);
    progress();
  }
  run(buffer.length - at);
  progress();
  if (expectation) {
    const x = expectation;
    diverge(
      x.check,
      `the rules give ${x.events.length} event(s) from position ${x.origin.position}; the log ends after ${x.index}`,
      { expected: canonical(x.events[x.index]!) },
      x.origin,
    );
  }
  if (snap !== undefined && summary.lastPosition < snap.position) {
    summary.divergences++;
    out.divergences.push({
      service,
      position: snap.position,
      check: 'snapshot',
      message: `a snapshot is stored at position ${snap.position}, after the end of the log (${summary.lastPosition}): events it folded are missing`,
    });
  }
  if (unproven > 0)
    note(
      'signature',
      `${unproven} signed command(s) carry no signature in the log (written before commands recorded their proof): their signatures cannot be checked`,
    );
  audit.finish?.(state, base);
  if (opts.settleLater) opts.settleLater.push(settle);
  else {
    await settle();
    lap('signatures');
  }
  return summary;
}

export const newCrossIndex = (): CrossIndex => ({ published: new Map(), copies: [], facts: new Map(), present: new Set() });

/** A fact list kept in the cross index under `name`. */
export function fact<T>(cross: CrossIndex, name: string, make: () => T): T {
  let v = cross.facts.get(name) as T | undefined;
  if (v === undefined) {
    v = make();
    cross.facts.set(name, v);
  }
  return v;
}

export type { AuditReport, Json };
