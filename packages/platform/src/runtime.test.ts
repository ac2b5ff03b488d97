import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPglite } from './eventstore/pglite.js';
import { DomainError, invalid } from './errors.js';
import { pgliteEventStore } from './eventstore/pglite.js';
import type { EventData, RecordedEvent } from './eventstore/types.js';
import { silentLogger } from './log.js';
import { createRuntime, type Decider } from './runtime.js';

interface Counter {
  total: number;
  log: string[];
}
const decider: Decider<Counter> = {
  initialState: () => ({ total: 0, log: [] }),
  evolve: (s, e: RecordedEvent) => {
    if (e.type === 'Added') {
      s.total += (e.data as { n: number }).n;
      s.log.push(`${e.streamId}@${e.version}#${e.position}`);
    }
    return s;
  },
};
const add = (n: number) => (s: Counter) => {
  if (n <= 0) throw invalid('n', 'must be positive');
  return [{ type: 'Added', data: { n, before: s.total } }];
};

test('runtime: commands append and apply; a replay of the log gives the same state, byte for byte', async () => {
  const db = await openPglite();
  const store = await pgliteEventStore('rt1', db);
  const rt = createRuntime('rt1', store, decider, silentLogger);
  await rt.start();
  await rt.execute('a', add(2));
  await rt.execute('b', add(3));
  await rt.execute('a', add(5));
  await assert.rejects(rt.execute('a', add(0)), (e) => e instanceof DomainError && e.code === 'INVALID_ARGUMENT');
  assert.equal(rt.state().total, 10);
  await rt.stop();
  const replay = createRuntime('rt1', store, decider, silentLogger);
  await replay.start();
  assert.equal(JSON.stringify(replay.state()), JSON.stringify(rt.state()));
  assert.equal(replay.position(), rt.position());
  await replay.stop();
  await db.close();
});

test('runtime: nonces must increase per signer; a refused command changes nothing', async () => {
  const db = await openPglite();
  const store = await pgliteEventStore('rt2', db);
  const rt = createRuntime('rt2', store, decider, silentLogger);
  await rt.start();
  await rt.execute('a', add(1), { signer: 'alice', nonce: 5n });
  await assert.rejects(
    rt.execute('a', add(1), { signer: 'alice', nonce: 5n }),
    (e) => e instanceof DomainError && e.code === 'PERMISSION_DENIED' && /nonce/.test(e.message),
  );
  await assert.rejects(rt.execute('a', add(1), { signer: 'alice', nonce: 4n }), (e) => e instanceof DomainError && e.code === 'PERMISSION_DENIED');
  await rt.execute('a', add(1), { signer: 'bob', nonce: 1n });
  await rt.execute('a', add(1), { signer: 'alice', nonce: 6n });
  assert.equal(rt.state().total, 3);
  assert.equal(rt.lastNonce('alice'), 6n);
  await rt.stop();
  // Nonces are part of the log: a restarted process refuses the old ones too.
  const again = createRuntime('rt2', store, decider, silentLogger);
  await again.start();
  await assert.rejects(again.execute('a', add(1), { signer: 'alice', nonce: 6n }), (e) => e instanceof DomainError && e.code === 'PERMISSION_DENIED');
  assert.equal((await store.readStream('a')).length, 3);
  await again.stop();
  await db.close();
});

test("runtime: a co-signer's nonce is checked and recorded like the signer's, also after a restart", async () => {
  const db = await openPglite();
  const store = await pgliteEventStore('rt2c', db);
  const rt = createRuntime('rt2c', store, decider, silentLogger);
  await rt.start();
  const consent = (nonce: bigint) => [{ field: 'worker_auth', signer: 'wendy', nonce }];
  const reused = (e: unknown) =>
    e instanceof DomainError && e.code === 'PERMISSION_DENIED' && /^worker_auth\.nonce: 7 was already used by wendy/.test(e.message);
  await rt.execute('a', add(1), { signer: 'alice', nonce: 1n, cosigners: consent(7n) });
  assert.equal(rt.lastNonce('wendy'), 7n);
  assert.deepEqual((await store.readStream('a'))[0]!.metadata, { signer: 'alice', nonce: '1', cosigners: [{ signer: 'wendy', nonce: '7' }], prevOfType: -1 });
  await assert.rejects(rt.execute('a', add(1), { signer: 'alice', nonce: 2n, cosigners: consent(7n) }), reused);
  // The co-signer's own commands continue after the nonce it co-signed with.
  await assert.rejects(
    rt.execute('a', add(1), { signer: 'wendy', nonce: 7n }),
    (e) => e instanceof DomainError && /^nonce: 7 was already used/.test(e.message),
  );
  await rt.stop();
  const again = createRuntime('rt2c', store, decider, silentLogger);
  await again.start();
  await assert.rejects(again.execute('a', add(1), { signer: 'alice', nonce: 2n, cosigners: consent(7n) }), reused);
  assert.equal(again.state().total, 1);
  await again.execute('a', add(1), { signer: 'alice', nonce: 2n, cosigners: consent(8n) });
  assert.deepEqual([again.lastNonce('alice'), again.lastNonce('wendy'), again.state().total], [2n, 8n, 2]);
  await again.stop();
  await db.close();
});

test("runtime: several commands in one event (metadata `signers`, voting's VotesCast): each signer's nonce is recorded, also after a restart", async () => {
  const db = await openPglite();
  const store = await pgliteEventStore('rt2s', db);
  const rt = createRuntime('rt2s', store, decider, silentLogger);
  await rt.start();
  const together = (): EventData[] => [
    {
      type: 'Added',
      data: { n: 2 },
      metadata: {
        signers: [
          ['wendy', '4', 'aa'],
          ['walt', '9'],
        ],
      },
    },
  ];
  await rt.execute('a', together);
  assert.deepEqual([rt.lastNonce('wendy'), rt.lastNonce('walt'), rt.lastNonce('nobody')], [4n, 9n, 0n]);
  await assert.rejects(rt.execute('a', add(1), { signer: 'walt', nonce: 9n }), (e) => e instanceof DomainError && /^nonce: 9 was already used/.test(e.message));
  await rt.stop();
  const again = createRuntime('rt2s', store, decider, silentLogger);
  await again.start();
  assert.deepEqual([again.lastNonce('wendy'), again.lastNonce('walt'), again.state().total], [4n, 9n, 2]);
  await again.stop();
  await db.close();
});

test('runtime: two processes writing one log stay consistent (conflicts are retried on fresh state)', async () => {
  const db = await openPglite();
  const a = createRuntime('rt3', await pgliteEventStore('rt3', db), decider, silentLogger);
  const b = createRuntime('rt3', await pgliteEventStore('rt3', db), decider, silentLogger);
  await a.start();
  await b.start();
  await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).execute('shared', add(1))));
  await a.catchUp();
  await b.catchUp();
  assert.equal(a.state().total, 20);
  assert.equal(b.state().total, 20);
  // Each event saw the total before it: no lost update.
  const events = await a.store.readStream('shared');
  assert.deepEqual(
    events.map((e) => (e.data as { before: number }).before),
    Array.from({ length: 20 }, (_, i) => i),
  );
  await a.stop();
  await b.stop();
  await db.close();
});

test('runtime: an inbox delivery recorded once whatever the number of deliveries', async () => {
  const db = await openPglite();
  const rt = createRuntime('rt4', await pgliteEventStore('rt4', db), decider, silentLogger);
  await rt.start();
  const env = { source: 'registry', streamId: 'ledger:x', version: 0, position: '7', type: 'Added', data: { n: 4 } };
  assert.equal(await rt.ingest(env), true);
  assert.equal(await rt.ingest(env), false);
  assert.equal(await rt.ingest({ ...env, version: 1, data: { n: 1 } }), true);
  assert.equal(await rt.ingest(env), false);
  assert.equal(rt.state().total, 5);
  await rt.stop();
  await db.close();
});

test('runtime: each own event records the previous version of its type in its stream; inbox refuses a gap', async () => {
  const db = await openPglite();
  const src = createRuntime('src', await pgliteEventStore('gsrc', db), decider, silentLogger);
  await src.start();
  await src.execute('s', (): EventData[] => [
    { type: 'Added', data: { n: 1 } },
    { type: 'Noted', data: {} },
    { type: 'Added', data: { n: 2 } },
  ]);
  await src.execute('s', (): EventData[] => [
    { type: 'Noted', data: {} },
    { type: 'Added', data: { n: 3 } },
  ]);
  const own = await src.store.readStream('s');
  assert.deepEqual(
    own.map((e) => [e.type, (e.metadata as { prevOfType: number }).prevOfType]),
    [
      ['Added', -1],
      ['Noted', -1],
      ['Added', 0],
      ['Noted', 1],
      ['Added', 2],
    ],
  );

  // A consumer that records only `Added` accepts filtered-out types in between, refuses a lost `Added`.
  const { toEnvelope } = await import('./envelope.js');
  const dst = createRuntime('dst', await pgliteEventStore('gdst', db), decider, silentLogger);
  await dst.start();
  const added = own.filter((e) => e.type === 'Added').map((e) => toEnvelope('src', e));
  assert.equal(await dst.ingest(added[0]!), true);
  await assert.rejects(dst.ingest(added[2]!), (e: Error) => e.name === 'InboxGapError' && /gap in src stream s: Added v4 follows Added v2/.test(e.message));
  assert.equal(dst.state().total, 1, 'nothing recorded past the gap');
  assert.equal(await dst.ingest(added[1]!), true);
  assert.equal(await dst.ingest(added[2]!), true);
  assert.equal(await dst.ingest(added[1]!), false, 'a duplicate is still ignored');
  assert.equal(dst.state().total, 6);
  await dst.stop();

  // After a restart the consumer knows what it recorded: the next gap is still refused.
  await src.execute('s', () => [{ type: 'Added', data: { n: 4 } }]);
  await src.execute('s', () => [{ type: 'Added', data: { n: 5 } }]);
  const more = (await src.store.readStream('s', 5)).map((e) => toEnvelope('src', e));
  const again = createRuntime('dst', dst.store, decider, silentLogger);
  await again.start();
  await assert.rejects(again.ingest(more[1]!), /gap in src stream s/);
  assert.equal(await again.ingest(more[0]!), true);
  assert.equal(await again.ingest(more[1]!), true);
  assert.equal(again.state().total, 15);
  await again.stop();
  await src.stop();
  await db.close();
});

test('runtime: a batch of deliveries is recorded like one delivery at a time, with one append per run of a source stream', async () => {
  const db = await openPglite();
  const store = await pgliteEventStore('rtb', db);
  let appends = 0;
  const counting = {
    ...store,
    append: (...a: Parameters<typeof store.append>) => {
      appends++;
      return store.append(...a);
    },
  };
  const rt = createRuntime('rtb', counting, decider, silentLogger);
  await rt.start();
  const env = (streamId: string, version: number, n: number, prevOfType?: number) => ({
    source: 'src',
    streamId,
    version,
    position: String(version + 1),
    type: 'Added',
    data: { n },
    ...(prevOfType !== undefined ? { prevOfType } : {}),
  });
  // Two runs of stream a around one of stream b; a duplicate inside the batch and one already recorded.
  assert.equal(await rt.ingest(env('a', 0, 1, -1)), true);
  appends = 0;
  const recorded = await rt.ingestBatch!(
    [env('a', 0, 1, -1), env('a', 1, 2, 0), env('a', 2, 3, 1), env('a', 2, 3, 1), env('b', 0, 10, -1), env('a', 3, 4, 2)],
    [undefined, { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }],
  );
  assert.deepEqual(recorded, [false, true, true, false, true, true]);
  assert.equal(appends, 3, 'a, b, a: one append each');
  assert.equal(rt.state().total, 20);
  const a = await rt.store.readStream('inbox:src:a');
  assert.deepEqual(
    a.map((e) => (e.metadata as { sourceVersion: number }).sourceVersion),
    [0, 1, 2, 3],
  );
  assert.equal(
    (a[1]!.metadata as { traceparent?: string }).traceparent,
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    "each record keeps its delivery's trace",
  );
  // A gap: the envelopes before it are recorded, then it throws; a redelivery of the whole batch records the rest once.
  await assert.rejects(rt.ingestBatch!([env('a', 4, 5, 3), env('a', 6, 7, 5)]), (e: Error) => e.name === 'InboxGapError');
  assert.equal(rt.state().total, 25);
  assert.deepEqual(await rt.ingestBatch!([env('a', 4, 5, 3), env('a', 5, 6, 4), env('a', 6, 7, 5)]), [false, true, true]);
  assert.equal(rt.state().total, 38);
  await rt.stop();
  // A replay gives the same state.
  const again = createRuntime('rtb', store, decider, silentLogger);
  await again.start();
  assert.equal(again.state().total, 38);
  await again.stop();
  await db.close();
});

test('runtime: while commands are refused (start-up), execute answers UNAVAILABLE with the reason and changes nothing; nonces are not spent', async () => {
  const db = await openPglite();
  const store = await pgliteEventStore('rtgate', db);
  const rt = createRuntime('rtgate', store, decider, silentLogger);
  await rt.start();
  await rt.execute('a', add(1));
  rt.refuseCommands('rtgate is starting (joining its Kafka consumer group x)');
  await assert.rejects(
    rt.execute('a', add(2), { signer: 'alice', nonce: 1n }),
    (e) => e instanceof DomainError && e.code === 'UNAVAILABLE' && /starting \(joining its Kafka consumer group x\)/.test(e.message),
  );
  assert.equal(rt.state().total, 1, 'queries read the state meanwhile');
  assert.equal((await store.readStream('a')).length, 1);
  rt.refuseCommands(undefined);
  await rt.execute('a', add(2), { signer: 'alice', nonce: 1n });
  assert.equal(rt.state().total, 3);
  await rt.stop();
  await db.close();
});
