import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { main, USAGE, type CliIo } from './cli.js';
import { evaluate } from './distance.js';
import { wotDataFile } from './testing.js';
import { parseWot } from './wot.js';

const genesisFile = wotDataFile('g1-genesis-wot.json');

/** Runs main with in-memory files; returns the exit status and what was written. */
function run(argv: string[], files: Record<string, string> = {}): { status: number; stdout: string; stderr: string } {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
      return text;
    },
  };
  return { status: main(argv, io), stdout, stderr };
}

/** Referees 10, 11, 12 certify each other; 12 certifies non-member 20; nobody certifies 5. */
const small = JSON.stringify({
  format: 'ewx-wot/1',
  source: 'test',
  identities: [
    { id: 10, member: true, certifiedBy: [11, 12] },
    { id: 11, member: true, certifiedBy: [10, 12] },
    { id: 12, member: true, certifiedBy: [10, 11] },
    { id: 20, member: false, certifiedBy: [12] },
    { id: 5, member: false, certifiedBy: [] },
  ],
});

const lines = (stdout: string): unknown[] =>
  stdout
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line));

test('prints one {id, perbill} line per identity in file order', () => {
  const { status, stdout, stderr } = run(['--wot', 'w.json'], { 'w.json': small });
  assert.equal(status, 0, stderr);
  assert.equal(stderr, '');
  assert.deepEqual(lines(stdout), [
    { id: 10, perbill: 1_000_000_000 },
    { id: 11, perbill: 1_000_000_000 },
    { id: 12, perbill: 1_000_000_000 },
    { id: 20, perbill: 1_000_000_000 },
    { id: 5, perbill: 0 },
  ]);
  assert.match(stdout, /^\{"id":10,"perbill":1000000000\}\n/);
});

test('--ids restricts the output to those identities, in the order given', () => {
  const { status, stdout } = run(['--wot', 'w.json', '--ids', '5, 20,10'], { 'w.json': small });
  assert.equal(status, 0);
  assert.deepEqual(lines(stdout), [
    { id: 5, perbill: 0 },
    { id: 20, perbill: 1_000_000_000 },
    { id: 10, perbill: 1_000_000_000 },
  ]);
});

test('--max-distance changes the distance and so R', { skip: genesisFile === undefined && 'g1-genesis-wot.json not found' }, () => {
  const { status, stdout } = run(['--wot', genesisFile!, '--max-distance=2', '--ids', '54,3'], {
    [genesisFile!]: readGenesis(),
  });
  assert.equal(status, 0);
  assert.deepEqual(lines(stdout), [
    { id: 54, perbill: 142_857_142 },
    { id: 3, perbill: 571_428_571 },
  ]);
});

test('--help prints the usage and succeeds', () => {
  for (const flag of ['--help', '-h']) {
    const { status, stdout } = run([flag]);
    assert.equal(status, 0);
    assert.equal(stdout, `${USAGE}\n`);
  }
});

test('usage errors exit with 2 and say what is wrong', () => {
  const cases: [string[], RegExp][] = [
    [[], /--wot FILE is required/],
    [['--wot'], /--wot/],
    [['--wot', 'w.json', '--nope'], /Unknown option '--nope'/],
    [['--wot', 'w.json', 'extra'], /positional argument/],
    [['--wot', 'w.json', '--max-distance', '0'], /--max-distance: expected a positive integer, got "0"/],
    [['--wot', 'w.json', '--max-distance', '2.5'], /--max-distance: expected a positive integer/],
    [['--wot', 'w.json', '--ids', '1,x'], /--ids: expected identity ids separated by commas, got "x"/],
    [['--wot', 'w.json', '--ids', '10,99'], /--ids: unknown identity id 99 in w\.json/],
  ];
  for (const [argv, message] of cases) {
    const { status, stdout, stderr } = run(argv, { 'w.json': small });
    assert.equal(status, 2, argv.join(' '));
    assert.equal(stdout, '');
    assert.match(stderr, message, argv.join(' '));
  }
});

test('a missing or invalid file exits with 1, naming the file and the field', () => {
  const missing = run(['--wot', 'nowhere.json']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /^ewx-distance: cannot read nowhere\.json: ENOENT/);
  const bad = small.replace('"certifiedBy":[10,12]', '"certifiedBy":[10,99999]');
  const invalid = run(['--wot', 'bad.json'], { 'bad.json': bad });
  assert.equal(invalid.status, 1);
  assert.equal(invalid.stderr, 'ewx-distance: bad.json: identities[1].certifiedBy[1]: unknown identity id 99999 (id 11)\n');
  assert.equal(run(['--wot', 'x.json'], { 'x.json': '{"format":"csv"}' }).status, 1);
});

test('run as a program: prints the results, sets the exit status', { skip: genesisFile === undefined && 'g1-genesis-wot.json not found' }, () => {
  // Runs this same module (cli.ts under tsx, cli.js once compiled) with the loaders we run under.
  const script = fileURLToPath(new URL(`./cli${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
  const execArgv = process.execArgv.filter((arg) => !arg.startsWith('--test'));
  const ok = spawnSync(process.execPath, [...execArgv, script, '--wot', genesisFile!], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  const graph = parseWot(readGenesis());
  const expected = evaluate(graph, graph.ids);
  assert.deepEqual(
    lines(ok.stdout),
    graph.ids.map((id, i) => ({ id, perbill: expected[i] })),
  );
  const usage = spawnSync(process.execPath, [...execArgv, script], { encoding: 'utf8' });
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /--wot FILE is required/);
});

function readGenesis(): string {
  return readFileSync(genesisFile!, 'utf8');
}
