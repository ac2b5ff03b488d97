/** The oracle against the recorded Ğ1 webs of trust in shared/data/. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { evaluate, evaluateAll, evaluateNaive, referees } from './distance.js';
import { wotDataFile } from './testing.js';
import { parseWot } from './wot.js';

interface RawIdentity {
  id: number;
  member: boolean;
  certifiedBy: number[];
}

const genesisFile = wotDataFile('g1-genesis-wot.json');
const g1File = wotDataFile('g1-wot.json');

/**
 * The rule computed a third, unrelated way, straight from the JSON: all-pairs
 * shortest paths (Floyd–Warshall) on a distance matrix, degrees counted from the
 * lists, BigInt division. Fine for 59 identities.
 */
function floydWarshallPerbills(identities: RawIdentity[], maxDistance: number): number[] {
  const n = identities.length;
  const at = new Map(identities.map((idty, i) => [idty.id, i]));
  const dist = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 0 : Infinity)));
  const issued = new Array<number>(n).fill(0);
  identities.forEach((idty, v) => {
    for (const issuer of idty.certifiedBy) {
      dist[at.get(issuer)!][v] = 1;
      issued[at.get(issuer)!]++;
    }
  });
  for (let k = 0; k < n; k++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) dist[i][j] = Math.min(dist[i][j], dist[i][k] + dist[k][j]);
  const members = identities.filter((idty) => idty.member).length;
  let r = 0;
  while (r ** maxDistance < members) r++;
  const refs = identities.map((idty, i) => (idty.member && idty.certifiedBy.length >= r && issued[i] >= r ? i : -1)).filter((i) => i >= 0);
  return identities.map((_, t) => {
    const others = refs.filter((i) => i !== t);
    if (others.length === 0) return 1_000_000_000;
    const reached = others.filter((i) => dist[i][t] <= maxDistance).length;
    return Number((BigInt(reached) * 1_000_000_000n) / BigInt(others.length));
  });
}

test('genesis: fast, naive and Floyd–Warshall agree for every identity and distance', {
  skip: genesisFile === undefined && 'g1-genesis-wot.json not found',
}, () => {
  const text = readFileSync(genesisFile!, 'utf8');
  const graph = parseWot(text);
  const identities = JSON.parse(text).identities as RawIdentity[];
  for (let maxDistance = 1; maxDistance <= 6; maxDistance++) {
    const expected = floydWarshallPerbills(identities, maxDistance);
    assert.deepEqual(Array.from(evaluateNaive(graph, graph.ids, { maxDistance })), expected, `naive, d=${maxDistance}`);
    for (const strategy of ['forward', 'reverse'] as const) {
      const fast = evaluate(graph, graph.ids, { maxDistance, strategy });
      assert.deepEqual(Array.from(fast), expected, `${strategy}, d=${maxDistance}`);
    }
  }
});

test('genesis: values worked out by hand', { skip: genesisFile === undefined && 'g1-genesis-wot.json not found' }, () => {
  const graph = parseWot(readFileSync(genesisFile!, 'utf8'));
  // 59 members. At distance 5, R = 3 (3^5 = 243 ≥ 59 > 32 = 2^5): 48 referees, and
  // the genesis web is so tight that every identity is reached by all of them.
  assert.equal(referees(graph, 5).threshold, 3);
  assert.equal(referees(graph, 5).indices.length, 48);
  assert.ok(evaluateAll(graph).every((value) => value === 1_000_000_000));
  // At distance 2, R = 8 (8^2 = 64 ≥ 59 > 49): 21 referees. Identity 54 is certified
  // by 29, 47, 27, 32, 30, 46 — none a referee — and through them by referees 2, 10
  // and 25: 3/21 = 0.142857142… Identity 3 is reached by 12 of them: 12/21.
  assert.equal(referees(graph, 2).indices.length, 21);
  assert.deepEqual(Array.from(evaluate(graph, [54, 3], { maxDistance: 2 })), [142_857_142, 571_428_571]);
  // At distance 3, R = 4: 47 referees. 45 is one; 36 of the other 46 reach it: 36/46.
  assert.equal(referees(graph, 3).isReferee[graph.indexOf.get(45)!], 1);
  assert.deepEqual(Array.from(evaluate(graph, [45], { maxDistance: 3 })), [782_608_695]);
});

test('Ğ1: fast equals naive on a sample of 300 identities', { skip: g1File === undefined && 'g1-wot.json not found' }, () => {
  const graph = parseWot(readFileSync(g1File!, 'utf8'));
  // Every 42nd identity: members and non-members, referees and not, spread over the file.
  const sample = graph.ids.filter((_, i) => i % 42 === 0);
  assert.equal(sample.length, 299);
  const naive = Array.from(evaluateNaive(graph, sample));
  assert.deepEqual(Array.from(evaluate(graph, sample, { strategy: 'forward' })), naive);
  assert.deepEqual(Array.from(evaluate(graph, sample, { strategy: 'reverse' })), naive);
});

test('Ğ1: forward and reverse agree on every identity and on a pool', { skip: g1File === undefined && 'g1-wot.json not found' }, () => {
  const graph = parseWot(readFileSync(g1File!, 'utf8'));
  const forward = evaluateAll(graph, { strategy: 'forward' });
  assert.deepEqual(evaluateAll(graph, { strategy: 'reverse' }), forward);
  assert.deepEqual(evaluateAll(graph), forward);
  const pool = graph.ids.filter((_, i) => graph.member[i] === 0).slice(0, 1300);
  const expected = pool.map((id) => forward[graph.indexOf.get(id)!]);
  assert.deepEqual(Array.from(evaluate(graph, pool)), expected);
  // Fingerprint of the whole result, checked once against evaluateNaive on all
  // 12,533 identities (too slow to repeat here): a change shows up at once.
  assert.equal(forward.filter((value) => value >= 800_000_000).length, 9_427);
  assert.equal(
    forward.reduce((sum, value) => sum + value, 0),
    9_302_351_743_089,
  );
});
