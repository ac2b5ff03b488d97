/**
 * Times the distance service's own rules at Ğ1 scale, in process (no I/O): importing the Ğ1 web of
 * trust (decide + evolve), filling a pool of 1,300 requests, accepting 100 evaluators' results of
 * 1,300 values, settling that pool (a median of 100 values per identity), and the snapshot taken
 * when a period begins. One JSON line per figure.
 *
 *   npm run bench:service -w @ewx/distance
 */
import { readFileSync } from 'node:fs';
import { encodePosition, type EventData, type RecordedEvent } from '@ewx/platform';
import { decide, type DistanceCommand } from '../src/domain/decider.js';
import { defaultParams } from '../src/domain/params.js';
import { evolve, initialState } from '../src/domain/state.js';
import { wotDataFile } from '../src/oracle/testing.js';

const file = wotDataFile('g1-wot.json');
if (file === undefined) throw new Error('g1-wot.json not found (set EWX_WOT_DATA_DIR)');
const addr = (n: number): string => `ed25519:${n.toString(16).padStart(64, '0')}`;
const evaluators = Array.from({ length: 100 }, (_, i) => addr(0x1000 + i));
// 200-block periods so 100 evaluators (one result per block) fit in one period.
const params = { ...defaultParams(addr(1), evaluators), periodBlocks: 200 };
const state = initialState();
let position = 0n;
const apply = (events: readonly EventData[]): void => { for (const e of events) evolve(state, { ...e, streamId: 'b', version: 0, position: encodePosition([++position]) } as RecordedEvent); };
const run = (c: DistanceCommand): EventData[] => { const out = decide(c, state, params); apply(out); return out; };
const block = (h: number): void => apply([{ type: 'BlockProduced', data: { height: h } }]);
const figure = (name: string, ms: number, extra: Record<string, unknown> = {}): void => void
  process.stdout.write(`${JSON.stringify({ figure: name, ms: Math.round(ms * 100) / 100, ...extra })}\n`);
function time<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const r = fn();
  return [r, performance.now() - t];
}

apply([{ type: 'DistanceConfigured', data: { periodBlocks: 200 } }]);
const text = readFileSync(file, 'utf8');
const [imported, importMs] = time(() => run({ type: 'ImportWot', signer: addr(1), json: text }));
figure('import-g1 (parse, validate, chunk, apply)', importMs, { identities: state.wot.size, events: imported.length });

const nonMembers = [...state.wot.values()].filter((i) => !i.member).slice(0, 1300).map((i) => i.id);
const [, requestMs] = time(() => {
  for (const id of nonMembers) {
    const [held] = run({ type: 'RequestEvaluation', requester: addr(2), identity: id });
    run({ type: 'ConfirmHold', holdId: (held!.data as { holdId: string }).holdId });
  }
});
figure('1300 requests (request + confirm)', requestMs, { perRequestUs: Math.round((requestMs / 1300) * 1000) });

const [, snapshotMs] = time(() => { block(201); });
figure('period start with a changed web of trust (snapshot copy)', snapshotMs, { identities: state.snapshot.wot.size });

const values = (k: number): number[] => nonMembers.map((_, i) => (i * 7919 + k * 104_729) % 1_000_000_001);
const [, publishMs] = time(() => {
  for (let k = 0; k < 100; k++) { block(202 + k); run({ type: 'PublishResult', evaluator: evaluators[k]!, period: 1, values: values(k) }); }
});
figure('100 results of 1300 values accepted', publishMs, { perResultMs: Math.round(publishMs) / 100 });

block(401);
const [settled, settleMs] = time(() => run({ type: 'SettleDuePeriod' }));
figure('settle a pool of 1300 with 100 results each (medians, events)', settleMs, {
  events: settled.length, largestEventBytes: Math.max(...settled.map((e) => JSON.stringify(e.data).length)),
});
