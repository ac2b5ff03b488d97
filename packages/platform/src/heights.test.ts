import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openPglite, pgliteEventStore } from './eventstore/pglite.js';
import type { RecordedEvent } from './eventstore/types.js';
import { readEnv } from './config.js';
import { consensusAddressFrom, grpcRecordCountedBlocks, heightSync } from './heights.js';
import type { Logger } from './log.js';
import { createRuntime, type Decider } from './runtime.js';
import { freePort } from './testing/process.js';

/** A service's height, folded from block events as every service folds them. */
const decider: Decider<{ height: number }> = {
  initialState: () => ({ height: 0 }),
  evolve: (s, e: RecordedEvent) => {
    if (e.type === 'BlocksProduced') s.height = (e.data as { to: number }).to;
    return s;
  },
};

const capturing = (): Logger & { warnings: string[] } => {
  const warnings: string[] = [];
  const log: Logger & { warnings: string[] } = { warnings, info() {}, error() {}, warn: (m: string) => void warnings.push(m), child: () => log };
  return log;
};

test('heightSync: asks consensus, then waits until the service log holds that height (the inbox), and goes on at once when it already does', async () => {
  const db = await openPglite();
  const rt = createRuntime('hs', await pgliteEventStore('hs', db), decider, capturing());
  await rt.start();
  let asked = 0;
  const log = capturing();
  // Consensus records the counted blocks up to 12; the inbox event arrives a little later.
  const sync = heightSync(async () => {
    asked++;
    setTimeout(() => void rt.execute('inbox:consensus:chain', () => [{ type: 'BlocksProduced', data: { from: 1, to: 12 } }]), 30);
    return 12;
  }, log);
  await sync.sync(rt);
  assert.equal(rt.state().height, 12, 'the command reads the wall-clock height');
  assert.equal(asked, 1);
  // Already there: no wait, and the block was appended once.
  const sync2 = heightSync(async () => 12, log);
  await sync2.sync(rt);
  assert.equal((await rt.store.readStream('inbox:consensus:chain')).length, 1);
  assert.deepEqual(log.warnings, []);
  // The inbox never gets there: the bounded wait ends with a warning and the command goes on.
  const late = heightSync(async () => 99, log, { waitMs: 50 });
  await late.sync(rt);
  assert.equal(rt.state().height, 12);
  assert.equal(log.warnings.length, 1);
  assert.match(log.warnings[0]!, /inbox did not reach consensus height/);
  await rt.stop();
  await db.close();
});

test('heightSync: consensus unreachable (nothing listens at CONSENSUS_ADDRESS): the command goes on, one warning per outage', async () => {
  const db = await openPglite();
  const rt = createRuntime('hs2', await pgliteEventStore('hs2', db), decider, capturing());
  await rt.start();
  const log = capturing();
  const record = grpcRecordCountedBlocks(`127.0.0.1:${await freePort()}`, undefined, 500);
  const sync = heightSync(record, log);
  await sync.sync(rt);
  await sync.sync(rt);
  assert.equal(log.warnings.length, 1, 'warned once');
  assert.match(log.warnings[0]!, /consensus unreachable/);
  sync.close();
  // No source at all (standalone without CONSENSUS_ADDRESS): nothing asked, nothing waited for.
  await heightSync(undefined, log).sync(rt);
  assert.equal(log.warnings.length, 1);
  await rt.stop();
  await db.close();
});

test('CONSENSUS_ADDRESS: one host:port, or one per validator in place order; anything else is refused naming the variable', () => {
  assert.equal(consensusAddressFrom(readEnv({})), undefined);
  assert.deepEqual(consensusAddressFrom(readEnv({ CONSENSUS_ADDRESS: 'consensus:50051' })), ['consensus:50051']);
  assert.deepEqual(consensusAddressFrom(readEnv({ CONSENSUS_ADDRESS: 'consensus-0:50051, consensus-1:50051,consensus-2:50051' })), [
    'consensus-0:50051',
    'consensus-1:50051',
    'consensus-2:50051',
  ]);
  assert.throws(() => consensusAddressFrom(readEnv({ CONSENSUS_ADDRESS: 'consensus-0:50051,consensus-1' })), /CONSENSUS_ADDRESS: .*host:port/);
  assert.throws(() => consensusAddressFrom(readEnv({ CONSENSUS_ADDRESS: ',' })), /CONSENSUS_ADDRESS/);
  assert.throws(() => consensusAddressFrom(readEnv({ CONSENSUS_ADDRESS: 'a:1,a:1' })), /CONSENSUS_ADDRESS: expected distinct addresses/);
});
