/**
 * The hot loop of the fast evaluation: a multi-source, depth-bounded BFS where each
 * node carries one bit per source ("seed"), so a whole batch of seeds advances one
 * level with a single pass of word-wide ORs over the edges.
 *
 * Choices, all measured on the 12,533-identity Ğ1 graph in Node 20:
 * - 8 words of 32 bits per node (256 seeds per batch), interleaved per node and
 *   unrolled by hand: one cache line fetch serves all 8 words, and V8 keeps the
 *   accumulators in registers. 4 words was ~10 % slower, 16 words and generic
 *   (non-unrolled) word loops were slower still.
 * - Direction-optimizing levels: push from the frontier while it is small, pull
 *   into each node once the frontier touches a third of the edges (pull reads
 *   and writes each node once instead of read-modify-writing it per edge).
 * - Only relays (nodes with an outgoing push edge) take part in the intermediate
 *   levels; the last level is a gather run only for the nodes the caller asked
 *   about, from their neighbours' bits: ~4,000 Ğ1 leaves never need a level.
 */

/** 32-bit words of seed bits per node. The kernels below are unrolled for exactly 8. */
const WORDS = 8;

/** Seeds handled per batch. */
export const BATCH = 32 * WORDS;

/** Push when frontier edges × PUSH_RATIO < all edges, pull otherwise. */
const PUSH_RATIO = 3;

/** One direction of the graph: the neighbours of v are nodes[offsets[v] .. offsets[v+1]). */
export interface Adjacency {
  readonly offsets: Int32Array;
  readonly nodes: Int32Array;
}

/** Buffers and graph views reused by every batch of one evaluation. */
export interface Spreader {
  /** Edges the seed bits travel along. */
  readonly push: Adjacency;
  /** The same edges, reversed. */
  readonly pull: Adjacency;
  /** Nodes with at least one push edge: the only ones whose bits are ever read. */
  readonly relays: Int32Array;
  readonly reached: Int32Array;
  front: Int32Array;
  next: Int32Array;
}

export function createSpreader(push: Adjacency, pull: Adjacency): Spreader {
  const size = push.offsets.length - 1;
  let count = 0;
  for (let v = 0; v < size; v++) if (push.offsets[v + 1] > push.offsets[v]) count++;
  const relays = new Int32Array(count);
  for (let v = 0, k = 0; v < size; v++) if (push.offsets[v + 1] > push.offsets[v]) relays[k++] = v;
  const words = WORDS * size;
  return { push, pull, relays, reached: new Int32Array(words), front: new Int32Array(words), next: new Int32Array(words) };
}

/**
 * Spreads seeds[from .. from+BATCH) for maxDistance levels. Seed k carries bit
 * (k - from) % 32 of word (k - from) >> 5. Returns an array in which, for every
 * node v of `finals`, words [8v, 8v+8) hold exactly the seeds that reach v in at
 * most maxDistance push edges (a seed reaches itself at distance 0). The array is
 * a spreader buffer: read it before the next batch.
 */
export function spreadBatch(sp: Spreader, seeds: Int32Array, from: number, maxDistance: number, finals: Int32Array): Int32Array {
  sp.reached.fill(0);
  sp.front.fill(0);
  const to = Math.min(seeds.length, from + BATCH);
  const offsets = sp.push.offsets;
  let frontEdges = 0;
  for (let k = from; k < to; k++) {
    const v = seeds[k];
    const word = WORDS * v + ((k - from) >>> 5);
    const bit = 1 << ((k - from) & 31);
    sp.reached[word] |= bit;
    sp.front[word] |= bit;
    frontEdges += offsets[v + 1] - offsets[v];
  }
  const edges = sp.push.nodes.length;
  for (let level = 1; level < maxDistance && frontEdges > 0; level++) {
    sp.next.fill(0);
    if (frontEdges * PUSH_RATIO < edges) pushLevel(sp);
    else pullLevel(sp);
    const front = sp.front;
    sp.front = sp.next;
    sp.next = front;
    frontEdges = frontierEdges(sp);
  }
  // `next` is free now; gathering into it keeps one final's update from leaking
  // into another's (that would add a level).
  gather(sp, finals, sp.next);
  return sp.next;
}

/** One level, driven by the frontier: each frontier node ORs its new bits into its neighbours. */
function pushLevel(sp: Spreader): void {
  const { relays, reached, front, next } = sp;
  const { offsets, nodes } = sp.push;
  for (let i = 0; i < relays.length; i++) {
    const u = relays[i];
    const a = WORDS * u;
    const f0 = front[a],
      f1 = front[a + 1],
      f2 = front[a + 2],
      f3 = front[a + 3];
    const f4 = front[a + 4],
      f5 = front[a + 5],
      f6 = front[a + 6],
      f7 = front[a + 7];
    if ((f0 | f1 | f2 | f3 | f4 | f5 | f6 | f7) === 0) continue;
    for (let e = offsets[u], end = offsets[u + 1]; e < end; e++) {
      const b = WORDS * nodes[e];
      const n0 = f0 & ~reached[b],
        n1 = f1 & ~reached[b + 1],
        n2 = f2 & ~reached[b + 2],
        n3 = f3 & ~reached[b + 3];
      const n4 = f4 & ~reached[b + 4],
        n5 = f5 & ~reached[b + 5],
        n6 = f6 & ~reached[b + 6],
        n7 = f7 & ~reached[b + 7];
      if ((n0 | n1 | n2 | n3 | n4 | n5 | n6 | n7) === 0) continue;
      reached[b] |= n0;
      reached[b + 1] |= n1;
      reached[b + 2] |= n2;
      reached[b + 3] |= n3;
      reached[b + 4] |= n4;
      reached[b + 5] |= n5;
      reached[b + 6] |= n6;
      reached[b + 7] |= n7;
      next[b] |= n0;
      next[b + 1] |= n1;
      next[b + 2] |= n2;
      next[b + 3] |= n3;
      next[b + 4] |= n4;
      next[b + 5] |= n5;
      next[b + 6] |= n6;
      next[b + 7] |= n7;
    }
  }
}

/** One level, driven by the receivers: each relay ORs the frontier bits of its pull neighbours. */
function pullLevel(sp: Spreader): void {
  const { relays, reached, front, next } = sp;
  const { offsets, nodes } = sp.pull;
  for (let i = 0; i < relays.length; i++) {
    const v = relays[i];
    let a0 = 0,
      a1 = 0,
      a2 = 0,
      a3 = 0,
      a4 = 0,
      a5 = 0,
      a6 = 0,
      a7 = 0;
    for (let e = offsets[v], end = offsets[v + 1]; e < end; e++) {
      const s = WORDS * nodes[e];
      a0 |= front[s];
      a1 |= front[s + 1];
      a2 |= front[s + 2];
      a3 |= front[s + 3];
      a4 |= front[s + 4];
      a5 |= front[s + 5];
      a6 |= front[s + 6];
      a7 |= front[s + 7];
    }
    const b = WORDS * v;
    const n0 = a0 & ~reached[b],
      n1 = a1 & ~reached[b + 1],
      n2 = a2 & ~reached[b + 2],
      n3 = a3 & ~reached[b + 3];
    const n4 = a4 & ~reached[b + 4],
      n5 = a5 & ~reached[b + 5],
      n6 = a6 & ~reached[b + 6],
      n7 = a7 & ~reached[b + 7];
    if ((n0 | n1 | n2 | n3 | n4 | n5 | n6 | n7) === 0) continue;
    reached[b] |= n0;
    reached[b + 1] |= n1;
    reached[b + 2] |= n2;
    reached[b + 3] |= n3;
    reached[b + 4] |= n4;
    reached[b + 5] |= n5;
    reached[b + 6] |= n6;
    reached[b + 7] |= n7;
    next[b] = n0;
    next[b + 1] = n1;
    next[b + 2] = n2;
    next[b + 3] = n3;
    next[b + 4] = n4;
    next[b + 5] = n5;
    next[b + 6] = n6;
    next[b + 7] = n7;
  }
}

/** Push edges leaving the current frontier: the work a push level would do. */
function frontierEdges(sp: Spreader): number {
  const { relays, front } = sp;
  const offsets = sp.push.offsets;
  let total = 0;
  for (let i = 0; i < relays.length; i++) {
    const u = relays[i];
    const a = WORDS * u;
    const any = front[a] | front[a + 1] | front[a + 2] | front[a + 3] | front[a + 4] | front[a + 5] | front[a + 6] | front[a + 7];
    if (any !== 0) total += offsets[u + 1] - offsets[u];
  }
  return total;
}

/**
 * The last level, for the finals only: own bits (seeds and earlier pushes, all
 * within the distance) plus every pull neighbour's bits, which are complete one
 * level short — every pull neighbour is a relay.
 */
function gather(sp: Spreader, finals: Int32Array, out: Int32Array): void {
  const { reached } = sp;
  const { offsets, nodes } = sp.pull;
  for (let i = 0; i < finals.length; i++) {
    const v = finals[i];
    const b = WORDS * v;
    let a0 = reached[b],
      a1 = reached[b + 1],
      a2 = reached[b + 2],
      a3 = reached[b + 3];
    let a4 = reached[b + 4],
      a5 = reached[b + 5],
      a6 = reached[b + 6],
      a7 = reached[b + 7];
    for (let e = offsets[v], end = offsets[v + 1]; e < end; e++) {
      const s = WORDS * nodes[e];
      a0 |= reached[s];
      a1 |= reached[s + 1];
      a2 |= reached[s + 2];
      a3 |= reached[s + 3];
      a4 |= reached[s + 4];
      a5 |= reached[s + 5];
      a6 |= reached[s + 6];
      a7 |= reached[s + 7];
    }
    out[b] = a0;
    out[b + 1] = a1;
    out[b + 2] = a2;
    out[b + 3] = a3;
    out[b + 4] = a4;
    out[b + 5] = a5;
    out[b + 6] = a6;
    out[b + 7] = a7;
  }
}

/** Number of seeds whose bits are set for node v in `bits`. */
export function seedCount(bits: Int32Array, v: number): number {
  const b = WORDS * v;
  return (
    popcount(bits[b]) +
    popcount(bits[b + 1]) +
    popcount(bits[b + 2]) +
    popcount(bits[b + 3]) +
    popcount(bits[b + 4]) +
    popcount(bits[b + 5]) +
    popcount(bits[b + 6]) +
    popcount(bits[b + 7])
  );
}

/** Adds 1 to counts[from + k] for every seed k set for node v in `bits`. */
export function tallySeeds(bits: Int32Array, v: number, counts: Uint32Array, from: number): void {
  const b = WORDS * v;
  for (let j = 0; j < WORDS; j++) {
    let w = bits[b + j];
    const base = from + 32 * j;
    while (w !== 0) {
      const low = w & -w;
      counts[base + 31 - Math.clz32(low)]++;
      w ^= low;
    }
  }
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}
