/**
 * Writes the audit's test vectors (docs/audit-vectors.json) from the services' own code:
 *   node packages/audit/dist/tools/make-vectors.js > docs/audit-vectors.json
 * The suite (vectors.test.ts) checks them against the services' code and an independent
 * implementation written from docs/AUDIT.md.
 */
import { keyPairFromSeed, signBytes, type Tally } from '@ewx/platform';
import { attestationBytes, chainHash, GENESIS_HASH, leafHash, merkleProof, merkleRoot, tallyText } from '@ewx/consensus/domain/decider';

const SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const worker = (i: number): string => `ed25519:${(i + 1).toString(16).padStart(2, '0').repeat(32)}`;

export function vectors(): unknown {
  const validator = keyPairFromSeed(SEED);
  const tree = (votes: [string, string][], proofs: number[]) => {
    const leaves = votes.map(([w, r]) => leafHash(w, r));
    return {
      votes,
      leaves: leaves.map((l) => l.toString('hex')),
      root: merkleRoot(leaves),
      proofs: proofs.map((index) => ({ index, steps: merkleProof(leaves, index) })),
    };
  };
  const seventeen: [string, string][] = Array.from({ length: 17 }, (_, i) => [worker(i), i % 5 === 0 ? 'bad0' : 'c0ffee']);
  const settled: Tally = { eligible: 17, submitted: 17, top: 13, outcome: 'SETTLED', result: 'c0ffee' };
  const unresolved: Tally = { eligible: 3, submitted: 1, top: 1, outcome: 'UNRESOLVED', reason: 'NO_QUORUM' };
  const first = chainHash(GENESIS_HASH, 'slice-1', 'c0ffee', settled);
  const t2: Tally = { eligible: 3, submitted: 3, top: 3, outcome: 'SETTLED', result: 'abcd' };
  const root17 = merkleRoot(seventeen.map(([w, r]) => leafHash(w, r)));
  const att = attestationBytes('audit.solution', 'slice-1', settled, root17);
  return {
    format: 'ewx-audit-vectors/1',
    note: 'See docs/AUDIT.md. Hashes are sha256, hex; addresses are ed25519:<64 hex>; results are hex.',
    merkle: {
      empty: { votes: [], root: merkleRoot([]) },
      one: tree([[worker(0), 'c0ffee']], [0]),
      seventeen: tree(seventeen, [0, 3, 16]),
    },
    tally: [
      { tally: settled, text: tallyText(settled) },
      { tally: unresolved, text: tallyText(unresolved) },
    ],
    chain: [
      { prevHash: GENESIS_HASH, roundId: 'slice-1', result: 'c0ffee', tally: settled, hash: first },
      { prevHash: first, roundId: 'slice-3', result: 'abcd', tally: t2, hash: chainHash(first, 'slice-3', 'abcd', t2) },
    ],
    attestation: {
      seed: SEED,
      validator: validator.address,
      solution: 'audit.solution',
      roundId: 'slice-1',
      tally: settled,
      merkleRoot: root17,
      bytes: att.toString('hex'),
      signature: signBytes(validator, att).toString('hex'),
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(JSON.stringify(vectors(), null, 2) + '\n');
