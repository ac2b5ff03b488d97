#!/usr/bin/env node
// Generates a development network's keys and settings for the dev overlay (or the manifest check):
// four validator seeds, the distance service's and one evaluator's seeds, an admin seed (for the
// operator's CLI; it is not mounted anywhere), PostgreSQL role passwords, and network.env with the
// matching public addresses. Never overwrites: an existing folder keeps its keys.
// Usage: node scripts/dev-secrets.mjs deploy/k8s/overlays/dev/secrets
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node scripts/dev-secrets.mjs <folder>\n');
  process.exit(2);
}
mkdirSync(dir, { recursive: true, mode: 0o700 });

// An ed25519 key from its 32-byte seed: PKCS#8 is a fixed 16-byte prefix and the seed.
const addressOf = (seedHex) => {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seedHex, 'hex')]);
  const spki = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });
  return `ed25519:${spki.subarray(-32).toString('hex')}`;
};
const keep = (name, make) => {
  const p = join(dir, name);
  if (!existsSync(p)) writeFileSync(p, make(), { mode: 0o600 });
  return readFileSync(p, 'utf8').trim();
};
const seed = (name) => keep(`${name}.seed`, () => randomBytes(32).toString('hex'));

const validators = [0, 1, 2, 3].map((n) => addressOf(seed(`validator-${n}`)));
const admin = addressOf(seed('admin'));
const distance = addressOf(seed('distance-service'));
const evaluator = addressOf(seed('evaluator'));
for (const s of ['registry', 'voting', 'consensus', 'rewards', 'distance']) keep(`pg-${s}.password`, () => randomBytes(24).toString('hex'));
keep('network.env', () =>
  [`ADMIN_ADDRESS=${admin}`, `VALIDATORS=${validators.join(',')}`, `EVALUATORS=${evaluator}`, `LEDGER_SERVICE_ACCOUNTS=${distance}`, ''].join('\n'),
);
process.stdout.write(`dev-secrets: ${dir} (admin ${admin}; seed in ${join(dir, 'admin.seed')})\n`);
