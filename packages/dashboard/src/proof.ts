// The inclusion proof of a vote, checked in the page with the rules of docs/AUDIT.md:
// leaf = sha256(0x00 ‖ worker ‖ 0x0A ‖ result); each step: group[position] == h, then
// h = sha256(0x01 ‖ group…); at the end h == the settlement's Merkle root.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes, concatBytes } from '@noble/hashes/utils.js';

export interface Proof {
  worker: string;
  result: string;
  leaf: string;
  steps: { position: number; group: string[] }[];
}

export function leafOf(worker: string, resultHex: string): string {
  return bytesToHex(sha256(concatBytes(new Uint8Array([0]), utf8ToBytes(worker), new Uint8Array([0x0a]), hexToBytes(resultHex))));
}

export function checkProof(p: Proof, root: string): { valid: boolean; reason?: string } {
  let h = leafOf(p.worker, p.result);
  if (h !== p.leaf) return { valid: false, reason: `the leaf of this vote is ${h}, the proof says ${p.leaf}` };
  for (const [i, s] of p.steps.entries()) {
    if (s.group[s.position] !== h) return { valid: false, reason: `step ${i}: the hash is not at position ${s.position}` };
    h = bytesToHex(sha256(concatBytes(new Uint8Array([1]), ...s.group.map(hexToBytes))));
  }
  if (h !== root) return { valid: false, reason: `the proof hashes up to ${h}, the Merkle root is ${root}` };
  return { valid: true };
}
