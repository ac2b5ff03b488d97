import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '@ewx/platform/testing';
import { evaluate, parseWot } from './oracle/index.js';
import { wotDataFile } from './oracle/testing.js';

const genesis = wotDataFile('g1-genesis-wot.json');
const skip = genesis === undefined ? 'g1-genesis-wot.json not found' : false;

/** The oracle's own answer for every identity of the file, as the CLI prints it. */
const expected = (file: string): string[] => {
  const graph = parseWot(readFileSync(file, 'utf8'));
  const values = evaluate(graph, graph.ids);
  return graph.ids.map((id, i) => JSON.stringify({ id, perbill: values[i] }));
};

test("`npx ewx-distance --wot FILE` from the repository root prints the oracle's result per identity", { skip }, () => {
  // --no-install: never ask the registry for a package of that name; the workspace bin must be linked.
  const r = spawnSync('npx', ['--no-install', 'ewx-distance', '--wot', genesis!], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 59);
  assert.deepEqual(lines, expected(genesis!));
});

test('the bin launcher runs the compiled CLI: exit status 1 and the field for a bad file, 2 for usage', { skip }, () => {
  const bin = resolve(REPO_ROOT, 'services/distance/bin/ewx-distance.js');
  const usage = spawnSync(process.execPath, [bin], { encoding: 'utf8' });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /--wot FILE is required/);
  const missing = spawnSync(process.execPath, [bin, '--wot', '/nonexistent.json'], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
});

test('the evaluator worker refuses to start without EVALUATOR_KEY, naming it', () => {
  const bin = resolve(REPO_ROOT, 'services/distance/bin/ewx-distance-evaluator.js');
  const r = spawnSync(process.execPath, [bin], { encoding: 'utf8', env: { ...process.env, EVALUATOR_KEY: '' } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /EVALUATOR_KEY/);
});
