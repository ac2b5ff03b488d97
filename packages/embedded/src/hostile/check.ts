import * as grpc from '@grpc/grpc-js';
import type { KeyPair } from '@ewx/platform';
import { setAt, type MethodInfo } from './schema.js';
import type { Code } from './values.js';
import type { Outcome, World } from './world.js';

/**
 * One hostile call and what must hold of its answer: a status of the right kind (never UNKNOWN,
 * INTERNAL or UNAVAILABLE), a message naming the field, no state change when refused.
 */

const ALLOWED = new Set<grpc.status>([
  grpc.status.OK,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.ALREADY_EXISTS,
  grpc.status.PERMISSION_DENIED,
  grpc.status.UNAUTHENTICATED,
]);

export interface Expectation {
  /** The codes that may refuse it; undefined: OK is fine too. */
  readonly refuse?: readonly Code[];
  /** A refusal's message must name this field (`name:` or `name[i]:`), or match this pattern. */
  readonly names?: string | RegExp;
}

export interface Case {
  readonly method: MethodInfo;
  /** The request before signing. */
  readonly req: Record<string, unknown>;
  readonly signer?: KeyPair;
  readonly nonce?: bigint;
  /** Replaces the signed request before it is sent (to break the signature). */
  readonly tamper?: (signed: Record<string, unknown>) => Record<string, unknown>;
}

/** JSON with control characters escaped (JSON.stringify leaves C1 characters as they are). */
export const show = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? `bytes(${x.length})` : x))?.replace(
    /\p{Cc}/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  ) ?? 'undefined';

/** `name: …`, `a.name: …`, `name[3]: …`, or one of a list of fields `a, name: …` (a pair that names nothing). */
const fieldPattern = (name: string): RegExp => new RegExp(`(^|[^a-z_])${name.replace(/[.[\]]/g, '\\$&')}(\\[\\d+\\])?(, [a-z_.]+)*:`);

/**
 * Unsigned batches of signed items, by `Service/Method`: the repeated field, the method each item
 * is signed for, and the role that signs the items of the baseline.
 */
export const BATCHES: Record<string, { field: string; item: string; signer: keyof World['keys'] }> = {
  'Voting/SubmitVotes': { field: 'votes', item: 'Voting/SubmitVote', signer: 'worker' },
  'Registry/DepositBatch': { field: 'deposits', item: 'Registry/Deposit', signer: 'admin' },
  'Registry/NominateWorkers': { field: 'nominations', item: 'Registry/NominateWorker', signer: 'registrar' },
  'Registry/UnnominateWorkers': { field: 'nominations', item: 'Registry/UnnominateWorker', signer: 'registrar' },
};
export const batchOf = (m: MethodInfo): (typeof BATCHES)[string] | undefined => BATCHES[`${m.service}/${m.name}`];

/** A batch answers OK with a status per item: the first item's status is the answer. */
function effective(m: MethodInfo, o: Outcome): Outcome {
  if (!batchOf(m) || o.code !== grpc.status.OK) return o;
  const r = (o.response as { results: { code: number; message: string }[] }).results[0];
  return r ? { code: r.code, details: r.message } : o;
}

export function buildRequest(w: World, c: Case): unknown {
  const m = c.method;
  let req: Record<string, unknown> = c.req;
  const batch = batchOf(m);
  if (batch) {
    // Each item is signed by its own signer, for the single method.
    const item = w.method(batch.item);
    const by = c.signer ?? w.keys[batch.signer];
    req = { [batch.field]: (req[batch.field] as Record<string, unknown>[]).map((v) => w.sign(item, by, v, c.nonce ?? w.nextNonce(by))) };
    return m.request.fromPartial(c.tamper ? c.tamper(req) : req);
  }
  if (!c.signer) return m.request.fromPartial(req);
  const signed = w.sign(m, c.signer, req, c.nonce ?? w.nextNonce(c.signer)) as Record<string, unknown>;
  return c.tamper ? m.request.fromPartial(c.tamper(signed)) : signed;
}

/** Runs the case; returns what went wrong, or undefined. */
export async function check(w: World, label: string, c: Case, e: Expectation): Promise<string | undefined> {
  // A refused command could only have appended to its own service's log (a distance request also to
  // the registry's, through PlaceHold) before answering; later effects show in the suite's final check.
  const services = c.method.service === 'Distance' ? ['Distance', 'Registry'] : [c.method.service];
  const request = buildRequest(w, c);
  const before = await w.positions(services);
  const raw = await w.call(c.method, request);
  const o = effective(c.method, raw);
  const after = await w.positions(services);
  const changed = Object.keys(after).filter((k) => before[k] !== after[k]);
  const said = `${grpc.status[o.code] ?? o.code} ${show(o.details.length > 200 ? `${o.details.slice(0, 200)}…` : o.details)}`;
  if (!ALLOWED.has(o.code)) return `${label}: answered ${said}`;
  if (o.code === grpc.status.OK) {
    if (e.refuse) return `${label}: accepted, expected ${e.refuse.join('/')}`;
    if (!c.signer && changed.length > 0) return `${label}: a query changed ${changed.join(', ')}`;
    return undefined;
  }
  const problems: string[] = [];
  if (e.refuse && !e.refuse.includes(grpc.status[o.code] as Code)) problems.push(`expected ${e.refuse.join('/')}`);
  if (e.names !== undefined) {
    const p = typeof e.names === 'string' ? fieldPattern(e.names) : e.names;
    if (!p.test(o.details)) problems.push(`message does not name ${String(e.names)}`);
  }
  if (changed.length > 0) problems.push(`refused but changed ${changed.join(', ')}`);
  return problems.length > 0 ? `${label}: answered ${said}; ${problems.join('; ')}` : undefined;
}

export const mutate = (req: Record<string, unknown>, jsPath: readonly string[], value: unknown): Record<string, unknown> =>
  setAt(req, jsPath, value) as Record<string, unknown>;
