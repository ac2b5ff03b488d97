import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { kafkaBus } from './bus/kafka.js';
import { topicOf } from './bus/types.js';
import { readEnv } from './config.js';
import { pgliteEventStore } from './eventstore/pglite.js';
import type { EventStore } from './eventstore/types.js';
import { eventSourcedService, isStartAborted, StartAborted } from './host.js';
import { inboxGroupOf } from './inbox.js';
import { silentLogger } from './log.js';
import type { Decider } from './runtime.js';
import { realInfra, uniqueNamespace } from './testing/infra.js';
import { describeGroup } from './testing/kafka.js';
import { waitFor } from './testing/wait.js';

const { infra, skip } = await realInfra();

const counter: Decider<number> = { initialState: () => 0, evolve: (s) => s + 1 };

/**
 * A start that can be aborted (StartHooks.signal, what a voting partition losing its lease mid-start
 * uses): the inbox catch-up wait ends at once, the consumer leaves its group before the start rejects.
 */
describe('eventSourcedService: an aborted start', { skip, timeout: 120_000 }, () => {
  const closing: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const c of closing.reverse()) await c.close();
  });

  /** A service whose log refuses every append (a fenced partition): its inbox never catches up. */
  const fencedService = async (ns: string) => {
    const bus = kafkaBus({ brokers: infra!.brokers, clientId: 'host-abort-test', log: silentLogger });
    closing.push(bus);
    const inner = await pgliteEventStore(`${ns}_voting`);
    closing.push(inner);
    const store: EventStore = { ...inner, append: () => Promise.reject(new Error('fenced: this replica lost its lease')) };
    const service = eventSourcedService(
      // INBOX_CATCH_UP_TIMEOUT_MS at its maximum: without the abort the start would wait an hour.
      { store, bus, log: silentLogger, env: readEnv({ INBOX_CATCH_UP_TIMEOUT_MS: '3600000' }), admin: 'admin', mode: 'standalone', namespace: ns },
      'voting',
      { decider: counter, inbox: { registry: ['GroupRegistered'] }, grpc: () => [], instance: 'voting_p7' },
    );
    return { bus, service, group: inboxGroupOf('voting_p7', ns) };
  };

  test('aborted while waiting for the inbox to catch up: rejects with StartAborted, and its consumer has left the group', async () => {
    const ns = uniqueNamespace('hostabort');
    const { bus, service, group } = await fencedService(ns);
    // One wanted event waits in the inbox's topic; it can never be recorded (the log refuses appends).
    await bus.publish(topicOf('registry', ns), [
      {
        key: 'registry',
        value: JSON.stringify({ source: 'registry', streamId: 'group:g', version: 0, position: '1', type: 'GroupRegistered', data: {}, prevOfType: -1 }),
      },
    ]);
    const abort = new AbortController();
    let queryable = false;
    const started = service
      .start({
        signal: abort.signal,
        queryable: () => {
          queryable = true;
        },
      })
      .then(
        () => 'started',
        (e: unknown) => e,
      );
    // It joins its group and then waits for the catch-up, which never comes.
    await waitFor(
      'the inbox to join its group',
      async () => ((await describeGroup(infra!.brokers, group)).members.length === 1 ? true : undefined),
      60_000,
      100,
    );
    assert.equal(queryable, true, 'queries were answered before the join');
    abort.abort(new Error('its lease was lost to another replica'));
    const outcome = await started;
    assert.ok(isStartAborted(outcome) && outcome instanceof StartAborted, `rejected with StartAborted: ${String(outcome)}`);
    assert.match(
      (outcome as Error).message,
      /^start aborted while waiting for the inbox to catch up with its topics' end offsets at join: its lease was lost to another replica$/,
    );
    assert.deepEqual((await describeGroup(infra!.brokers, group)).members, [], 'no member of this start is left in the group');
    await service.stop();
  });

  test('aborted before it joins: rejects, and never joins the group', async () => {
    const ns = uniqueNamespace('hostabort');
    const { service, group } = await fencedService(ns);
    const abort = new AbortController();
    const started = service
      .start({
        signal: abort.signal,
        // The lease is lost while the state is rebuilt, before the inbox joins.
        queryable: () => abort.abort(new Error('its lease is being given back')),
      })
      .then(
        () => 'started',
        (e: unknown) => e,
      );
    const outcome = await started;
    assert.ok(isStartAborted(outcome), `rejected with StartAborted: ${String(outcome)}`);
    assert.equal((outcome as Error).message, 'start aborted once queryable: its lease is being given back');
    await service.stop();
    const g = await describeGroup(infra!.brokers, group);
    assert.deepEqual([g.state, g.members], ['Dead', []], 'the group was never joined');
  });
});
