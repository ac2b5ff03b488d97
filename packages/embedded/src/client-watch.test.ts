import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { runInMemory } from './index.js';
import type { Embedded } from '@ewx/platform';
import { freePort } from '@ewx/platform/testing';
import {
  EwxCallError,
  SERVICE_NAMES,
  connect,
  counterNonces,
  generateKeyPair,
  keySigner,
  untilHeight,
  watchChanges,
  type Ewx,
  type ServiceName,
  type WatchedEvent,
} from '@ewx/client';

/** Takes `n` events from a watch (then leaves the loop, which cancels the call). */
async function take(it: AsyncGenerator<WatchedEvent, void, undefined>, n: number): Promise<WatchedEvent[]> {
  const out: WatchedEvent[] = [];
  if (n === 0) return out;
  for await (const e of it) {
    out.push(e);
    if (out.length === n) break;
  }
  return out;
}

/** Watch over real gRPC: the embedded system (PGlite in memory) in this process, on a free port. */
describe("Watch: a service's published events from a position, then live", () => {
  const admin = generateKeyPair();
  let system: Embedded;
  let ewx: Ewx;
  const accounts = [generateKeyPair().address, generateKeyPair().address, generateKeyPair().address];
  /** Deposits made so far (each test that makes one counts it). */
  let deposits = 3;

  before(async () => {
    const port = await freePort();
    system = await runInMemory(port, { ADMIN_ADDRESS: admin.address });
    ewx = connect({ address: `127.0.0.1:${port}`, signer: keySigner(admin, counterNonces()) });
    for (const a of accounts) await ewx.registry.deposit({ account: a, amount: '5' });
    // Two single blocks (a BlockProduced each; a larger count is one BlocksProduced run).
    await ewx.consensus.produceBlocks({ count: 1 });
    await ewx.consensus.produceBlocks({ count: 1 });
  });
  after(async () => {
    ewx?.close();
    await system?.stop();
  });

  test('catch-up from START: every published event in log order, with its data, stream, version and height', async () => {
    const deposits = await take(ewx.watch('registry', { types: ['Deposited'] }), 3);
    assert.deepEqual(
      deposits.map((e) => (e.data as { account: string }).account),
      accounts,
    );
    assert.deepEqual(
      deposits.map((e) => e.type),
      ['Deposited', 'Deposited', 'Deposited'],
    );
    assert.ok(deposits.every((e) => e.source === 'registry' && e.service === 'registry' && e.streamId !== '' && e.height === 0n));
    assert.deepEqual(
      deposits.map((e) => typeof e.version),
      ['bigint', 'bigint', 'bigint'],
    );
    // Positions strictly increase (compared as positions: numeric components).
    const first = deposits.map((e) => BigInt(e.position));
    assert.ok(first[0]! < first[1]! && first[1]! < first[2]!, first.join(','));
    // Consensus publishes its blocks; heights follow them.
    const blocks = await take(ewx.watch('consensus', { types: ['BlockProduced'] }), 2);
    assert.deepEqual(
      blocks.map((e) => [(e.data as { height: number }).height, e.height]),
      [
        [1, 1n],
        [2, 2n],
      ],
    );
  });

  test('inbox copies are not published events unless include_inputs asks for them', async () => {
    // Registry's log: 3 deposits, then consensus's 2 blocks as registry recorded them (inputs).
    assert.equal((await ewx.registry.getStatus({})).height, 2n);
    const inputs = await take(ewx.watch('registry', { types: ['BlockProduced'], includeInputs: true }), 2);
    assert.deepEqual(
      inputs.map((e) => [e.source, e.sourceStreamId !== '', e.streamId.startsWith('inbox:consensus:'), e.height]),
      [
        ['consensus', true, true, 1n],
        ['consensus', true, true, 2n],
      ],
    );
    // Without include_inputs, the stream goes from the third deposit to the next own event: the
    // blocks recorded in between are left out.
    const it = ewx.watch('registry');
    const own = [(await it.next()).value!, (await it.next()).value!, (await it.next()).value!];
    assert.deepEqual(
      own.map((e) => e.type),
      ['Deposited', 'Deposited', 'Deposited'],
    );
    const pending = it.next();
    const fresh = generateKeyPair().address;
    await ewx.registry.deposit({ account: fresh, amount: '2' });
    deposits++;
    const next = (await pending).value!;
    assert.equal(next.type, 'Deposited');
    assert.equal((next.data as { account: string }).account, fresh);
    assert.ok(BigInt(next.position) > BigInt(inputs[1]!.position), 'the live deposit comes after the skipped inputs');
    await it.return();
  });

  test('resume from a middle position: the events after it, no repeat, no gap; then live delivery of a new event', async () => {
    const all = (await take(ewx.watch('registry', { types: ['Deposited'] }), deposits)).slice(-3);
    const it = ewx.watch('registry', { from: all[0]!.position, types: ['Deposited'] });
    const resumed = await it.next();
    assert.equal(resumed.value?.position, all[1]!.position);
    assert.equal((await it.next()).value?.position, all[2]!.position);
    // Caught up: the next event is a live one, appended after the stream reached the end.
    const fresh = generateKeyPair().address;
    const pending = it.next();
    await ewx.registry.deposit({ account: fresh, amount: '7' });
    deposits++;
    const live = await pending;
    assert.equal((live.value!.data as { account: string }).account, fresh);
    assert.ok(BigInt(live.value!.position) > BigInt(all[2]!.position));
    // Applied before it is sent: a query right after the event already shows it.
    assert.equal((await ewx.registry.getAccount({ address: fresh })).free, '7');
    await it.return();
  });

  test('from the status position: only what happens after it', async () => {
    const now = await ewx.registry.getStatus({});
    assert.notEqual(now.position, '');
    assert.equal(BigInt(now.position), now.logPosition);
    const it = ewx.watch('registry', { from: now.position });
    const pending = it.next();
    const fresh = generateKeyPair().address;
    await ewx.registry.deposit({ account: fresh, amount: '3' });
    const e = (await pending).value!;
    assert.equal(e.type, 'Deposited');
    assert.equal((e.data as { account: string }).account, fresh);
    await it.return();
  });

  test('cancel: aborting ends the iteration without an error, at once', async () => {
    const ac = new AbortController();
    const got: WatchedEvent[] = [];
    const t0 = Date.now();
    const reading = (async () => {
      for await (const e of ewx.watch('registry', { signal: ac.signal })) {
        got.push(e);
        if (got.length === 2) ac.abort();
      }
    })();
    await reading;
    assert.equal(got.length, 2);
    assert.ok(Date.now() - t0 < 5_000);
    // An idle stream (caught up, waiting for the next event) is cancelled too.
    const idle = new AbortController();
    const now = await ewx.registry.getStatus({});
    const waiting = (async () => {
      for await (const e of ewx.watch('registry', { from: now.position, signal: idle.signal })) got.push(e);
    })();
    setTimeout(() => idle.abort(), 50);
    await waiting;
    assert.equal(got.length, 2);
    // The server still serves watches afterwards.
    assert.equal((await take(ewx.watch('registry', { types: ['Deposited'] }), 1)).length, 1);
  });

  test('bad from_position or types: INVALID_ARGUMENT naming the field', async () => {
    for (const [o, field] of [
      [{ from: 'abc' }, /^from_position: "abc" is not a log position/],
      [{ from: '-1' }, /^from_position: /],
      [{ from: '01' }, /^from_position: /],
      [{ types: ['Deposited', 'no spaces'] }, /^types\[1\]: "no spaces" is not an event type name/],
      [{ types: Array.from({ length: 65 }, (_, i) => `T${i}`) }, /^types: at most 64/],
    ] as const) {
      const e = await take(ewx.watch('registry', o), 1).catch((x: unknown) => x);
      assert.ok(EwxCallError.is(e), String(e));
      assert.equal(e.code, status.INVALID_ARGUMENT);
      assert.match(e.details, field);
      assert.match(e.method, /^\/ewx\.v1\.Registry\/Watch$/);
    }
  });

  test('untilHeight follows the streams: resolves when the last service records the block', async () => {
    const h = (await ewx.consensus.getStatus({})).height + 3n;
    const progress: Record<ServiceName, bigint>[] = [];
    const waiting = untilHeight(ewx, h, {
      timeoutMs: 30_000,
      onProgress: (s) => progress.push(Object.fromEntries(SERVICE_NAMES.map((n) => [n, s[n].height])) as Record<ServiceName, bigint>),
    });
    await ewx.consensus.produceBlocks({ count: 1 });
    await ewx.consensus.produceBlocks({ count: 2 });
    const statuses = await waiting;
    assert.deepEqual(
      SERVICE_NAMES.map((n) => statuses[n].height >= h),
      [true, true, true, true, true],
    );
    assert.ok(progress.length >= 1 && progress.length <= 1 + 3 * SERVICE_NAMES.length, `looks: ${progress.length}`);
    assert.ok(progress[0]!.consensus < h, 'the first look came before the blocks');
  });

  test('watchChanges re-checks on the chosen events only, fails fast on refusals, names what it waited for at the deadline', async () => {
    const changes = watchChanges(ewx, [{ service: 'registry', types: ['Deposited'] }]);
    // Nothing of the chosen type happens: one look, then the deadline (a poller would have looked ~4 times in 400 ms).
    let looks = 0;
    await assert.rejects(
      changes.until(
        'a deposit that never comes',
        async () => {
          looks++;
          return undefined;
        },
        { timeoutMs: 400 },
      ),
      /timed out after 400 ms waiting for a deposit that never comes/,
    );
    assert.equal(looks, 1);
    // A deposit of the watched type: one more look, which finds it.
    const fresh = generateKeyPair().address;
    let calls = 0;
    const found = changes.until(
      'the deposit',
      async () => {
        calls++;
        if (calls === 1) await ewx.registry.deposit({ account: fresh, amount: '4' });
        const a = await ewx.registry.getAccount({ address: fresh });
        return calls > 1 && a.free === '4' ? a.free : undefined;
      },
      { timeoutMs: 30_000 },
    );
    assert.equal(await found, '4');
    deposits++;
    assert.equal(calls, 2);
    const refused = () => ewx.rewards.getGroupPayouts({ group: 'g', limit: 501 }).then(() => undefined);
    await assert.rejects(
      changes.until('a bad question', refused, { timeoutMs: 10_000 }),
      (e: unknown) => EwxCallError.is(e) && e.code === status.INVALID_ARGUMENT,
    );
  });

  test('every service serves Watch', async () => {
    const blocks = await take(ewx.watch('consensus', { types: ['BlockProduced'] }), 1);
    assert.equal(blocks.length, 1);
    for (const s of ['voting', 'rewards', 'distance', 'registry'] as const) {
      const e = await take(ewx.watch(s, { types: ['BlockProduced'], includeInputs: true }), 1);
      assert.equal(e[0]?.type, 'BlockProduced', s);
    }
  });
});

describe('Watch: the server stopping ends open streams cleanly', () => {
  test('an idle stream ends (no error) and the stop does not wait for it', async () => {
    const admin = generateKeyPair();
    const port = await freePort();
    // A minute of grace: a stop that waited for the open stream would take it (no timing of the stop itself).
    process.env.GRPC_SHUTDOWN_GRACE_MS = '60000';
    const system = await runInMemory(port, { ADMIN_ADDRESS: admin.address });
    const ewx = connect({ address: `127.0.0.1:${port}`, signer: keySigner(admin, counterNonces()) });
    try {
      await ewx.registry.deposit({ account: generateKeyPair().address, amount: '1' });
      const got: WatchedEvent[] = [];
      let first!: () => void;
      const firstSeen = new Promise<void>((r) => (first = r));
      const reading = (async () => {
        for await (const e of ewx.watch('registry')) {
          got.push(e);
          first();
        }
      })();
      await firstSeen;
      const t0 = Date.now();
      await system.stop();
      const stopMs = Date.now() - t0;
      await reading;
      assert.equal(got.length, 1);
      // Without the stop signal the graceful shutdown would wait the minute of grace for the open call, then force it.
      assert.ok(stopMs < 30_000, `stop took ${stopMs} ms`);
    } finally {
      ewx.close();
      delete process.env.GRPC_SHUTDOWN_GRACE_MS;
    }
  });
});
