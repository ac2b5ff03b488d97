import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envelopesOf, parseEnvelope, runEntry, runOverhead, runRecord, toEnvelope, type Envelope, type TraceCarrier } from './envelope.js';
import type { Json, RecordedEvent } from './eventstore/types.js';

const event = (version: number, type: string, data: Json, metadata?: Json, streamId = 'round:s:r'): RecordedEvent =>
  ({ streamId, version, position: `p${version}`, type, data, ...(metadata !== undefined ? { metadata } : {}) }) as unknown as RecordedEvent;

/** Values that JSON text, UTF-8 and a size count can get wrong. */
const awkward: Json[] = [
  { s: 'quote " backslash \\ newline \n tab \t nul \u0000 del \u007f' },
  { s: 'non-BMP 🗳️ 𝔘 and BMP é ß 中' },
  { s: 'lone surrogates \ud800 and \udfff' },
  { n: 1e21, m: -0.5, z: 0, big: '123456789012345678901234567890' },
  { nested: [[], {}, [null, true, false], { a: { b: { c: [1, 2, 3] } } }] },
  { looksLikeABlock: '"type":"BlockProduced"', v: 2, events: [] },
  null,
  'a string',
  42,
  [1, 'two', { three: 3 }],
];

test('run records: every event reads back as the single form gives it (awkward values, prevOfType, trace); the data text is unchanged', () => {
  const events = awkward.map((d, i) =>
    event(i, i === 5 ? 'BlockProduced' : 'VoteCast', d, i % 3 === 0 ? { prevOfType: i - 1, traceparent: 'ignored: the entry carries the trace given' } : null),
  );
  const traces = events.map((_, i) =>
    i % 2 === 0 ? { traceparent: `00-${'ab'.repeat(16)}-${String(i + 1).padStart(16, '0')}-01`, ...(i === 4 ? { tracestate: 'k=v,é=1' } : {}) } : undefined,
  );
  const value = runRecord(
    'voting',
    events.map((e, i) => runEntry(e, traces[i])),
  );
  const got = envelopesOf(value);
  assert.equal(got.length, events.length);
  got.forEach((d, i) => {
    const single = parseEnvelope(JSON.stringify(toEnvelope('voting', events[i]!)));
    assert.deepEqual(d.envelope, single, `event ${i} as the single form`);
    assert.equal(JSON.stringify(d.envelope.data), JSON.stringify(events[i]!.data), `event ${i}: the same data text`);
    assert.deepEqual(d.trace, traces[i], `event ${i}: its own trace`);
  });
  assert.equal(got[0]!.envelope.prevOfType, -1);
  assert.equal('prevOfType' in got[1]!.envelope, false, 'absent stays absent');
  assert.equal('traceparent' in got[0]!.envelope, false, 'the trace is not part of the envelope');
});

test('run records: an event read with its data as stored text (dataText) gives the same entry text as its parsed data', () => {
  awkward.forEach((d, i) => {
    const metadata = i % 3 === 0 ? { prevOfType: i - 1 } : null;
    const parsed = event(i, 'VoteCast', d, metadata);
    const asText = { ...event(i, 'VoteCast', null, metadata), dataText: JSON.stringify(d) };
    for (const trace of [
      undefined,
      { traceparent: `00-${'ab'.repeat(16)}-${'01'.repeat(8)}-01` },
      { traceparent: `00-${'ab'.repeat(16)}-${'01'.repeat(8)}-01`, tracestate: 'k=v' },
    ] as (TraceCarrier | undefined)[]) {
      assert.equal(runEntry(asText, trace), runEntry(parsed, trace), `value ${i}, trace ${JSON.stringify(trace)}`);
    }
  });
  // Text as another writer may have stored it (spaces): spliced as it is, read back as the same value.
  const spaced = { ...event(0, 'E', null), dataText: '{ "a" : [1, 2] }' };
  assert.deepEqual(envelopesOf(runRecord('voting', [runEntry(spaced)]))[0]!.envelope.data, { a: [1, 2] });
});

test('single-event records (every older build) still read, with the headers as their trace', () => {
  const e = event(3, 'VoteCast', { w: 1 }, { prevOfType: 2 });
  const headers = { traceparent: `00-${'cd'.repeat(16)}-${'01'.repeat(8)}-01` };
  const value = JSON.stringify(toEnvelope('voting', e));
  assert.deepEqual(envelopesOf(value, headers), [{ envelope: parseEnvelope(value), trace: headers }]);
  assert.deepEqual(envelopesOf(value), [{ envelope: parseEnvelope(value), trace: undefined }]);
  // An envelope written before prevOfType existed.
  const old = '{"source":"registry","streamId":"operator:x","version":0,"position":"9","type":"WorkerConnected","data":{"w":"x"}}';
  assert.deepEqual(envelopesOf(old)[0]!.envelope, {
    source: 'registry',
    streamId: 'operator:x',
    version: 0,
    position: '9',
    type: 'WorkerConnected',
    data: { w: 'x' },
  });
});

test("run records: the byte count the relay uses is the value's UTF-8 size", () => {
  for (const source of ['voting', 'sölution-🗳️']) {
    const entries = awkward.map((d, i) => runEntry(event(i, 'E', d)));
    for (const n of [0, 1, 2, entries.length]) {
      const some = entries.slice(0, n);
      const counted = runOverhead(source, some.length) + some.reduce((a, x) => a + Buffer.byteLength(x), 0);
      assert.equal(counted, Buffer.byteLength(runRecord(source, some)), `${source}, ${n} entries`);
    }
  }
});

test('records refused with a message naming what is wrong (redelivered, never skipped); an older build refuses a run', () => {
  const ok = runEntry(event(0, 'E', {}));
  assert.throws(() => envelopesOf('{"v":3,"source":"voting","events":[]}'), /unknown record form v=3/);
  assert.throws(() => envelopesOf('{"v":2,"source":"voting"}'), /run \(v=2\) needs source and events/);
  assert.throws(() => envelopesOf(`{"v":2,"events":[${ok}]}`), /needs source and events/);
  assert.throws(() => envelopesOf(`{"v":2,"source":"voting","events":[${ok},null]}`), /run event 1 is not an object/);
  assert.throws(
    () => envelopesOf('{"v":2,"source":"voting","events":[{"version":0,"position":"1","type":"E"}]}'),
    /expected source, streamId, version and type/,
  );
  assert.throws(() => envelopesOf('{"v":2,"source":"voting","events":[{"streamId":"s","version":0,"type":"E"}]}'), /run event 0 needs a position/);
  assert.throws(
    () => envelopesOf('{"v":2,"source":"voting","events":[{"streamId":"s","version":0,"position":"1","type":"E","prevOfType":0.5}]}'),
    /prevOfType/,
  );
  assert.throws(() => envelopesOf('[1]'), /expected a JSON object/);
  assert.throws(() => envelopesOf('{"source":"voting","version":0,"type":"E"}'), /expected source, streamId/);
  assert.throws(() => envelopesOf('not json'), SyntaxError);
  // parseEnvelope (one event) points at envelopesOf for a run.
  assert.throws(() => parseEnvelope(runRecord('voting', [ok])), /holds a run of events: read it with envelopesOf/);
  // The check of the builds before run records (faf4098's parseEnvelope), applied to a run: it
  // throws, so an old consumer redelivers the record and stays behind, loudly, instead of recording
  // something wrong.
  const oldParse = (value: string): Envelope => {
    const v = JSON.parse(value) as Partial<Envelope>;
    if (typeof v.source !== 'string' || typeof v.streamId !== 'string' || typeof v.version !== 'number' || typeof v.type !== 'string') {
      throw new Error('envelope: expected source, streamId, version and type');
    }
    return v as Envelope;
  };
  assert.throws(() => oldParse(runRecord('voting', [ok])), /expected source, streamId, version and type/);
});
