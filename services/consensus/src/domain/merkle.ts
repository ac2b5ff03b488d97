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

const sha256: (b: Buffer) => Buffer = typeof (crypto as { hash?: unknown }).hash === 'function'
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

const nodeHash = (children: readonly Buffer[]): Buffer => sha256(Buffer.concat([NODE, ...children]));

function nextLevel(level: readonly Buffer[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < level.length; i += ARITY) out.push(nodeHash(level.slice(i, i + ARITY)));
  return out;
}

export function merkleRoot(leaves: readonly Buffer[]): string {
  if (leaves.length === 0) return EMPTY_ROOT;
  let level = leaves;
  while (level.length > 1) level = nextLevel(level);
  return level[0]!.toString('hex');
}

/** One level of a proof: the hashes of the node's group (hex), and where the proven hash sits in it. */
export interface ProofStep { readonly position: number; readonly group: readonly string[] }

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
