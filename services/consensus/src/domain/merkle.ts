import * as crypto from 'node:crypto';

/**
 * The Merkle tree of a round's votes. Leaf = sha256(0x00 ‖ worker ‖ 0x0a ‖ result bytes), leaves in
 * worker order. Nodes are 16-ary: node = sha256(0x01 ‖ child₀ ‖ … ‖ childₖ) over up to 16 children
 * (the last group of a level may be shorter). 16-ary because a call into the hash costs ~1–2 µs on
 * this hardware whatever the input size: 100,000 votes need ~6,700 node hashes instead of ~100,000.
 * The root of no votes is 32 zero bytes.
 */
export const ARITY = 16;
export const EMPTY_ROOT = '00'.repeat(32);

const sha256: (b: Buffer) => Buffer =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (b) => (crypto as unknown as { hash(a: string, d: Buffer, e: 'buffer'): Buffer }).hash('sha256', b, 'buffer')
    : (b) => crypto.createHash('sha256').update(b).digest();

const LEAF = Buffer.from([0]);
const NODE = Buffer.from([1]);
const SEP = Buffer.from([0x0a]);

let scratch = Buffer.alloc(256);
/** Written into one reused buffer: allocation, not hashing, dominated the cost of a leaf. */
export function leafHash(worker: string, resultHex: string): Buffer {
  const need = 2 + Buffer.byteLength(worker, 'utf8') + resultHex.length / 2;
  if (need > scratch.length) scratch = Buffer.alloc(need * 2);
  scratch[0] = LEAF[0]!;
  let o = 1 + scratch.write(worker, 1, 'utf8');
  scratch[o++] = SEP[0]!;
  o += scratch.write(resultHex, o, 'hex');
  return sha256(scratch.subarray(0, o));
}

const nodeHash = (children: readonly Buffer[]): Buffer => {
  // One reused buffer of 1 + 16 × 32 bytes instead of a Buffer.concat per node.
  const n = children.length;
  if (1 + n * 32 > nodeScratch.length) return sha256(Buffer.concat([NODE, ...children]));
  let o = 1;
  nodeScratch[0] = NODE[0]!;
  for (let k = 0; k < n; k++) {
    const c = children[k]!;
    if (o + c.length > nodeScratch.length) return sha256(Buffer.concat([NODE, ...children]));
    o += c.copy(nodeScratch, o);
  }
  return sha256(nodeScratch.subarray(0, o));
};
const nodeScratch = Buffer.alloc(1 + ARITY * 64);

function nextLevel(level: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < level.length; i += ARITY) out.push(nodeHash(level.slice(i, i + ARITY)));
  return out;
}

/**
 * The nodes of complete groups of 16, kept per leaves array as leaves are appended (a node over 16
 * children never changes once they exist, since leaves are only appended). `upper[k]` holds level
 * k + 1's complete-group nodes; `count` is how many leaves were folded in and `last` the last of them,
 * so an array changed other than by appending is detected and folded again from scratch. A cache
 * only: the root and proofs are the same bytes as rebuilding the tree level by level.
 */
interface Tree {
  count: number;
  last: Buffer | undefined;
  readonly upper: Buffer[][];
}
const trees = new WeakMap<readonly Buffer[], Tree>();

function tree(leaves: readonly Buffer[]): Tree {
  let t = trees.get(leaves);
  if (!t || t.count > leaves.length || (t.count > 0 && leaves[t.count - 1] !== t.last)) {
    t = { count: 0, last: undefined, upper: [] };
    trees.set(leaves, t);
  }
  for (let i = t.count; i < leaves.length; i++) {
    // Leaf i completes a group when i + 1 is a multiple of 16; that node may complete its own group, and so on.
    let level: readonly Buffer[] = leaves;
    let end = i + 1;
    for (let k = 0; end % ARITY === 0; k++) {
      t.upper[k] ??= [];
      const up = t.upper[k]!;
      up.push(nodeHash(level.slice(end - ARITY, end)));
      level = up;
      end = up.length;
    }
  }
  t.count = leaves.length;
  t.last = leaves[leaves.length - 1];
  return t;
}

/** Folds appended leaves into the cached tree now (as votes are recorded), so the root later costs only the right edge. */
export function extendMerkleTree(leaves: readonly Buffer[]): void {
  tree(leaves);
}

export function merkleRoot(leaves: readonly Buffer[]): string {
  if (leaves.length === 0) return EMPTY_ROOT;
  const t = tree(leaves);
  // Level k is a cached prefix (the leaves, or level k's complete-group nodes) plus at most one node
  // hashed here from the right edge below. Its complete groups within the prefix are cached; only the
  // last group, when it is short or holds the right-edge node, is hashed here.
  let prefix: readonly Buffer[] = leaves;
  let edge: Buffer | undefined;
  for (let k = 0; prefix.length + (edge ? 1 : 0) > 1; k++) {
    const start = prefix.length - (prefix.length % ARITY);
    const last = prefix.slice(start);
    if (edge) last.push(edge);
    edge = last.length > 0 ? nodeHash(last) : undefined;
    prefix = t.upper[k] ?? [];
  }
  const root = edge ?? prefix[0]!;
  return root.toString('hex');
}

/** One level of a proof: the hashes of the node's group (hex), and where the proven hash sits in it. */
export interface ProofStep {
  readonly position: number;
  readonly group: readonly string[];
}

export function merkleProof(leaves: readonly Buffer[], index: number): ProofStep[] {
  const steps: ProofStep[] = [];
  let level = leaves;
  let i = index;
  while (level.length > 1) {
    const start = i - (i % ARITY);
    steps.push({ position: i - start, group: level.slice(start, start + ARITY).map((b) => b.toString('hex')) });
    level = nextLevel(level);
    i = Math.floor(i / ARITY);
  }
  return steps;
}

/** Recomputes the root from a leaf and its path: what an auditor runs, needing nothing else. */
export function rootFromProof(leafHex: string, steps: readonly ProofStep[]): string {
  let h = leafHex;
  for (const s of steps) {
    if (s.group[s.position] !== h) return '';
    h = nodeHash(s.group.map((x) => Buffer.from(x, 'hex'))).toString('hex');
  }
  return h;
}
