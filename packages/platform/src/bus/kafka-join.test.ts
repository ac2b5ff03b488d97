import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Logger } from '../log.js';
import { realInfra, uniqueNamespace } from '../testing/infra.js';
import { busyMember, describeGroup } from '../testing/kafka.js';
import { waitFor } from '../testing/wait.js';
import { kafkaBus } from './kafka.js';
import { isConsumeAborted, type Bus, type Consumer } from './types.js';

const { infra, skip } = await realInfra();

/** A logger that keeps its lines (message and fields): the bus logs the end of an aborted start's cleanup. */
function keptLog(): { log: Logger; lines: { msg: string; [k: string]: unknown }[] } {
  const lines: { msg: string; [k: string]: unknown }[] = [];
  const make = (fields: Record<string, unknown>): Logger => {
    const at = (msg: string, f?: Record<string, unknown>): void => void lines.push({ msg, ...fields, ...f });
    return { info: at, warn: at, error: at, child: (c) => make({ ...fields, ...c }) };
  };
  return { log: make({}), lines };
}

const CLEANED = 'inbox: start aborted, no member left in the consumer group';

/**
 * ConsumerOptions.signal on the Kafka bus (real Kafka): an aborted start rejects with a
 * ConsumeAborted and leaves no member in the group. Times are printed (`# ...`) for the record.
 */
describe('Kafka bus: aborting a consumer start', { skip, timeout: 120_000 }, () => {
  const closing: Bus[] = [];
  /** Busy handlers, released at the end whatever happens: their consumer's stop waits for them. */
  const releases: (() => void)[] = [];
  after(async () => {
    for (const r of releases) r();
    for (const b of closing.reverse()) await b.close();
  });
  const busOf = (log: Logger, sessionTimeoutMs?: number): Bus => {
    const bus = kafkaBus({ brokers: infra!.brokers, clientId: 'kafka-join-test', log, ...(sessionTimeoutMs ? { sessionTimeoutMs } : {}) });
    closing.push(bus);
    return bus;
  };
  const members = async (group: string): Promise<number> => (await describeGroup(infra!.brokers, group)).members.length;

  test('aborted before its connect finishes: rejects at once, never joins', async () => {
    const ns = uniqueNamespace('joinnow');
    const topic = `${ns}.ewx.src.events.v1`;
    const { log, lines } = keptLog();
    const bus = busOf(log);
    // Before: without a signal the start runs to its join (a stop waits for it), then the consumer is stopped.
    let t = performance.now();
    const plain = await bus.consume({ groupId: `${ns}-plain`, topics: [topic], handler: async () => undefined });
    const joinMs = performance.now() - t;
    await plain.stop();
    // A signal aborted once the start resolved does nothing: the consumer goes on until stopped.
    const late = new AbortController();
    const seen: string[] = [];
    const kept = await bus.consume({ groupId: `${ns}-late`, topics: [topic], handler: async (m) => void seen.push(m.value), signal: late.signal });
    late.abort(new Error('too late'));
    await bus.publish(topic, [{ key: 'k', value: 'after the abort' }]);
    await waitFor('the message published after the late abort', () => (seen.includes('after the abort') ? true : undefined), 30_000);
    await kept.stop();
    const ac = new AbortController();
    t = performance.now();
    const started = bus.consume({ groupId: `${ns}-g`, topics: [topic], handler: async () => undefined, signal: ac.signal });
    ac.abort(new Error('the replica is stopping'));
    const e = await started.then(
      () => undefined,
      (err: unknown) => err,
    );
    const abortedMs = performance.now() - t;
    console.log(`# before (no signal): the start joined in ${joinMs.toFixed(0)} ms; after: aborted at once, rejected in ${abortedMs.toFixed(1)} ms`);
    assert.ok(isConsumeAborted(e), String(e));
    assert.match((e as Error).message, new RegExp(`^consumer group ${ns}-g: start aborted before (connecting|joining the group): the replica is stopping$`));
    assert.ok(abortedMs < 100, `rejected in ${abortedMs} ms`);
    // The start, left to its next step in the background, stops there without sending a join.
    const cleaned = await waitFor('the aborted start to clean up', () => lines.find((l) => l.msg === CLEANED && l.group === `${ns}-g`));
    assert.equal(cleaned.joinSent, false);
    assert.equal(cleaned.joined, false);
    assert.deepEqual(await describeGroup(infra!.brokers, `${ns}-g`), { state: 'Dead', members: [] });
  });

  /**
   * A join held by the broker: member A of the group is busy with a message (its handler waits),
   * and kafkajs rejoins only between messages, so B's JoinGroup is answered only once A's handler
   * ends (or A's rebalance timeout, 60 s, expels A). B is aborted while its JoinGroup is held.
   */
  const heldJoin = async (tag: string, sessionTimeoutMs: number) => {
    const ns = uniqueNamespace(tag);
    const topic = `${ns}.ewx.src.events.v1`;
    const group = `${ns}-g`;
    const { log, lines } = keptLog();
    const { consumer: a, release } = await busyMember(busOf(keptLog().log), group, topic);
    releases.push(release);
    const ac = new AbortController();
    let b: Consumer | undefined;
    const started = busOf(log, sessionTimeoutMs)
      .consume({ groupId: group, topics: [topic], handler: async () => undefined, signal: ac.signal })
      .then(
        (c) => {
          b = c;
          return undefined;
        },
        (err: unknown) => err,
      );
    // B's JoinGroup (the one with its member id) starts the rebalance and is held until A rejoins.
    await waitFor(
      "B's JoinGroup held by the broker",
      async () => ((await describeGroup(infra!.brokers, group)).state === 'PreparingRebalance' ? true : undefined),
      30_000,
    );
    return { group, lines, a, release, ac, started, b: () => b };
  };

  test('aborted while its JoinGroup is held: waits for the answer, leaves, rejects well before the session timeout', async () => {
    const sessionTimeoutMs = 10_000;
    const { group, lines, a, release, ac, started } = await heldJoin('joinheld', sessionTimeoutMs);
    const t = performance.now();
    ac.abort(new Error('the replica is stopping'));
    // A's handler ends a second later: the rebalance completes, B's JoinGroup is answered.
    const releasing = setTimeout(release, 1000);
    const e = await started;
    const ms = performance.now() - t;
    clearTimeout(releasing);
    release();
    console.log(`# held join (released 1000 ms after the abort): the aborted start rejected in ${ms.toFixed(0)} ms (session timeout ${sessionTimeoutMs} ms)`);
    assert.ok(isConsumeAborted(e), String(e));
    assert.match((e as Error).message, /start aborted while joining the group: the replica is stopping$/);
    assert.ok(ms >= 950, `it waited for its JoinGroup's answer (${ms} ms)`);
    assert.ok(ms < sessionTimeoutMs / 2, `rejected in ${ms} ms`);
    const cleaned = lines.find((l) => l.msg === CLEANED && l.group === group);
    assert.equal(cleaned?.joinSent, true);
    assert.equal(cleaned?.joined, true, 'it joined, then left');
    assert.equal(await members(group), 1, 'only A is left in the group (B sent LeaveGroup before it rejected)');
    await a.stop();
  });

  test('aborted while its JoinGroup is held past the session timeout: rejects at the session timeout, leaves once the join ends', async () => {
    const sessionTimeoutMs = 6000;
    const { group, lines, a, release, ac, started, b } = await heldJoin('joincap', sessionTimeoutMs);
    const t = performance.now();
    ac.abort(new Error('the replica is stopping'));
    const e = await started;
    const ms = performance.now() - t;
    console.log(`# held join (not released): the aborted start rejected in ${ms.toFixed(0)} ms (session timeout ${sessionTimeoutMs} ms)`);
    assert.equal(b(), undefined);
    assert.ok(isConsumeAborted(e), String(e));
    assert.match((e as Error).message, /start aborted while joining the group, whose join had not ended 6000 ms later .*: the replica is stopping$/);
    assert.ok(ms >= sessionTimeoutMs - 50 && ms < sessionTimeoutMs + 3000, `rejected in ${ms} ms`);
    assert.equal(
      lines.find((l) => l.msg === CLEANED && l.group === group),
      undefined,
      'not cleaned up yet: its JoinGroup is still held (A is still busy)',
    );
    // A's handler ends: B's join ends, then B leaves in the background.
    const t2 = performance.now();
    release();
    const cleaned = await waitFor('the aborted start to leave once its join ended', () => lines.find((l) => l.msg === CLEANED && l.group === group), 30_000);
    console.log(`# ... it left ${(performance.now() - t2).toFixed(0)} ms after A's handler was released`);
    assert.equal(cleaned.joined, true);
    assert.equal(await members(group), 1, 'only A is left in the group');
    await a.stop();
  });
});
