import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonical, sameCanonical } from './runner.js';

/** A small seeded generator (xorshift32): the same cases on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

test('sameCanonical answers as the comparison of the canonical JSON texts does', () => {
  const r = rng(12);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const leaf = (): unknown =>
    pick<() => unknown>([
      () => pick(['a', 'b', '', '0', 'null']),
      () => pick([0, -0, 1, 2.5, -3]),
      () => pick([true, false]),
      () => null,
      () => undefined,
      () => pick([Number.NaN, Number.POSITIVE_INFINITY]),
      () => new Date(0),
      () => ({ toJSON: () => 'a' }),
    ])();
  const value = (depth: number): unknown => {
    if (depth === 0 || r() < 0.3) return leaf();
    if (r() < 0.5) return Array.from({ length: Math.floor(r() * 3) }, () => value(depth - 1));
    const o: Record<string, unknown> = {};
    for (const k of ['a', 'b', '1', 'c'].filter(() => r() < 0.6)) o[k] = value(depth - 1);
    return o;
  };
  /** A variant: the same value, or one changed a little (a leaf, a key's order, a key made undefined). */
  const vary = (v: unknown): unknown => {
    if (r() < 0.3) return structuredCloneSafe(v);
    if (Array.isArray(v)) return v.map((x) => (r() < 0.3 ? vary(x) : x));
    if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const entries = Object.entries(v as Record<string, unknown>);
      if (r() < 0.2) entries.reverse();
      return Object.fromEntries(entries.map(([k, x]) => [k, r() < 0.2 ? undefined : r() < 0.3 ? vary(x) : x]));
    }
    return r() < 0.5 ? v : leaf();
  };
  let equal = 0;
  let differ = 0;
  for (let i = 0; i < 5000; i++) {
    const a = { type: pick(['A', 'B']), data: value(4) };
    const b = r() < 0.1 ? { type: pick(['A', 'B']), data: a.data } : { type: a.type, data: vary(a.data) };
    const texts = canonical(a) === canonical(b);
    assert.equal(sameCanonical(a, b), texts, `${canonical(a)} vs ${canonical(b)}`);
    if (texts) equal++;
    else differ++;
  }
  assert.ok(equal > 500 && differ > 500, `${equal} equal, ${differ} different`);
});

/** A deep copy that keeps what structuredClone cannot (functions), as the same reference. */
function structuredCloneSafe(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(structuredCloneSafe);
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, structuredCloneSafe(x)]));
  }
  return v;
}
