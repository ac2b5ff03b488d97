import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  ANY,
  BACKWARDS,
  NO_STREAM,
  START as KURRENT_START,
  type AllStreamResolvedEvent,
  type AppendResult,
  type AppendToStreamOptions,
  type EventData as KurrentEventData,
  type Position,
  type ReadAllOptions,
  type ReadStreamOptions,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { eventStoreContract } from '../testing/contract.js';
import { kurrentEventStoreOn, type KurrentClient } from './kurrentdb.js';
import { START, type LogPosition, type RecordedEvent } from './types.js';

/**
 * The KurrentDB adapter's paging, over a fake client (no server can run here). The fake yields the
 * `AllStreamResolvedEvent` / `ResolvedEvent` shapes of `@kurrent/kurrentdb-client` (as its
 * `convertRustEvent` builds them) and behaves as KurrentDB's documentation describes $all: ordered
 * by (commit, prepare), the events of one append sharing the commit part, a server-side stream-name
 * prefix filter, `maxCount`. Whether `fromPosition` is inclusive is not documented, so both are run.
 */
interface FakeOptions {
  /** `fromPosition` returns the event at that position too (what EventStoreDB's reads have done). */
  readonly inclusive: boolean;
  /** The events of one append share the commit position (KurrentDB issue #627's case). */
  readonly sharedCommit: boolean;
  /** The server ignores the prefix filter (the adapter must still page correctly). */
  readonly ignoreFilter?: boolean;
}

const cmp = (a: Position, b: Position): number =>
  a.commit !== b.commit ? (a.commit < b.commit ? -1 : 1) : a.prepare === b.prepare ? 0 : a.prepare < b.prepare ? -1 : 1;

type Recorded = NonNullable<AllStreamResolvedEvent['event']>;

class FakeKurrent implements KurrentClient {
  readonly log: AllStreamResolvedEvent[] = [];
  readonly readAllCalls: ReadAllOptions[] = [];
  private next = 4096n;
  constructor(
    readonly o: FakeOptions,
    recorded: readonly AllStreamResolvedEvent[] = [],
  ) {
    this.log.push(...recorded.map((r) => ({ ...r, event: { ...r.event! } })));
  }

  private revisionOf(stream: string): bigint | undefined {
    let r: bigint | undefined;
    for (const x of this.log) if (x.event?.streamId === stream) r = x.event.revision;
    return r;
  }

  async appendToStream(streamName: string, events: KurrentEventData | KurrentEventData[], options?: AppendToStreamOptions): Promise<AppendResult> {
    const list = Array.isArray(events) ? events : [events];
    const cur = this.revisionOf(streamName);
    const state = options?.streamState ?? ANY;
    const ok = state === ANY || (state === NO_STREAM ? cur === undefined : typeof state === 'bigint' ? cur === state : cur !== undefined);
    if (!ok) {
      throw Object.assign(new Error(`WrongExpectedVersion ${streamName}`), { type: 'wrong-expected-version', actualState: cur ?? NO_STREAM });
    }
    // Log positions are byte offsets: sparse, and the same commit for every event of the append.
    const commit = this.next;
    let last: Position | undefined;
    list.forEach((e, k) => {
      const prepare = commit + BigInt(k) * 187n;
      const position = { commit: this.o.sharedCommit ? commit : prepare, prepare };
      const event = {
        streamId: streamName,
        id: e.id,
        revision: (cur ?? -1n) + 1n + BigInt(k),
        type: e.type,
        data: e.data,
        metadata: e.metadata,
        isJson: true,
        created: new Date(0),
        position,
      } as Recorded;
      this.log.push({ event, commitPosition: position.commit });
      last = position;
    });
    this.next = commit + BigInt(list.length) * 187n + 61n;
    return { success: true, nextExpectedRevision: (cur ?? -1n) + BigInt(list.length), position: last! };
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterableIterator<AllStreamResolvedEvent> {
    this.readAllCalls.push(options);
    const from = options.fromPosition ?? KURRENT_START;
    const prefixes = options.filter && 'prefixes' in options.filter ? options.filter.prefixes : undefined;
    const sorted = [...this.log].sort((a, b) => cmp(a.event!.position, b.event!.position));
    let n = 0;
    for (const r of sorted) {
      if (typeof from === 'object') {
        const c = cmp(r.event!.position, from);
        if (c < 0 || (c === 0 && !this.o.inclusive)) continue;
      }
      if (!this.o.ignoreFilter && prefixes && !prefixes.some((p) => r.event!.streamId.startsWith(p))) continue;
      if (n++ >= Number(options.maxCount ?? Number.MAX_SAFE_INTEGER)) return;
      yield r;
    }
  }

  async *readStream(streamName: string, options: ReadStreamOptions = {}): AsyncIterableIterator<ResolvedEvent> {
    const events = this.log.filter((r) => r.event?.streamId === streamName);
    if (events.length === 0) throw Object.assign(new Error(`${streamName} not found`), { type: 'stream-not-found' });
    const ordered = options.direction === BACKWARDS ? [...events].reverse() : events;
    const from = options.fromRevision;
    let n = 0;
    for (const r of ordered) {
      if (typeof from === 'bigint' && (options.direction === BACKWARDS ? r.event!.revision > from : r.event!.revision < from)) continue;
      if (n++ >= Number(options.maxCount ?? Number.MAX_SAFE_INTEGER)) return;
      yield r as ResolvedEvent;
    }
  }

  async dispose(): Promise<void> {
    /* nothing held */
  }
}

/** A $all page as KurrentDB returns it: system and foreign streams around one three-event append. */
const at = (commit: bigint, prepare: bigint, streamId: string, revision: bigint, type: string, i: number): AllStreamResolvedEvent => ({
  event: {
    streamId,
    id: randomUUID(),
    revision,
    type,
    data: { i },
    metadata: {},
    isJson: true,
    created: new Date('2026-01-01T00:00:00Z'),
    position: { commit, prepare },
  } as Recorded,
  commitPosition: commit,
});
const RECORDED: readonly AllStreamResolvedEvent[] = [
  at(0n, 0n, '$epoch-information', 0n, '$epoch-information', -1),
  at(1296n, 1296n, 'cat.a', 0n, 'A', 0),
  // One append of three events to cat.b: one commit, three prepares.
  at(2048n, 2048n, 'cat.b', 0n, 'B', 1),
  at(2048n, 2235n, 'cat.b', 1n, 'B', 2),
  at(2048n, 2422n, 'cat.b', 2n, 'B', 3),
  at(2600n, 2600n, 'other.x', 0n, 'X', -1),
  at(3100n, 3100n, '$stats-127.0.0.1:2113', 0n, '$statsCollected', -1),
  at(3500n, 3500n, 'cat.c', 0n, 'C', 4),
  at(3900n, 3900n, 'cat.b', 3n, 'B', 5),
];
const ids = (events: readonly RecordedEvent[]): number[] => events.map((e) => (e.data as { i: number }).i);

for (const inclusive of [true, false]) {
  describe(`KurrentDB adapter over recorded $all events (fromPosition ${inclusive ? 'inclusive' : 'exclusive'})`, () => {
    test('a readAll page that ends inside a multi-event append resumes inside it: every limit, nothing skipped or repeated', async () => {
      for (const ignoreFilter of [false, true]) {
        const store = kurrentEventStoreOn(new FakeKurrent({ inclusive, sharedCommit: true, ignoreFilter }, RECORDED), 'cat');
        const whole = await store.readAll(START, 100);
        assert.deepEqual(ids(whole), [0, 1, 2, 3, 4, 5]);
        assert.deepEqual(
          whole.map((e) => e.position),
          ['1296/1296', '2048/2048', '2048/2235', '2048/2422', '3500/3500', '3900/3900'],
        );
        for (let limit = 1; limit <= 7; limit++) {
          const seen: RecordedEvent[] = [];
          let after: LogPosition = START;
          for (let page = await store.readAll(after, limit); page.length > 0; page = await store.readAll(after, limit)) {
            assert.equal(page.length, Math.min(limit, 6 - seen.length), `limit ${limit}: a short page only at the end`);
            seen.push(...page);
            after = page[page.length - 1]!.position;
          }
          assert.deepEqual(ids(seen), [0, 1, 2, 3, 4, 5], `limit ${limit}${ignoreFilter ? ', filter ignored' : ''}`);
        }
        // The cut of issue #627: after the append's first event, its other two still come (a reader
        // that kept the commit alone and read `commit > 2048` got [4, 5] here).
        assert.deepEqual(ids(await store.readAll(whole[1]!.position, 10)), [2, 3, 4, 5]);
        assert.deepEqual(ids(await store.readAll(whole[2]!.position, 10)), [3, 4, 5]);
      }
    });

    test('the server read starts at the exact (commit, prepare) pair of the last event read', async () => {
      const fake = new FakeKurrent({ inclusive, sharedCommit: true }, RECORDED);
      const store = kurrentEventStoreOn(fake, 'cat');
      const first = await store.readAll(START, 2);
      fake.readAllCalls.length = 0;
      await store.readAll(first[1]!.position, 2);
      assert.deepEqual(fake.readAllCalls[0]!.fromPosition, { commit: 2048n, prepare: 2048n });
      assert.deepEqual((fake.readAllCalls[0]!.filter as { prefixes?: string[] }).prefixes, ['cat.']);
      await store.readAll((await store.readAll(first[1]!.position, 1))[0]!.position, 1);
      assert.deepEqual(fake.readAllCalls.at(-1)!.fromPosition, { commit: 2048n, prepare: 2235n });
    });

    test('checkpoints hold the pair; a bare commit position is refused, not resumed from', async () => {
      const fake = new FakeKurrent({ inclusive, sharedCommit: true }, RECORDED);
      const store = kurrentEventStoreOn(fake, 'cat');
      assert.equal(await store.getCheckpoint('relay'), START);
      const page = await store.readAll(START, 2);
      await store.saveCheckpoint('relay', page[1]!.position);
      const cp = fake.log.filter((r) => r.event?.streamId === 'cat$checkpoint-relay').map((r) => r.event!.data);
      assert.deepEqual(cp, [{ position: '2048/2048' }]);
      const again = kurrentEventStoreOn(fake, 'cat');
      assert.equal(await again.getCheckpoint('relay'), '2048/2048');
      assert.deepEqual(ids(await again.readAll(await again.getCheckpoint('relay'), 10)), [2, 3, 4, 5]);
      await assert.rejects(store.saveCheckpoint('bare', '2048' as LogPosition), /not a \$all position.*#627/);
      await fake.appendToStream('cat$checkpoint-old', {
        id: randomUUID(),
        contentType: 'application/json',
        type: 'Checkpoint',
        data: { position: '2048' },
        metadata: undefined,
      });
      await assert.rejects(store.getCheckpoint('old'), /"2048" is not a \$all position/);
      await assert.rejects(store.readAll('2048' as LogPosition, 1), /commit position alone/);
    });

    test('a stream event without a log position is refused loudly', async () => {
      const fake = new FakeKurrent({ inclusive, sharedCommit: true }, RECORDED);
      (fake.log.find((r) => r.event?.streamId === 'cat.a')!.event as { position?: Position }).position = undefined;
      await assert.rejects(kurrentEventStoreOn(fake, 'cat').readStream('a'), /cat\.a@0 without a log position/);
    });
  });

  // The whole port contract over the fake: expected versions, checkpoints, subscriptions, paging.
  const fake = new FakeKurrent({ inclusive, sharedCommit: true });
  eventStoreContract(`KurrentDB adapter over a fake client (fromPosition ${inclusive ? 'inclusive' : 'exclusive'}, shared commits)`, async (category) =>
    kurrentEventStoreOn(fake, category),
  );
}

const distinct = new FakeKurrent({ inclusive: true, sharedCommit: false });
eventStoreContract('KurrentDB adapter over a fake client (one commit per event)', async (category) => kurrentEventStoreOn(distinct, category));
