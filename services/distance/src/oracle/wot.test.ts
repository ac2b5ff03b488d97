import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildGraph, parseWot, WotError, type WotGraph } from './wot.js';
import { wotDataFile } from './testing.js';

const genesisFile = wotDataFile('g1-genesis-wot.json');
const g1File = wotDataFile('g1-wot.json');

/** A document with identities 0..n-1 (all members, no certifications) patched by `edit`. */
function doc(n: number, edit: (identities: Record<string, unknown>[]) => void = () => {}): string {
  const identities: Record<string, unknown>[] = [];
  for (let id = 0; id < n; id++) identities.push({ id, member: true, certifiedBy: [] });
  edit(identities);
  return JSON.stringify({ format: 'ewx-wot/1', source: 'test', identities });
}

function rejects(text: string, message: string, path?: string): void {
  assert.throws(
    () => parseWot(text),
    (err: unknown) => {
      assert.ok(err instanceof WotError, `expected a WotError, got ${String(err)}`);
      assert.equal(err.message, message);
      assert.equal(err.code, 'WOT_INVALID');
      if (path !== undefined) assert.equal(err.path, path);
      return true;
    },
  );
}

/** Every certification once in each direction, and nothing else. */
function assertCsrConsistent(graph: WotGraph): void {
  const incoming: string[] = [];
  const outgoing: string[] = [];
  for (let v = 0; v < graph.size; v++) {
    for (let e = graph.inOffsets[v]; e < graph.inOffsets[v + 1]; e++) incoming.push(`${graph.inSources[e]}>${v}`);
    for (let e = graph.outOffsets[v]; e < graph.outOffsets[v + 1]; e++) outgoing.push(`${v}>${graph.outTargets[e]}`);
  }
  assert.deepEqual(outgoing.sort(), incoming.sort());
}

test('buildGraph maps any ids to dense indices in input order, with edges both ways', () => {
  const graph = buildGraph([
    { id: 100, member: true, certifiedBy: [7, 42] },
    { id: 7, member: false, certifiedBy: [100] },
    { id: 42, member: true, certifiedBy: [] },
  ]);
  assert.equal(graph.size, 3);
  assert.deepEqual(graph.ids, [100, 7, 42]);
  assert.equal(graph.indexOf.get(42), 2);
  assert.deepEqual(Array.from(graph.member), [1, 0, 1]);
  assert.equal(graph.memberCount, 2);
  // 100 is certified by 7 and 42; 7 by 100.
  assert.deepEqual(Array.from(graph.inOffsets), [0, 2, 3, 3]);
  assert.deepEqual(Array.from(graph.inSources), [1, 2, 0]);
  // 100 issued to 7; 7 issued to 100; 42 issued to 100.
  assert.deepEqual(Array.from(graph.outOffsets), [0, 1, 2, 3]);
  assert.deepEqual(Array.from(graph.outTargets), [1, 0, 0]);
  assertCsrConsistent(graph);
});

test('a missing data file skips its tests only outside CI: with EWX_REQUIRE_INFRA=1 it is an error naming the file', () => {
  const saved = process.env.EWX_REQUIRE_INFRA;
  try {
    delete process.env.EWX_REQUIRE_INFRA;
    assert.equal(wotDataFile('no-such-wot.json'), undefined);
    process.env.EWX_REQUIRE_INFRA = '1';
    assert.throws(() => wotDataFile('no-such-wot.json'), /^Error: EWX_REQUIRE_INFRA=1 but the shared data file no-such-wot\.json is not in /);
  } finally {
    if (saved === undefined) delete process.env.EWX_REQUIRE_INFRA;
    else process.env.EWX_REQUIRE_INFRA = saved;
  }
});

test('an empty web of trust is valid', () => {
  const graph = parseWot(doc(0));
  assert.equal(graph.size, 0);
  assert.equal(graph.memberCount, 0);
});

test('parses the genesis file', { skip: genesisFile === undefined && 'g1-genesis-wot.json not found' }, () => {
  const text = readFileSync(genesisFile!, 'utf8');
  const graph = parseWot(text);
  const identities = JSON.parse(text).identities as { certifiedBy: number[] }[];
  assert.equal(graph.size, 59);
  assert.equal(
    graph.inSources.length,
    identities.reduce((sum, i) => sum + i.certifiedBy.length, 0),
  );
  assertCsrConsistent(graph);
});

test('parses the Ğ1 file', { skip: g1File === undefined && 'g1-wot.json not found' }, () => {
  const graph = parseWot(readFileSync(g1File!, 'utf8'));
  assert.equal(graph.size, 12_533);
  assert.equal(graph.memberCount, 8_173);
  assert.equal(graph.inSources.length, 90_919);
  assert.equal(graph.outTargets.length, 90_919);
});

test('rejects what is not an ewx-wot/1 document', () => {
  rejects('{"format":', 'not valid JSON: ' + jsonError('{"format":'));
  rejects('[]', 'expected a JSON object, got []', '');
  rejects('{"identities":[]}', 'format: expected "ewx-wot/1", got nothing', 'format');
  rejects('{"format":"ewx-wot/2","identities":[]}', 'format: expected "ewx-wot/1", got "ewx-wot/2"');
  rejects('{"format":"ewx-wot/1"}', 'identities: expected an array, got nothing', 'identities');
  rejects('{"format":"ewx-wot/1","identities":{}}', 'identities: expected an array, got {}');
});

test('rejects a malformed identity, naming its index and field', () => {
  rejects(
    doc(3, (ids) => (ids[1] = null as never)),
    'identities[1]: expected an object, got null',
  );
  rejects(
    doc(3, (ids) => (ids[2].id = 1.5)),
    'identities[2].id: expected a non-negative integer, got 1.5',
    'identities[2].id',
  );
  rejects(
    doc(3, (ids) => (ids[2].id = '2')),
    'identities[2].id: expected a non-negative integer, got "2"',
  );
  rejects(
    doc(3, (ids) => (ids[2].id = -2)),
    'identities[2].id: expected a non-negative integer, got -2',
  );
  rejects(
    doc(3, (ids) => delete ids[0].id),
    'identities[0].id: expected a non-negative integer, got nothing',
  );
  rejects(
    doc(3, (ids) => (ids[2].id = 0)),
    'identities[2].id: duplicate identity id 0 (first at identities[0])',
  );
  rejects(
    doc(3, (ids) => (ids[1].member = 'yes')),
    'identities[1].member: expected a boolean, got "yes" (id 1)',
  );
  rejects(
    doc(3, (ids) => delete ids[1].member),
    'identities[1].member: expected a boolean, got nothing (id 1)',
  );
  rejects(
    doc(3, (ids) => (ids[1].certifiedBy = 2)),
    'identities[1].certifiedBy: expected an array, got 2 (id 1)',
  );
});

test('rejects a bad certification, naming the identity and the position', () => {
  rejects(
    doc(13, (ids) => (ids[12].certifiedBy = [0, 1, 2, 99999])),
    'identities[12].certifiedBy[3]: unknown identity id 99999 (id 12)',
    'identities[12].certifiedBy[3]',
  );
  rejects(
    doc(3, (ids) => (ids[1].certifiedBy = [0, 'x'])),
    'identities[1].certifiedBy[1]: expected a non-negative integer, got "x" (id 1)',
  );
  rejects(
    doc(3, (ids) => (ids[1].certifiedBy = [0, 1])),
    'identities[1].certifiedBy[1]: identity 1 certifies itself',
  );
  rejects(
    doc(3, (ids) => (ids[1].certifiedBy = [0, 2, 0])),
    'identities[1].certifiedBy[2]: duplicate certification from 0 (id 1)',
  );
});

test('buildGraph checks in-memory identities the same way', () => {
  assert.throws(() => buildGraph([{ id: 1, member: true, certifiedBy: [2] }]), {
    name: 'WotError',
    message: 'identities[0].certifiedBy[0]: unknown identity id 2 (id 1)',
  });
});

function jsonError(text: string): string {
  try {
    JSON.parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}
