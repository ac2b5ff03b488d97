import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServiceDecider } from './decider.js';
import { pgliteEventStore } from './eventstore/pglite.js';
import { silentLogger, type Logger } from './log.js';
import { startProcessManager } from './reactions.js';
import { createRuntime } from './runtime.js';
import { waitFor } from './testing/wait.js';

/** A toy service: debts are recorded, the process manager pays each; paying `a` makes `c` owed. */
interface S {
  readonly owed: Set<string>;
  readonly paid: string[];
}
type C = { readonly type: 'Owe'; readonly id: string } | { readonly type: 'Pay'; readonly id: string };
const toy: ServiceDecider<S, C> = {
  initialState: () => ({ owed: new Set(), paid: [] }),
  evolve(s, e) {
    const id = (e.data as { id: string }).id; // a toy event, not a service contract
    if (e.type === 'Owed') s.owed.add(id);
    if (e.type === 'Paid') {
      s.owed.delete(id);
      s.paid.push(id);
      if (id === 'a') s.owed.add('c');
    }
    return s;
  },
  decide(c, s) {
    if (c.type === 'Owe') return [{ type: 'Owed', data: { id: c.id } }];
    if (c.id === 'bad') throw new Error('refused');
    return s.owed.has(c.id) ? [{ type: 'Paid', data: { id: c.id } }] : [];
  },
  streamOf: (c) => `debt:${c.id}`,
};

test('startProcessManager: executes what is due at start-up and after triggers, each command once per pass, failures logged and left for the next pass', async () => {
  const runtime = createRuntime('toy', await pgliteEventStore('toy'), toy, silentLogger);
  await runtime.start();
  for (const id of ['a', 'bad', 'b']) await runtime.execute(`debt:${id}`, (s) => toy.decide({ type: 'Owe', id }, s, undefined));
  const warnings: unknown[] = [];
  const log: Logger = {
    ...silentLogger,
    warn: (msg: string, fields?: Record<string, unknown>) => {
      warnings.push({ msg, ...fields });
    },
  };
  const pm = startProcessManager(runtime, {
    decider: toy,
    policy: undefined,
    log,
    failure: 'toy payment failed',
    due: (s) => [...s.owed].map((id): C => ({ type: 'Pay', id })),
    triggers: (e) => e.type === 'Owed',
  });
  // a and b paid, and c, which paying a made due, in the same pass; bad tried once and logged.
  await waitFor('a, b and c paid', () => (runtime.state().paid.length === 3 ? true : undefined));
  assert.deepEqual([...runtime.state().paid].sort(), ['a', 'b', 'c']);
  assert.deepEqual(warnings, [{ msg: 'toy payment failed', command: 'Pay', error: 'refused' }]);
  const written = await runtime.store.readStream('debt:c');
  assert.deepEqual(
    written.map((e) => e.type),
    ['Paid'],
    'each command on the stream streamOf names',
  );
  // A trigger runs another pass: d is paid, bad is tried (and refused) once more.
  await runtime.execute('debt:d', (s) => toy.decide({ type: 'Owe', id: 'd' }, s, undefined));
  await waitFor('d paid', () => (runtime.state().paid.includes('d') ? true : undefined));
  await pm.stop();
  assert.equal(warnings.length, 2);
  assert.deepEqual([...runtime.state().owed], ['bad']);
  await runtime.stop();
  await runtime.store.close();
});

test('startProcessManager: onDone is told each command that succeeded, with the events it appended and its duration; a throwing onDone is logged as a failure', async () => {
  const runtime = createRuntime('toy', await pgliteEventStore('toy_done'), toy, silentLogger);
  await runtime.start();
  for (const id of ['a', 'bad']) await runtime.execute(`debt:${id}`, (s) => toy.decide({ type: 'Owe', id }, s, undefined));
  const warnings: unknown[] = [];
  const log: Logger = {
    ...silentLogger,
    warn: (msg: string, fields?: Record<string, unknown>) => {
      warnings.push({ msg, ...fields });
    },
  };
  const done: { command: C; events: string[]; ms: number }[] = [];
  const pm = startProcessManager(runtime, {
    decider: toy,
    policy: undefined,
    log,
    failure: 'toy payment failed',
    // Paying 'none', which nobody owes, decides nothing: onDone sees it with no events.
    due: (s): C[] => [...[...s.owed].map((id): C => ({ type: 'Pay', id })), { type: 'Pay', id: 'none' }],
    triggers: (e) => e.type === 'Owed',
    onDone: (command, events, ms) => {
      done.push({ command, events: events.map((e) => `${e.type}:${e.streamId}`), ms });
      if (command.type === 'Pay' && command.id === 'c') throw new Error('hook broke');
    },
  });
  await waitFor('a and c paid', () => (runtime.state().paid.length === 2 ? true : undefined));
  await pm.stop();
  assert.deepEqual(
    done.map((d) => [d.command, d.events]),
    [
      [{ type: 'Pay', id: 'a' }, ['Paid:debt:a']],
      [{ type: 'Pay', id: 'c' }, ['Paid:debt:c']],
      [{ type: 'Pay', id: 'none' }, []],
    ],
    'once per successful command, in order; not for the refused one',
  );
  assert.ok(done.every((d) => Number.isInteger(d.ms) && d.ms >= 0));
  assert.deepEqual(warnings, [
    { msg: 'toy payment failed', command: 'Pay', error: 'refused' },
    { msg: 'toy payment failed', command: 'Pay', error: 'hook broke' },
  ]);
  await runtime.stop();
  await runtime.store.close();
});
