import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isWrongExpectedVersion } from '../errors.js';
import { subscribe } from '../eventstore/subscription.js';
import { START, comparePositions, parsePosition, type EventStore, type LogPosition, type RecordedEvent } from '../eventstore/types.js';
import { silentLogger } from '../log.js';

/**
 * The one contract every event store adapter passes. `open(category)` returns a store over a fresh,
 * empty log; opening the same category twice must see the same log (a restart).
 */
const ids = (events: readonly RecordedEvent[]): number[] => events.map((e) => (e.data as { i: number }).i);

export function eventStoreContract(adapter: string, open: (category: string) => Promise<EventStore>, options: { skip?: string } = {}): void {
  let n = 0;
  const fresh = (): string => `c${Date.now().toString(36)}${process.pid.toString(36)}${n++}`;
  describe(`event store contract: ${adapter}`, { skip: options.skip }, () => {
    test('append to a new stream at NO_STREAM, read it back in version order', async () => {
      const s = await open(fresh());
      const r = await s.append(
        'a-1',
        [
          { type: 'One', data: { x: 1 } },
          { type: 'Two', data: { y: 'z' }, metadata: { signer: 'k' } },
        ],
        -1,
      );
      assert.equal(r.nextVersion, 1);
      const ev = await s.readStream('a-1');
      assert.deepEqual(
        ev.map((e) => [e.type, e.version]),
        [
          ['One', 0],
          ['Two', 1],
        ],
      );
      assert.deepEqual(ev[0]!.data, { x: 1 });
      assert.deepEqual(ev[1]!.metadata, { signer: 'k' });
      assert.equal(ev[1]!.position, r.lastPosition);
      await s.close();
    });

    test('a wrong expected version is a typed conflict and appends nothing', async () => {
      const s = await open(fresh());
      await s.append('a', [{ type: 'E', data: {} }], -1);
      await assert.rejects(s.append('a', [{ type: 'E', data: {} }], -1), (e) => isWrongExpectedVersion(e) && e.actual === 0);
      await assert.rejects(s.append('a', [{ type: 'E', data: {} }], 5), (e) => isWrongExpectedVersion(e));
      await assert.rejects(s.append('b', [{ type: 'E', data: {} }], 0), (e) => isWrongExpectedVersion(e) && e.actual === -1);
      assert.equal((await s.readStream('a')).length, 1);
      assert.equal((await s.readStream('b')).length, 0);
      await s.append('a', [{ type: 'E', data: {} }], 0);
      assert.equal((await s.readStream('a')).length, 2);
      await s.close();
    });

    test('concurrent appends at the same version: exactly one wins', async () => {
      const s = await open(fresh());
      const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => s.append('race', [{ type: 'E', data: { i } }], -1)));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      assert.ok(results.filter((r) => r.status === 'rejected').every((r) => isWrongExpectedVersion((r as PromiseRejectedResult).reason)));
      await s.close();
    });

    test('readAll gives every stream in global order from a position, and pages', async () => {
      const s = await open(fresh());
      await s.append('x', [{ type: 'X1', data: {} }], -1);
      await s.append('y', [{ type: 'Y1', data: {} }], -1);
      await s.append(
        'x',
        [
          { type: 'X2', data: {} },
          { type: 'X3', data: {} },
        ],
        0,
      );
      const all = await s.readAll(START, 100);
      assert.deepEqual(
        all.map((e) => e.type),
        ['X1', 'Y1', 'X2', 'X3'],
      );
      for (let i = 1; i < all.length; i++) assert.ok(comparePositions(all[i]!.position, all[i - 1]!.position) > 0);
      const rest = await s.readAll(all[1]!.position, 100);
      assert.deepEqual(
        rest.map((e) => e.type),
        ['X2', 'X3'],
      );
      assert.deepEqual(
        (await s.readAll(START, 2)).map((e) => e.type),
        ['X1', 'Y1'],
      );
      assert.deepEqual(await s.readAll(all[3]!.position, 10), []);
      await s.close();
    });

    test('readStream from a version, at most maxCount; an unknown stream is empty', async () => {
      const s = await open(fresh());
      await s.append(
        's',
        [0, 1, 2].map((i) => ({ type: 'E', data: { i } })),
        -1,
      );
      assert.deepEqual(
        (await s.readStream('s', 1)).map((e) => (e.data as { i: number }).i),
        [1, 2],
      );
      assert.deepEqual(await s.readStream('nope'), []);
      assert.deepEqual(
        (await s.readStream('s', 1, 1)).map((e) => (e.data as { i: number }).i),
        [1],
        'at most maxCount events',
      );
      assert.deepEqual((await s.readStream('s', 0, 5)).length, 3);
      await s.close();
    });

    test('data round-trips exactly: key order, unicode, big decimal strings', async () => {
      const s = await open(fresh());
      const data = { z: 1, a: 'Ğ1 ✓', amount: '123456789012345678901234567890', nested: { b: [1, 2, { c: null }], a: true } };
      await s.append('d', [{ type: 'D', data }], -1);
      const [e] = await s.readStream('d');
      assert.equal(JSON.stringify(e!.data), JSON.stringify(data));
      await s.close();
    });

    test('checkpoints are durable across reopening the store', async () => {
      const cat = fresh();
      const s = await open(cat);
      assert.equal(await s.getCheckpoint('relay'), START);
      const r = await s.append('c', [{ type: 'E', data: {} }], -1);
      await s.saveCheckpoint('relay', r.lastPosition);
      await s.saveCheckpoint('relay', r.lastPosition);
      await s.close();
      const again = await open(cat);
      assert.equal(await again.getCheckpoint('relay'), r.lastPosition);
      assert.equal(await again.getCheckpoint('other'), START);
      assert.equal((await again.readStream('c')).length, 1);
      await again.close();
    });

    test('a catch-up subscription resumes from its checkpoint: nothing lost, nothing twice', async () => {
      const cat = fresh();
      const s = await open(cat);
      for (let i = 0; i < 5; i++) await s.append(`s${i}`, [{ type: 'E', data: { i } }], -1);
      const seen: number[] = [];
      const sub1 = subscribe(s, {
        checkpoint: 'p',
        batchSize: 2,
        pollMs: 20,
        log: silentLogger,
        handler: async (b) => {
          for (const e of b) seen.push((e.data as { i: number }).i);
        },
      });
      await sub1.caughtUp;
      await sub1.stop();
      for (let i = 5; i < 8; i++) await s.append(`s${i}`, [{ type: 'E', data: { i } }], -1);
      const sub2 = subscribe(s, {
        checkpoint: 'p',
        pollMs: 20,
        log: silentLogger,
        handler: async (b) => {
          for (const e of b) seen.push((e.data as { i: number }).i);
        },
      });
      await sub2.caughtUp;
      await s.append('live', [{ type: 'E', data: { i: 8 } }], -1);
      for (let t = 0; t < 100 && seen.length < 9; t++) await new Promise((r) => setTimeout(r, 20));
      await sub2.stop();
      assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
      await s.close();
    });

    test('multi-event appends read with a limit that cuts through them at every offset: nothing skipped, nothing repeated', async () => {
      const s = await open(fresh());
      const ev = (is: number[]) => is.map((i) => ({ type: 'E', data: { i } }));
      await s.append('a', ev([0]), -1);
      const five = await s.append('b', ev([1, 2, 3, 4, 5]), -1);
      await s.append('c', ev([6]), -1);
      await s.append('b', ev([7, 8, 9]), 4);
      await s.append('d', ev([10, 11]), -1);
      const expected = Array.from({ length: 12 }, (_, i) => i);
      const whole = await s.readAll(START, 100);
      assert.deepEqual(ids(whole), expected);
      for (let i = 1; i < whole.length; i++) assert.ok(comparePositions(whole[i]!.position, whole[i - 1]!.position) > 0, `position ${i} after ${i - 1}`);
      assert.equal(five.lastPosition, whole[5]!.position, "lastPosition is the last appended event's");
      if (five.written) {
        assert.equal(five.written.preceding, whole[0]!.position);
        assert.deepEqual(
          five.written.positions,
          whole.slice(1, 6).map((e) => e.position),
        );
      }
      assert.deepEqual(
        (await s.readStream('b')).map((e) => e.position),
        [...whole.slice(1, 6), ...whole.slice(7, 10)].map((e) => e.position),
        'a stream read gives the same positions as readAll',
      );
      for (let limit = 1; limit <= 13; limit++) {
        const seen: RecordedEvent[] = [];
        let after: LogPosition = START;
        for (;;) {
          const page = await s.readAll(after, limit);
          assert.equal(page.length, Math.min(limit, expected.length - seen.length), `limit ${limit} after ${seen.length}: fewer only at the end`);
          if (page.length === 0) break;
          seen.push(...page);
          after = page[page.length - 1]!.position;
        }
        assert.deepEqual(ids(seen), expected, `paging by ${limit}`);
        assert.deepEqual(
          seen.map((e) => e.position),
          whole.map((e) => e.position),
        );
      }
      for (let k = 0; k < whole.length; k++) assert.deepEqual(ids(await s.readAll(whole[k]!.position, 100)), expected.slice(k + 1), `after event ${k}`);
      await s.close();
    });

    test('resumption from a checkpoint taken inside one append, after reopening the store', async () => {
      const cat = fresh();
      const s = await open(cat);
      await s.append(
        'm',
        [0, 1, 2, 3, 4, 5].map((i) => ({ type: 'E', data: { i } })),
        -1,
      );
      await s.append('n', [{ type: 'E', data: { i: 6 } }], -1);
      const all = await s.readAll(START, 100);
      for (let k = 1; k < 6; k++) await s.saveCheckpoint(`mid${k}`, all[k - 1]!.position);
      await s.close();
      const again = await open(cat);
      for (let k = 1; k < 6; k++) {
        const cp = await again.getCheckpoint(`mid${k}`);
        assert.equal(cp, all[k - 1]!.position);
        assert.deepEqual(ids(await again.readAll(cp, 100)), [0, 1, 2, 3, 4, 5, 6].slice(k), `resumed after event ${k - 1}`);
      }
      // A subscription resumed there, with batches that cut through the append again.
      const seen: number[] = [];
      const sub = subscribe(again, {
        checkpoint: 'mid2',
        batchSize: 2,
        pollMs: 20,
        log: silentLogger,
        handler: async (b) => {
          seen.push(...ids(b));
        },
      });
      await sub.caughtUp;
      await sub.stop();
      assert.deepEqual(seen, [2, 3, 4, 5, 6]);
      assert.equal(await again.getCheckpoint('mid2'), all[6]!.position);
      assert.equal(sub.position(), all[6]!.position);
      await again.close();
    });

    test('positions are opaque values: serialised forms round-trip, and conflicts leave no hole a reader trips on', async () => {
      const s = await open(fresh());
      const results = await Promise.allSettled(
        Array.from({ length: 4 }, (_, i) =>
          s.append(
            'race',
            [
              { type: 'E', data: { i: 10 * i } },
              { type: 'E', data: { i: 10 * i + 1 } },
            ],
            -1,
          ),
        ),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      await s.append('after', [{ type: 'E', data: { i: 99 } }], -1);
      const all = await s.readAll(START, 100);
      assert.equal(all.length, 3);
      assert.equal(all[2]!.type, 'E');
      assert.deepEqual(ids(all.slice(2)), [99]);
      for (const e of all) {
        assert.equal(parsePosition(String(e.position)), e.position);
        const carried = (JSON.parse(JSON.stringify({ p: e.position })) as { p: string }).p;
        assert.equal(carried, e.position, 'a position survives JSON as it is');
      }
      let after: LogPosition = START;
      const one: RecordedEvent[] = [];
      for (let page = await s.readAll(after, 1); page.length > 0; page = await s.readAll(after, 1)) {
        one.push(...page);
        after = parsePosition(String(page[0]!.position));
      }
      assert.deepEqual(
        one.map((e) => e.position),
        all.map((e) => e.position),
      );
      await s.close();
    });

    test('a handler failure is retried with the same batch', async () => {
      const s = await open(fresh());
      await s.append('f', [{ type: 'E', data: {} }], -1);
      let calls = 0;
      const sub = subscribe(s, {
        checkpoint: 'f',
        pollMs: 10,
        log: silentLogger,
        handler: async () => {
          if (++calls === 1) throw new Error('boom');
        },
      });
      await sub.caughtUp;
      await sub.stop();
      assert.equal(calls, 2);
      assert.ok(comparePositions(await s.getCheckpoint('f'), START) > 0);
      await s.close();
    });
  });
}
