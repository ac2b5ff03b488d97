/**
 * The web of trust as the distance oracle sees it: a frozen, compact graph.
 *
 * Identities keep their external ids only at the edges (input and output); every
 * computation runs on dense indices 0..n-1 and typed arrays, because the oracle
 * walks ~10^5 certifications thousands of times and object graphs would not fit
 * the time budget.
 */

/** The only `format` string this reader understands (see shared/data/). */
export const WOT_FORMAT = 'ewx-wot/1';

/** One identity as stored in an `ewx-wot/1` file or in the distance service's state. */
export interface WotIdentity {
  readonly id: number;
  readonly member: boolean;
  /** Issuers of the certifications this identity has received (issuer → this identity). */
  readonly certifiedBy: readonly number[];
}

/**
 * Compressed sparse rows in both directions: the fast evaluation pushes referee
 * bits along outgoing edges, the reverse and naive searches walk incoming ones.
 */
export interface WotGraph {
  /** Number of identities. */
  readonly size: number;
  /** Dense index → identity id, in input order. */
  readonly ids: readonly number[];
  /** Identity id → dense index. */
  readonly indexOf: ReadonlyMap<number, number>;
  /** 1 if the identity is a member. */
  readonly member: Uint8Array;
  readonly memberCount: number;
  /** Issuers of v are inSources[inOffsets[v] .. inOffsets[v+1]). */
  readonly inOffsets: Int32Array;
  readonly inSources: Int32Array;
  /** Receivers of u are outTargets[outOffsets[u] .. outOffsets[u+1]). */
  readonly outOffsets: Int32Array;
  readonly outTargets: Int32Array;
}

/** A malformed web of trust; `path` names the offending field, e.g. `identities[12].certifiedBy[3]`. */
export class WotError extends Error {
  readonly code = 'WOT_INVALID';
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(path === '' ? detail : `${path}: ${detail}`);
    this.name = 'WotError';
  }
}

/** Parses the text of an `ewx-wot/1` file; throws WotError naming the first bad field. */
export function parseWot(text: string): WotGraph {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new WotError('', `not valid JSON: ${(err as Error).message}`);
  }
  return graphFromDocument(doc);
}

/** Validates an already-parsed `ewx-wot/1` document and builds its graph. */
export function graphFromDocument(doc: unknown): WotGraph {
  if (!isRecord(doc)) throw new WotError('', `expected a JSON object, got ${describe(doc)}`);
  if (doc.format !== WOT_FORMAT) {
    throw new WotError('format', `expected "${WOT_FORMAT}", got ${describe(doc.format)}`);
  }
  if (!Array.isArray(doc.identities)) {
    throw new WotError('identities', `expected an array, got ${describe(doc.identities)}`);
  }
  return buildGraph(doc.identities as readonly WotIdentity[]);
}

/**
 * Builds the graph from identities in memory (the distance service's own state uses
 * this, files go through parseWot). Everything is re-checked at run time because
 * the input may come from JSON: ids are non-negative safe integers, unique; every
 * issuer is a known identity, at most once per receiver and never the receiver
 * itself (Duniter forbids self-certification, and a duplicate would be counted
 * twice towards the referee threshold).
 */
export function buildGraph(identities: readonly WotIdentity[]): WotGraph {
  const n = identities.length;
  const ids = new Array<number>(n);
  const indexOf = new Map<number, number>();
  const member = new Uint8Array(n);
  let memberCount = 0;
  let edgeCount = 0;
  for (let i = 0; i < n; i++) {
    const idty: unknown = identities[i];
    const at = `identities[${i}]`;
    if (!isRecord(idty)) throw new WotError(at, `expected an object, got ${describe(idty)}`);
    const id = idty.id;
    if (!isIdentityId(id)) {
      throw new WotError(`${at}.id`, `expected a non-negative integer, got ${describe(id)}`);
    }
    const first = indexOf.get(id);
    if (first !== undefined) {
      throw new WotError(`${at}.id`, `duplicate identity id ${id} (first at identities[${first}])`);
    }
    if (typeof idty.member !== 'boolean') {
      throw new WotError(`${at}.member`, `expected a boolean, got ${describe(idty.member)} (id ${id})`);
    }
    if (!Array.isArray(idty.certifiedBy)) {
      throw new WotError(`${at}.certifiedBy`, `expected an array, got ${describe(idty.certifiedBy)} (id ${id})`);
    }
    ids[i] = id;
    indexOf.set(id, i);
    if (idty.member) {
      member[i] = 1;
      memberCount++;
    }
    edgeCount += idty.certifiedBy.length;
  }

  const inOffsets = new Int32Array(n + 1);
  const inSources = new Int32Array(edgeCount);
  const outDegree = new Int32Array(n);
  // lastReceiver[u] = v + 1 once u was seen certifying v: finds duplicates in O(1).
  const lastReceiver = new Int32Array(n);
  let e = 0;
  for (let v = 0; v < n; v++) {
    const issuers = identities[v].certifiedBy;
    for (let j = 0; j < issuers.length; j++) {
      const issuerId: unknown = issuers[j];
      const at = `identities[${v}].certifiedBy[${j}]`;
      if (!isIdentityId(issuerId)) {
        throw new WotError(at, `expected a non-negative integer, got ${describe(issuerId)} (id ${ids[v]})`);
      }
      const u = indexOf.get(issuerId);
      if (u === undefined) throw new WotError(at, `unknown identity id ${issuerId} (id ${ids[v]})`);
      if (u === v) throw new WotError(at, `identity ${issuerId} certifies itself`);
      if (lastReceiver[u] === v + 1) {
        throw new WotError(at, `duplicate certification from ${issuerId} (id ${ids[v]})`);
      }
      lastReceiver[u] = v + 1;
      inSources[e++] = u;
      outDegree[u]++;
    }
    inOffsets[v + 1] = e;
  }

  const outOffsets = new Int32Array(n + 1);
  for (let u = 0; u < n; u++) outOffsets[u + 1] = outOffsets[u] + outDegree[u];
  const outTargets = new Int32Array(edgeCount);
  const fill = outOffsets.slice(0, n);
  for (let v = 0; v < n; v++) {
    for (let k = inOffsets[v]; k < inOffsets[v + 1]; k++) outTargets[fill[inSources[k]]++] = v;
  }

  return { size: n, ids, indexOf, member, memberCount, inOffsets, inSources, outOffsets, outTargets };
}

/** Number of certifications an identity has received. */
export function receivedCount(graph: WotGraph, index: number): number {
  return graph.inOffsets[index + 1] - graph.inOffsets[index];
}

/** Number of certifications an identity has issued. */
export function issuedCount(graph: WotGraph, index: number): number {
  return graph.outOffsets[index + 1] - graph.outOffsets[index];
}

/** Dense indices of the given ids; throws on an unknown id so a caller never gets a silent 0. */
export function indicesOf(graph: WotGraph, ids: readonly number[]): Int32Array {
  const out = new Int32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const index = graph.indexOf.get(ids[i]);
    if (index === undefined) throw new RangeError(`unknown identity id ${ids[i]}`);
    out[i] = index;
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIdentityId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // Nested too deeply to print (String() would recurse as deep): say what it is.
    text = Array.isArray(value) ? 'a deeply nested array' : typeof value === 'object' ? 'a deeply nested object' : typeof value;
  }
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
