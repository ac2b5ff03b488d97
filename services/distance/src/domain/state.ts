import { decodeDistanceLog, unhandled, type DistanceEvent } from '@ewx/contracts';
import type { RecordedEvent } from '@ewx/platform/domain';
import type * as E from './events.js';
import { periodOf } from './periods.js';

/** A request from its hold until it is settled (or its hold fails). */
export interface RequestRecord {
  readonly holdId: string;
  readonly identity: number;
  readonly requester: string;
  readonly amount: string;
  /** HOLDING: the hold is being placed; POOLED: it sits in the pool of `evaluationPeriod`. */
  stage: 'HOLDING' | 'POOLED';
  /** The period the request was made in (once POOLED: the one its hold was confirmed in). */
  requestPeriod: number;
  evaluationPeriod?: number;
}

export interface PoolEntry {
  readonly holdId: string;
  readonly identity: number;
  readonly requester: string;
  readonly amount: string;
}

export interface PoolState {
  /** The evaluation period (pool index = evaluationPeriod mod 3). */
  readonly evaluationPeriod: number;
  readonly entries: PoolEntry[];
  /** Accepted results by evaluator, in acceptance order. */
  readonly results: Map<string, readonly number[]>;
  settled: boolean;
  /** The snapshot the pool is evaluated against: web-of-trust version and log position when the period began. */
  wotVersion: number;
  snapshotPosition: string;
}

/** The web of trust as it stood when a period began; entries are immutable and shared. */
export interface WotSnapshot {
  readonly period: number;
  readonly wotVersion: number;
  readonly height: number;
  readonly position: string;
  readonly wot: ReadonlyMap<number, E.WotIdentityData>;
}

export interface DistanceState {
  height: number;
  periodBlocks: number | undefined;
  /** Current web of trust. Identities are never removed; entries are replaced, never mutated. */
  wot: Map<number, E.WotIdentityData>;
  /** +1 per web-of-trust event. */
  wotVersion: number;
  snapshot: WotSnapshot;
  requestSeq: number;
  /** Requests not yet settled, by hold id. */
  readonly requests: Map<string, RequestRecord>;
  readonly pendingByIdentity: Map<number, string>;
  /** Holds being placed, by the period they were requested in (they count against its pool). */
  readonly holding: Map<number, number>;
  /** Pools by evaluation period; settled pools are kept for the last few periods. */
  readonly pools: Map<number, PoolState>;
  /** The last evaluation period whose pool was settled (0: nothing to settle yet). */
  settledThrough: number;
  /**
   * Set by the first run of blocks (BlocksProduced) in the log: from then on, an evaluation period
   * with nothing to settle is passed by the fold (settledThrough moves over it) without a
   * PoolSettled, so idle periods cost the log nothing. Logs without runs settle every period, as
   * they were recorded.
   */
  passIdle: boolean;
  lastResultHeight: number;
  /** Valid identities: the last evaluation period of their validity. */
  readonly validUntil: Map<number, number>;
  readonly lastMedian: Map<number, number>;
  /** The outcome of each identity's last settled evaluation (VALID, INVALID: slashed, NOT_EVALUATED). */
  readonly lastOutcome: Map<number, LastOutcome>;
}

export interface LastOutcome {
  readonly outcome: E.EvaluationSettled['outcome'];
  readonly evaluationPeriod: number;
  readonly reason?: string;
}

/** Settled pools kept for queries; older ones live only in the log. */
export const KEPT_SETTLED_POOLS = 3;

export const initialState = (): DistanceState => ({
  height: 0,
  periodBlocks: undefined,
  wot: new Map(),
  wotVersion: 0,
  snapshot: { period: 0, wotVersion: 0, height: 0, position: '0', wot: new Map() },
  requestSeq: 0,
  requests: new Map(),
  pendingByIdentity: new Map(),
  holding: new Map(),
  pools: new Map(),
  settledThrough: 0,
  passIdle: false,
  lastResultHeight: 0,
  validUntil: new Map(),
  lastMedian: new Map(),
  lastOutcome: new Map(),
});

export const DEFAULT_PERIOD_BLOCKS = 40;
export const currentPeriod = (s: DistanceState): number => periodOf(s.height, s.periodBlocks ?? DEFAULT_PERIOD_BLOCKS);

export function poolFor(s: DistanceState, evaluationPeriod: number): PoolState {
  let p = s.pools.get(evaluationPeriod);
  if (!p) {
    p = { evaluationPeriod, entries: [], results: new Map(), settled: false, wotVersion: -1, snapshotPosition: '' };
    s.pools.set(evaluationPeriod, p);
  }
  return p;
}

const addHolding = (s: DistanceState, period: number, d: number): void => {
  const n = (s.holding.get(period) ?? 0) + d;
  if (n <= 0) s.holding.delete(period);
  else s.holding.set(period, n);
};

/** `position`: the block event's serialised log position (a LogPosition), kept as it is. */
function onBlock(s: DistanceState, height: number, position: string): void {
  s.height = height;
  const p = currentPeriod(s);
  if (p <= s.snapshot.period) return;
  // The web of trust as it stands when period p begins is what its pool is evaluated against.
  const wot = s.wotVersion === s.snapshot.wotVersion ? s.snapshot.wot : new Map(s.wot);
  s.snapshot = { period: p, wotVersion: s.wotVersion, height, position, wot };
  const pool = s.pools.get(p);
  if (pool) {
    pool.wotVersion = s.wotVersion;
    pool.snapshotPosition = s.snapshot.position;
  }
}

/**
 * Moves settledThrough over the due evaluation periods with nothing to settle: no pool requests or
 * results, no holds being placed for its pool, no validity ending with it (what settling them would
 * decide is an empty PoolSettled). Stops at the first period with something to settle, which the
 * reaction settles as before.
 */
function passIdle(s: DistanceState): void {
  const current = currentPeriod(s);
  let firstExpiry = Number.POSITIVE_INFINITY;
  for (const u of s.validUntil.values()) firstExpiry = Math.min(firstExpiry, u);
  for (let q = s.settledThrough + 1; current >= q + 1; q++) {
    const pool = s.pools.get(q);
    if ((pool && (pool.entries.length > 0 || pool.results.size > 0)) || (s.holding.get(q - 1) ?? 0) > 0 || firstExpiry <= q) break;
    s.settledThrough = q;
  }
  // Settled pools are kept for KEPT_SETTLED_POOLS periods, as when each period was settled.
  for (const k of s.pools.keys()) if (k <= s.settledThrough - KEPT_SETTLED_POOLS) s.pools.delete(k);
}

/** A run of blocks: each period that begins inside it begins at its first block, in order, as block by block. */
function onBlocks(s: DistanceState, from: number, to: number, position: string): void {
  const length = s.periodBlocks ?? DEFAULT_PERIOD_BLOCKS;
  for (let p = currentPeriod(s) + 1; p <= periodOf(to, length); p++) onBlock(s, Math.max(from, p * length + 1), position);
  onBlock(s, to, position);
}

function setIdentity(s: DistanceState, idty: E.WotIdentityData): void {
  s.wot.set(idty.id, idty);
}

type WotEvent = Extract<DistanceEvent, { type: 'IdentityAdded' | 'MembershipChanged' | 'CertificationAdded' | 'CertificationRemoved' | 'WotImported' }>;

/** Every web-of-trust change makes a new version of it. */
function evolveWot(s: DistanceState, ev: WotEvent): void {
  switch (ev.type) {
    case 'IdentityAdded':
      setIdentity(s, { id: ev.data.id, member: ev.data.member, certifiedBy: [] });
      break;
    case 'MembershipChanged':
      setIdentity(s, { ...s.wot.get(ev.data.id)!, member: ev.data.member });
      break;
    case 'CertificationAdded': {
      const r = s.wot.get(ev.data.receiver)!;
      setIdentity(s, { ...r, certifiedBy: [...r.certifiedBy, ev.data.issuer] });
      break;
    }
    case 'CertificationRemoved': {
      const r = s.wot.get(ev.data.receiver)!;
      setIdentity(s, { ...r, certifiedBy: r.certifiedBy.filter((i) => i !== ev.data.issuer) });
      break;
    }
    case 'WotImported':
      for (const idty of ev.data.identities) setIdentity(s, { id: idty.id, member: idty.member, certifiedBy: [...idty.certifiedBy] });
      break;
    default:
      unhandled(ev);
  }
  s.wotVersion++;
}

function settle(s: DistanceState, d: E.EvaluationSettled): void {
  const r = s.requests.get(d.holdId);
  if (r?.stage === 'HOLDING') addHolding(s, r.requestPeriod, -1);
  s.requests.delete(d.holdId);
  if (s.pendingByIdentity.get(d.identity) === d.holdId) s.pendingByIdentity.delete(d.identity);
  if (d.median !== undefined) s.lastMedian.set(d.identity, d.median);
  s.lastOutcome.set(d.identity, { outcome: d.outcome, evaluationPeriod: d.evaluationPeriod, ...(d.reason === undefined ? {} : { reason: d.reason }) });
  if (d.outcome === 'VALID' && d.validUntilPeriod !== undefined) s.validUntil.set(d.identity, d.validUntilPeriod);
  // A newer evaluation below the minimum ends an earlier validity; no result changes nothing.
  if (d.outcome === 'INVALID') s.validUntil.delete(d.identity);
}

export function evolve(s: DistanceState, e: RecordedEvent): DistanceState {
  const ev = decodeDistanceLog(e);
  if (!ev) return s;
  switch (ev.type) {
    case 'BlockProduced':
      onBlock(s, ev.data.height, e.position);
      if (s.passIdle) passIdle(s);
      return s;
    case 'BlocksProduced':
      onBlocks(s, ev.data.from, ev.data.to, e.position);
      s.passIdle = true;
      passIdle(s);
      return s;
    case 'IdentityAdded':
    case 'MembershipChanged':
    case 'CertificationAdded':
    case 'CertificationRemoved':
    case 'WotImported':
      evolveWot(s, ev);
      return s;
    case 'DistanceConfigured':
      s.periodBlocks = ev.data.periodBlocks;
      return s;
    case 'HoldRequested': {
      const d = ev.data;
      s.requestSeq++;
      s.requests.set(d.holdId, {
        holdId: d.holdId,
        identity: d.identity,
        requester: d.requester,
        amount: d.amount,
        stage: 'HOLDING',
        requestPeriod: d.requestPeriod,
      });
      s.pendingByIdentity.set(d.identity, d.holdId);
      addHolding(s, d.requestPeriod, 1);
      return s;
    }
    case 'HoldFailed': {
      const d = ev.data;
      const r = s.requests.get(d.holdId);
      if (r) addHolding(s, r.requestPeriod, -1);
      s.requests.delete(d.holdId);
      if (s.pendingByIdentity.get(d.identity) === d.holdId) s.pendingByIdentity.delete(d.identity);
      return s;
    }
    case 'EvaluationRequested': {
      const d = ev.data;
      const r = s.requests.get(d.holdId);
      if (r) {
        addHolding(s, r.requestPeriod, -1);
        r.stage = 'POOLED';
        r.requestPeriod = d.requestPeriod;
        r.evaluationPeriod = d.evaluationPeriod;
      }
      poolFor(s, d.evaluationPeriod).entries.push({ holdId: d.holdId, identity: d.identity, requester: d.requester, amount: d.amount });
      return s;
    }
    case 'ResultPublished': {
      const d = ev.data;
      poolFor(s, d.evaluationPeriod).results.set(d.evaluator, d.values);
      s.lastResultHeight = d.height;
      return s;
    }
    case 'ValidityExpired': {
      const d = ev.data;
      if (s.validUntil.get(d.identity) === d.validUntilPeriod) s.validUntil.delete(d.identity);
      return s;
    }
    case 'EvaluationSettled':
      settle(s, ev.data);
      return s;
    case 'PoolSettled': {
      const d = ev.data;
      s.settledThrough = Math.max(s.settledThrough, d.evaluationPeriod);
      const pool = s.pools.get(d.evaluationPeriod);
      if (pool) pool.settled = true;
      s.pools.delete(d.evaluationPeriod - KEPT_SETTLED_POOLS);
      if (s.passIdle) passIdle(s);
      return s;
    }
    default:
      return unhandled(ev);
  }
}
