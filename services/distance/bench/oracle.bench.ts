/**
 * Times the distance oracle on the Ğ1 web of trust (12,533 identities):
 *   naive over everybody (the baseline), fast over everybody, fast over one pool of
 *   1,300 (the first 1,300 non-members, as a pool of newcomers would be).
 * Each figure is the median of several runs after warm-up runs, printed as a human
 * line and as one JSON line (prefix-free, one object per line, "figure" as key).
 *
 *   npx tsx services/distance/bench/oracle.bench.ts [--quick] [--runs N] [--wot FILE]
 *
 * --quick times the naive search on 1,000 identities spread over the file and
 * extrapolates to all 12,533 (marked "extrapolated": true); without it the naive
 * search runs over everybody (about 15 s a run). The pool's speed-up is against the
 * naive time for as many identities (naive-all pro rata).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { evaluate, evaluateNaive, parseWot, pickStrategy, referees, type WotGraph } from '../src/oracle/index.js';
import { wotDataFile } from '../src/oracle/testing.js';

interface Figure {
  readonly figure: string;
  readonly targets: number;
  readonly runs: number;
  readonly median_ms: number;
  readonly min_ms: number;
  readonly max_ms: number;
  readonly extrapolated?: boolean;
  readonly speedup_vs_naive?: number;
  readonly strategy?: string;
}

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string', default: '15' },
    wot: { type: 'string' },
  },
});
const runs = Number(values.runs);
const file = values.wot ?? wotDataFile('g1-wot.json');
if (file === undefined || !Number.isInteger(runs) || runs < 1) {
  console.error('usage: oracle.bench.ts [--quick] [--runs N] [--wot FILE]  (g1-wot.json not found?)');
  process.exit(2);
}

/** Median, min and max of `count` timed calls after `warmups` untimed ones, and the last result. */
function time<T>(warmups: number, count: number, fn: () => T): { median: number; min: number; max: number; result: T } {
  for (let i = 0; i < warmups; i++) fn();
  const samples: number[] = [];
  let result!: T;
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    result = fn();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  const mid = samples.length >> 1;
  const median = samples.length % 2 === 1 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2;
  return { median, min: samples[0], max: samples[samples.length - 1], result };
}

/** How many times faster, to one decimal. */
function ratio(baselineMs: number, ms: number): number {
  return Math.round((baselineMs / ms) * 10) / 10;
}

function report(figure: Figure, label: string): void {
  const round = (ms: number): number => Math.round(ms * 100) / 100;
  const json = { ...figure, median_ms: round(figure.median_ms), min_ms: round(figure.min_ms), max_ms: round(figure.max_ms) };
  const speedup = figure.speedup_vs_naive === undefined ? '' : `  (${figure.speedup_vs_naive.toFixed(0)}× faster than naive)`;
  console.log(`${label.padEnd(52)} ${json.median_ms.toFixed(1).padStart(9)} ms median of ${figure.runs}${speedup}`);
  console.log(JSON.stringify(json));
}

const text = readFileSync(file, 'utf8');
const parse = time(2, 5, () => parseWot(text));
const graph: WotGraph = parseWot(text);
const everybody = graph.ids;
const pool = graph.ids.filter((_, i) => graph.member[i] === 0).slice(0, 1300);
console.log(`# ${file}: ${graph.size} identities, ${graph.memberCount} members, ${graph.inSources.length} certifications`);
console.log(`# node ${process.version}, ${process.platform}/${process.arch}`);
report({ figure: 'parse', targets: graph.size, runs: 5, median_ms: parse.median, min_ms: parse.min, max_ms: parse.max }, 'parse + validate + build graph');

const refereeCount = referees(graph).indices.length;

// The baseline: a warm-up on 200 identities, then timed runs (the full run takes seconds).
const naiveTargets = values.quick
  ? Array.from({ length: 1000 }, (_, i) => everybody[Math.floor((i * everybody.length) / 1000)])
  : everybody;
const naiveRuns = values.quick ? 5 : 3;
evaluateNaive(graph, everybody.slice(0, 200));
const naiveTime = time(0, naiveRuns, () => evaluateNaive(graph, naiveTargets));
const scale = everybody.length / naiveTargets.length;
const naiveAll = naiveTime.median * scale;
report(
  {
    figure: 'naive-all',
    targets: everybody.length,
    runs: naiveRuns,
    median_ms: naiveAll,
    min_ms: naiveTime.min * scale,
    max_ms: naiveTime.max * scale,
    extrapolated: values.quick,
  },
  values.quick
    ? `naive, all ${everybody.length} (EXTRAPOLATED from ${naiveTargets.length})`
    : `naive, all ${everybody.length}`,
);

const cold = time(0, 1, () => evaluate(graph, everybody));
report(
  { figure: 'fast-all-first-call', targets: everybody.length, runs: 1, median_ms: cold.median, min_ms: cold.min, max_ms: cold.max, speedup_vs_naive: ratio(naiveAll, cold.median) },
  `fast, all ${everybody.length}, first call (cold JIT)`,
);
const all = time(5, runs, () => evaluate(graph, everybody));
report(
  { figure: 'fast-all', targets: everybody.length, runs, median_ms: all.median, min_ms: all.min, max_ms: all.max, speedup_vs_naive: ratio(naiveAll, all.median), strategy: pickStrategy(everybody.length, refereeCount) },
  `fast, all ${everybody.length}`,
);
// Compared with the naive search on as many identities (pro rata of naive-all).
const poolTime = time(5, runs, () => evaluate(graph, pool));
const poolNaive = (naiveAll * pool.length) / everybody.length;
report(
  { figure: 'fast-pool-1300', targets: pool.length, runs, median_ms: poolTime.median, min_ms: poolTime.min, max_ms: poolTime.max, speedup_vs_naive: ratio(poolNaive, poolTime.median), strategy: pickStrategy(pool.length, refereeCount) },
  `fast, pool of ${pool.length} (first non-members)`,
);

// The figures only mean something if the answers are the same.
const fastAll = all.result;
const fastOnNaiveTargets = naiveTargets.map((id) => fastAll[graph.indexOf.get(id)!]);
if (!fastOnNaiveTargets.every((value, i) => value === naiveTime.result[i])) throw new Error('fast and naive results differ');
if (!pool.every((id, i) => poolTime.result[i] === fastAll[graph.indexOf.get(id)!])) {
  throw new Error('pool results differ from the all-identities results');
}
console.log(`# checked: fast == naive on the ${naiveTargets.length} naive targets; the pool's results == the same identities' in fast-all`);
