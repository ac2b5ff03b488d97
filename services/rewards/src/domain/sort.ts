/**
 * Sorts strings in place in the order of `<` (UTF-16 code units, a prefix before its extensions) —
 * the order of `Array.prototype.sort()` without a comparator — by a most-significant-digit radix
 * sort: each string's code units are read about once per distinguishing position instead of once per
 * comparison. Closing a period sorts every operator's address (100,000 keys of 72 characters
 * sharing the `ed25519:` prefix), which a comparison sort spends most of the close on.
 */
export function sortStrings(a: string[]): string[] {
  if (a.length > 1) msd(a, new Array<string>(a.length), new Int32Array(a.length), 0, a.length, 0);
  return a;
}

/** Below this many strings a range is finished with insertion sort. */
const SMALL = 24;
/** Code-unit spans wider than this (e.g. mixed scripts) are left to the built-in sort. */
const MAX_SPAN = 1024;
/** Positions deeper than this (very long shared prefixes) are left to the built-in sort. */
const MAX_DEPTH = 4096;

function msd(a: string[], aux: string[], codes: Int32Array, lo: number, hi: number, depth: number): void {
  for (let d = depth; ; d++) {
    if (hi - lo <= SMALL) { insertion(a, lo, hi); return; }
    if (d > MAX_DEPTH) { builtin(a, lo, hi); return; }
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
    if (max - min > MAX_SPAN) { builtin(a, lo, hi); return; }
    const counts = new Int32Array(max - min + 2);
    for (let i = lo; i < hi; i++) counts[codes[i]! - min + 1]! += 1;
    for (let k = 1; k < counts.length; k++) counts[k]! += counts[k - 1]!;
    // counts[k] is now where bucket k starts (relative to lo).
    const starts = counts.slice();
    for (let i = lo; i < hi; i++) aux[lo + counts[codes[i]! - min]!++] = a[i]!;
    for (let i = lo; i < hi; i++) a[i] = aux[i]!;
    for (let k = 0; k < starts.length - 1; k++) {
      const from = lo + starts[k]!;
      const to = lo + starts[k + 1]!;
      // Strings that ended before d are equal to each other.
      if (to - from > 1 && !(k === 0 && min === 0)) msd(a, aux, codes, from, to, d + 1);
    }
    return;
  }
}

function insertion(a: string[], lo: number, hi: number): void {
  for (let i = lo + 1; i < hi; i++) {
    const x = a[i]!;
    let j = i - 1;
    while (j >= lo && a[j]! > x) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = x;
  }
}

function builtin(a: string[], lo: number, hi: number): void {
  const part = a.slice(lo, hi).sort();
  for (let i = lo; i < hi; i++) a[i] = part[i - lo]!;
}
