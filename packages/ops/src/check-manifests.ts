#!/usr/bin/env node
/**
 * Renders and checks deploy/k8s: `node packages/ops/dist/check-manifests.js [--print <render>]`.
 * CRD schemas from ../shared/crds (or EWX_CRD_DIR). Exit 1 with one line per problem.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { checkDeploy, findCrdDir } from './check.js';

const root = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
const crdDir = findCrdDir(root);
if (!crdDir || !existsSync(crdDir)) {
  process.stderr.write('check-manifests: no CRD folder in ../shared/crds (set EWX_CRD_DIR)\n');
  process.exit(2);
}
const { rendered, problems } = checkDeploy(root, crdDir);
const print = process.argv.indexOf('--print');
if (print >= 0) {
  const which = rendered.find((r) => r.name === process.argv[print + 1]);
  for (const o of which?.objects ?? []) process.stdout.write(`---\n${stringify(o)}`);
}
for (const r of rendered) process.stderr.write(`check-manifests: ${r.name}: ${r.objects.length} objects\n`);
for (const p of problems) process.stderr.write(`problem: ${p}\n`);
process.stderr.write(`check-manifests: ${problems.length === 0 ? 'ok' : `${problems.length} problems`}\n`);
process.exit(problems.length === 0 ? 0 : 1);
