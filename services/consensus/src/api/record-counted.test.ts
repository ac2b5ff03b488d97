import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  blockRangeOf,
  createRuntime,
  generateKeyPair,
  heightSync,
  HEIGHT_SYNC_CALL_MS,
  openPglite,
  pgliteEventStore,
  postgresEventStore,
  PROTO_ROOT,
  silentLogger,
  startGrpcServer,
  validatorsRecordCountedBlocks,
  type Decider,
  type RecordedEvent,
  type Runtime,
  type StartedServer,
} from '@ewx/platform';
import { capturingLogger, freePort, realInfra, uniqueNamespace } from '@ewx/platform/testing';
import { startBlockClock, type BlockClock } from '../app/clock.js';
import { manualScheduler, tickTimes } from '../app/testing.js';
import { consensusDecider, type ConsensusState } from '../domain/decider.js';
import { consensusGrpc, recordCountedOf } from './grpc.js';

/**
 * CONSENSUS_ADDRESS as a list of validators (packages/platform/src/heights.ts): the height sync of a
 * command reaches whichever validator produces, over real gRPC sockets, whatever the list's order,
 * and follows a standby that took over once the producer is killed. Two validators (place 0 and 1)
 * share one consensus log in PostgreSQL, as the validators of deploy/k8s do; their block timers are
 * ticked by hand (the domain untouched). The service's log is its own (PGlite) and gets consensus's
 * block runs as its inbox would (a relay stands in for Kafka here).
 */
const { infra, skip } = await realInfra();

/** A service's height, folded from block events as every service folds them. */
const heightDecider: Decider<{ height: number }> = {
  initialState: () => ({ height: 0 }),
  evolve: (s, e: RecordedEvent) => {
    const r = blockRangeOf(e);
    if (r) s.height = Math.max(s.height, r.to);
    return s;
  },
};

const capturing = capturingLogger;

const RUN_MAX = 10;

describe('height sync over a list of validators (CONSENSUS_ADDRESS in place order)', { skip, timeout: 120_000 }, () => {
  const ns = uniqueNamespace('rcb');
  const admin = generateKeyPair().address;
  let a: Runtime<ConsensusState>;
  let b: Runtime<ConsensusState>;
  let svc: Runtime<{ height: number }>;
  let db: Awaited<ReturnType<typeof openPglite>>;
  let primary: BlockClock;
  let standby: BlockClock;
  const [ca, cb] = [manualScheduler(), manualScheduler()];
  let serverA: StartedServer;
  let serverB: StartedServer;
  let addrA: string;
  let addrB: string;
  let relayed: Promise<unknown> = Promise.resolve();
  /** Both timers tick once (the standby reading the shared log first, as it polls it). */
  const both = async (n: number) => {
    for (let i = 0; i < n; i++) {
      ca.tick();
      await primary.idle();
      await b.catchUp();
      cb.tick();
      await standby.idle();
    }
  };
  const runs = async (): Promise<string[]> =>
    (await a.store.readStream('chain')).map((e) => {
      const d = e.data as { height?: number; from?: number; to?: number };
      return e.type === 'BlockProduced' ? `${d.height}` : `${d.from}..${d.to}`;
    });

  before(async () => {
    const open = async () => createRuntime('consensus', await postgresEventStore(infra!.databaseUrl, `${ns}_consensus`), consensusDecider, silentLogger);
    a = await open();
    b = await open();
    await a.start();
    await b.start();
    primary = startBlockClock(a, 1000, silentLogger, 0, { runMax: RUN_MAX, scheduler: ca });
    standby = startBlockClock(b, 1000, silentLogger, 1, { runMax: RUN_MAX, scheduler: cb });
    const serve = (rt: Runtime<ConsensusState>, clock: BlockClock) =>
      startGrpcServer(
        [
          consensusGrpc(
            rt,
            admin,
            false,
            silentLogger,
            {},
            recordCountedOf(() => clock, rt, false),
          ),
        ],
        '127.0.0.1',
        0,
        [],
        PROTO_ROOT,
      );
    serverA = await serve(a, primary);
    serverB = await serve(b, standby);
    addrA = `127.0.0.1:${serverA.port}`;
    addrB = `127.0.0.1:${serverB.port}`;
    db = await openPglite();
    svc = createRuntime('svc', await pgliteEventStore('svc', db), heightDecider, silentLogger);
    await svc.start();
    // The service's inbox: every block run either validator records, once, in order.
    const relay = (e: RecordedEvent): void => {
      const r = blockRangeOf(e);
      if (!r) return;
      relayed = relayed.then(() =>
        svc.state().height >= r.to ? undefined : svc.execute('inbox:consensus:chain', () => [{ type: 'BlocksProduced', data: { from: r.from, to: r.to } }]),
      );
    };
    a.onEvent(relay);
    b.onEvent(relay);
  });
  after(async () => {
    await serverB?.stop();
    await standby?.stop();
    await a?.stop();
    await b?.stop();
    await svc?.stop();
    await db?.close();
  });

  test('after an idle stretch the command decides at the producer’s count, whichever validator the list names first', async () => {
    await both(12);
    assert.deepEqual(await runs(), ['1..10'], 'idle: one run of BLOCK_RUN_MAX, the standby recorded nothing');
    assert.equal(primary.counted(), 12);
    await relayed;
    assert.equal(svc.state().height, 10, 'the service reads the recorded height, 2 blocks behind');

    // Producer first (the order deploy/k8s uses: place 0 first).
    const log = capturing();
    const first = validatorsRecordCountedBlocks([addrA, addrB]);
    await heightSync(first, log).sync(svc);
    assert.equal(svc.state().height, 12, 'the command reads the wall-clock height (the producer recorded its count)');
    assert.deepEqual(await runs(), ['1..10', '11..12']);
    first.close();

    // Standby first: it answers that it does not produce; the sync asks the others and gets the producer's count.
    await both(3);
    assert.equal(primary.counted(), 15);
    const reversed = validatorsRecordCountedBlocks([addrB, addrA]);
    assert.deepEqual(await reversed(), { height: 15, producing: true, counted: 15 });
    assert.deepEqual(await runs(), ['1..10', '11..12', '13..15'], 'the standby recorded nothing, the producer its 3 counted blocks');
    await both(2);
    await heightSync(reversed, log).sync(svc);
    assert.equal(svc.state().height, 17);
    assert.deepEqual(await runs(), ['1..10', '11..12', '13..15', '16..17']);
    reversed.close();
    assert.deepEqual(log.warnings, []);
  });

  test('the producer killed: before a standby takes over the command goes on with a warning; then the sync follows the standby', async () => {
    const log = capturing();
    const source = validatorsRecordCountedBlocks([addrA, addrB]);
    const sync = heightSync(source, log);
    // Killed: its timer ticks no more, its gRPC port is closed (nothing counted since 17 is recorded).
    serverA.server.forceShutdown();
    await b.catchUp();
    await tickTimes(cb, standby, 5);
    const t0 = Date.now();
    await sync.sync(svc);
    assert.ok(Date.now() - t0 < 2 * HEIGHT_SYNC_CALL_MS, 'bounded: at most two call deadlines');
    assert.equal(svc.state().height, 17, 'no producer: the recorded height');
    assert.equal(log.warnings.length, 1);
    assert.match(log.warnings[0]!, /no validator at CONSENSUS_ADDRESS produces/);
    await sync.sync(svc);
    assert.equal(log.warnings.length, 1, 'one warning per outage');
    // (1 + 1) × 2 × BLOCK_RUN_MAX = 40 ticks without a block: the standby produces the blocks of those ticks.
    await tickTimes(cb, standby, 4 * RUN_MAX - 5);
    assert.deepEqual((await runs()).slice(4), ['18..57'], 'the standby took over');
    await tickTimes(cb, standby, 3);
    assert.equal(standby.counted(), 60);
    await sync.sync(svc);
    assert.equal(svc.state().height, 60, 'the sync follows the standby: its count is recorded and read');
    assert.deepEqual((await runs()).slice(4), ['18..57', '58..60']);
    assert.ok(log.infos.includes('height sync: a validator produces again'));
    assert.equal(log.warnings.length, 1);
    source.close();
  });

  test('at_least over gRPC: below the count nothing is recorded and the answer says how far the count is; at it, the run', async () => {
    const source = validatorsRecordCountedBlocks([addrA, addrB]);
    await tickTimes(cb, standby, 3);
    assert.equal(standby.counted(), 63);
    assert.deepEqual(await source(65), { height: 60, producing: true, counted: 63 });
    assert.deepEqual((await runs()).slice(4), ['18..57', '58..60'], 'nothing recorded below at_least');
    await tickTimes(cb, standby, 2);
    assert.deepEqual(await source(65), { height: 65, producing: true, counted: 65 });
    assert.deepEqual((await runs()).slice(4), ['18..57', '58..60', '61..65']);
    source.close();
  });
});

test('validatorsRecordCountedBlocks: nothing listens at any address: fails, naming each (the sync warns: consensus unreachable)', async () => {
  const addrs = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
  const source = validatorsRecordCountedBlocks(addrs, undefined, 500);
  await assert.rejects(source(), (e: Error) => addrs.every((x) => e.message.includes(x)));
  source.close();
});
