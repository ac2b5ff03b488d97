/**
 * Sorts strings in place in the order of `<` (UTF-16 code units, a prefix before its extensions) —
 * the order of `Array.prototype.sort()` without a comparator — by a most-significant-digit radix
 * sort: each string's code units are read about once per distinguishing position instead of once per
 * comparison. Closing a period sorts every operator's address (100,000 keys of 72 characters
 * sharing the `ed25519:` prefix), which a comparison sort spends most of the close on.
 */
export function sortStrings(a: string[]): string[] {
  const order = sortedOrder(a);
  const copy = [...a];
  for (let i = 0; i < order.length; i++) a[i] = copy[order[i]!]!;
  return a;
}

/**
 * The indices of `keys` in the order of `<` of their strings (ties in any order), `keys` untouched:
 * the close builds each operator's row in the state's own order (its maps' insertion order, cheap to
 * walk) and then puts the rows in address order.
 */
export function sortedOrder(keys: readonly string[]): Int32Array {
  const n = keys.length;
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  if (n > 1) msd({ a: [...keys], idx, aux: new Array<string>(n), auxIdx: new Int32Array(n), codes: new Int32Array(n) }, 0, n, 0);
  return idx;
}

/** Strings being sorted and, in lockstep, their original indices. */
interface Work {
  readonly a: string[];
  readonly idx: Int32Array;
  readonly aux: string[];
  readonly auxIdx: Int32Array;
  readonly codes: Int32Array;
}

/** Below this many strings a range is finished with insertion sort. */
const SMALL = 24;
/** Code-unit spans wider than this (e.g. mixed scripts) are left to the built-in sort. */
const MAX_SPAN = 1024;
/** Positions deeper than this (very long shared prefixes) are left to the built-in sort. */
const MAX_DEPTH = 4096;

function msd(w: Work, lo: number, hi: number, depth: number): void {
  const { a, idx, aux, auxIdx, codes } = w;
  for (let d = depth; ; d++) {
    if (hi - lo <= SMALL) {
      insertion(w, lo, hi);
      return;
    }
    if (d > MAX_DEPTH) {
      builtin(w, lo, hi);
      return;
    }
    // Code of each string at d, 0 for a string that ends before d (it sorts first).
    let min = 0x10000;
    let max = 0;
    for (let i = lo; i < hi; i++) {
      const s = a[i]!;
      const c = d < s.length ? s.charCodeAt(d) + 1 : 0;
      codes[i] = c;
      if (c < min) min = c;
      if (c > max) max = c;
    }
    if (min === max) {
      if (min === 0) return; // all equal
      continue; // a shared code unit: look at the next position
    }
    if (max - min > MAX_SPAN) {
      builtin(w, lo, hi);
      return;
    }
    const counts = new Int32Array(max - min + 2);
    for (let i = lo; i < hi; i++) counts[codes[i]! - min + 1]! += 1;
    for (let k = 1; k < counts.length; k++) counts[k]! += counts[k - 1]!;
    // counts[k] is now where bucket k starts (relative to lo).
    const starts = counts.slice();
    for (let i = lo; i < hi; i++) {
      const to = lo + counts[codes[i]! - min]!++;
      aux[to] = a[i]!;
      auxIdx[to] = idx[i]!;
    }
    for (let i = lo; i < hi; i++) {
      a[i] = aux[i]!;
      idx[i] = auxIdx[i]!;
    }
    for (let k = 0; k < starts.length - 1; k++) {
      const from = lo + starts[k]!;
      const to = lo + starts[k + 1]!;
      // Strings that ended before d are equal to each other.
      if (to - from > 1 && !(k === 0 && min === 0)) msd(w, from, to, d + 1);
    }
    return;
  }
}

function insertion({ a, idx }: Work, lo: number, hi: number): void {
  for (let i = lo + 1; i < hi; i++) {
    const x = a[i]!;
    const xi = idx[i]!;
    let j = i - 1;
    while (j >= lo && a[j]! > x) {
      a[j + 1] = a[j]!;
      idx[j + 1] = idx[j]!;
      j--;
    }
    a[j + 1] = x;
    idx[j + 1] = xi;
  }
}

function builtin({ a, idx }: Work, lo: number, hi: number): void {
  const part = Array.from({ length: hi - lo }, (_, i) => lo + i).sort((x, y) => (a[x]! < a[y]! ? -1 : a[x]! > a[y]! ? 1 : 0));
  const strings = part.map((i) => a[i]!);
  const indices = part.map((i) => idx[i]!);
  for (let i = lo; i < hi; i++) {
    a[i] = strings[i - lo]!;
    idx[i] = indices[i - lo]!;
  }
}
