import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  START,
  createRuntime,
  generateKeyPair,
  pgliteEventStore,
  silentLogger,
  snapshotsOf,
  snapshotVersion,
  type EventData,
  type EventStore,
  type Runtime,
} from '@ewx/platform';
import { fingerprint, invokeUnary } from '@ewx/platform/testing';
import { periodArchive } from '../app/archive.js';
import { startPeriodReactions } from '../app/periods.js';
import { rewardsDecider } from '../domain/decider.js';
import { evolve, evolveKeepingRows } from '../domain/evolve.js';
import { addr, ev, rounds, tokens } from '../domain/fixtures.js';
import { initialState, type RewardsState } from '../domain/state.js';
import { REWARDS_STATE_VERSION } from '../index.js';
import { rewardsGrpc } from './grpc.js';

/**
 * Bounded memory through the API (docs/SCALING.md §4 item 3): a closed period's rows left the
 * state, and GetOperatorRewards / ListOperatorRewards read them back from its decision events in
 * the log. Their answers equal those of a runtime on the same store whose fold keeps every row
 * (`evolveKeepingRows`, the state as it was): after the closes, after a refused and a credited
 * chunk, and after a restart from a snapshot. PGlite, the service's runtime and reactions, no network.
 */
const settings = { periodBlocks: 10, settlementDelay: 2 };
const admin = generateKeyPair();
const G = 'grp';
const [A, B, C, D, E] = [addr(1), addr(2), addr(3), addr(4), addr(5)];
const OPERATORS = [A, B, C, D, E];

const call = <R>(impl: Record<string, unknown>, method: string, request: unknown): Promise<R> => invokeUnary<R>(impl[method], { request });
const waitUntil = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(check(), 'condition not reached');
};

/** Every answer about the operators' rewards: each period (closed or not), the listings, unclaimed rewards and payouts. */
async function answers(impl: Record<string, unknown>): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const operator of OPERATORS) {
    for (let period = 0; period <= 5; period++)
      out[`${operator} ${period}`] = await call(impl, 'getOperatorRewards', { operator, group: G, rewardPeriod: period });
    out[`${operator} list`] = await call(impl, 'listOperatorRewards', { operator, group: G, limit: 0 });
    out[`${operator} list 2`] = await call(impl, 'listOperatorRewards', { operator, group: G, limit: 2 });
    out[`${operator} unclaimed`] = await call(impl, 'getUnclaimedRewards', { operator });
  }
  out.payouts = await call(impl, 'getGroupPayouts', { group: G, limit: 0 });
  return out;
}

describe('closed periods read back from the log: the same answers as the state that kept them', () => {
  let store: EventStore;
  let reads = 0;
  let runtime: Runtime<RewardsState>;
  let reactions: { stop(): Promise<void> };
  let impl: Record<string, unknown>;
  /** A follower of the same log whose fold keeps every closed period's rows: the answers as before. */
  let reference: Runtime<RewardsState>;
  let referenceImpl: Record<string, unknown>;
  let version = 0;
  const ingest = async (source: string, e: EventData): Promise<void> => {
    await runtime.ingest({ source, streamId: `${source}-stream`, version: version++, position: String(version), type: e.type, data: e.data });
  };
  const boot = async (): Promise<void> => {
    runtime = createRuntime('rewards', store, rewardsDecider, silentLogger, { snapshots: { every: 1_000_000, version: REWARDS_STATE_VERSION } });
    await runtime.start();
    reactions = startPeriodReactions(runtime, settings, silentLogger);
    // The reads go through a counting store; 4 rows kept: a listing of the five operators reads again.
    const counting: EventStore = Object.assign(Object.create(store) as EventStore, {
      readStream: (...a: Parameters<EventStore['readStream']>) => {
        reads++;
        return store.readStream(...a);
      },
    });
    impl = rewardsGrpc(runtime, admin.address, settings, silentLogger, periodArchive(counting, 4)).implementation as Record<string, unknown>;
  };
  const synced = async (): Promise<void> => {
    await reference.catchUp();
    assert.equal(reference.position(), runtime.position());
  };

  before(async () => {
    store = await pgliteEventStore('rewards_closed_periods');
    await boot();
    reference = createRuntime('rewards', store, { ...rewardsDecider, evolve: evolveKeepingRows }, silentLogger);
    await reference.start();
    referenceImpl = rewardsGrpc(reference, admin.address, settings, silentLogger).implementation as Record<string, unknown>;
  });
  after(async () => {
    await reactions.stop();
    await runtime.stop();
    await reference.stop();
    await store.close();
  });

  test('given four closed periods (operators joining, leaving, voting without stake), the answers equal those of the state that kept the rows; the rows left the state', async () => {
    await waitUntil(() => runtime.state().schedule.length === 1);
    await ingest('registry', ev.group(G, { subscriptionRewardPerBlock: tokens(1), votingRewardPerBlock: tokens(2), slaVotingThreshold: 50 }, tokens(1000)));
    await ingest('registry', ev.subscribed(G, A, tokens(1000), 0));
    await ingest('registry', ev.subscribed(G, B, tokens(3000), 0));
    await ingest('registry', ev.subscribed(G, C, tokens(500), 2));
    await ingest('registry', ev.unsubscribed(G, B, 0, 1));
    for (const e of [0, 1, 2, 3].flatMap((p) =>
      rounds(G, p, [
        { op: A, eligible: 4, correct: 3 + (p % 2) },
        { op: B, eligible: p < 3 ? 4 : 0, correct: p < 3 ? 1 : 0 },
        { op: C, eligible: p >= 2 ? 4 : 0, correct: p >= 2 ? 4 : 0 },
        { op: D, eligible: p === 3 ? 2 : 0, correct: p === 3 ? 2 : 0 },
      ]),
    ))
      await ingest('consensus', e);
    await ingest('consensus', { type: 'BlocksProduced', data: { from: 1, to: 45 } });
    await waitUntil(() => runtime.state().groups.get(G)?.lastClosed === 3);
    await synced();
    const g = runtime.state().groups.get(G)!;
    assert.equal(g.closed.size, 4);
    for (const c of g.closed.values())
      assert.deepEqual([c.rows, c.unanswered?.size], [undefined, 1], `period ${c.period}: rows gone, its one chunk unanswered`);
    assert.ok([...reference.state().groups.get(G)!.closed.values()].every((c) => c.rows !== undefined));
    const now = await answers(impl);
    assert.deepEqual(now, await answers(referenceImpl));
    // Sanity: the answers hold amounts; A is paid in each closed period and listed newest first.
    const list = (now as Record<string, { rewards: { rewardPeriod: number; total: string; closed: boolean }[] }>)[`${A} list`]!;
    assert.deepEqual(
      list.rewards.map((r) => [r.rewardPeriod, r.closed, BigInt(r.total) > 0n]),
      [
        [3, true, true],
        [2, true, true],
        [1, true, true],
        [0, true, true],
      ],
    );
    assert.ok(reads > 0, 'closed periods were read from the log');
    // A period read once is kept: asking again reads nothing.
    const before = reads;
    await call(impl, 'getOperatorRewards', { operator: A, group: G, rewardPeriod: 3 });
    await call(impl, 'getOperatorRewards', { operator: B, group: G, rewardPeriod: 3 });
    assert.equal(reads, before);
  });

  test('given the registry credits period 0 and refuses period 1, the answers equal the keeping state, the refused period still shows what was decided, and its payouts left the unclaimed rewards', async () => {
    const decided = await call<{ total: string }>(impl, 'getOperatorRewards', { operator: A, group: G, rewardPeriod: 1 });
    const unclaimedBefore = await call<{ total: string }>(impl, 'getUnclaimedRewards', { operator: A });
    const payouts = (await store.readStream(`group:${G}`)).filter((e) => e.type === 'RewardsComputed');
    const subtotal = (p: number): string =>
      (payouts.find((e) => (e.data as { rewardPeriod: number }).rewardPeriod === p)!.data as { subtotal: string }).subtotal;
    await ingest('registry', { type: 'RewardsCredited', data: { group: G, rewardPeriod: 0, chunk: 0, total: subtotal(0), payouts: [] } });
    await ingest('registry', {
      type: 'RewardsCreditRefused',
      data: { group: G, rewardPeriod: 1, chunk: 0, subtotal: subtotal(1), budget: '0', reason: 'test' },
    });
    await synced();
    const g = runtime.state().groups.get(G)!;
    assert.deepEqual(
      [g.closed.get(0)!.unanswered, g.closed.get(1)!.unanswered, g.closed.get(1)!.refused],
      [undefined, undefined, 1],
      'answered chunks keep nothing',
    );
    assert.deepEqual(await answers(impl), await answers(referenceImpl));
    assert.deepEqual(await call(impl, 'getOperatorRewards', { operator: A, group: G, rewardPeriod: 1 }), decided);
    const unclaimed = await call<{ total: string }>(impl, 'getUnclaimedRewards', { operator: A });
    assert.equal(BigInt(unclaimedBefore.total) - BigInt(unclaimed.total), BigInt(decided.total));
  });

  test('given a restart from the snapshot stored at the stop, the state equals the full replay and the answers are unchanged', async () => {
    const before = await answers(impl);
    const position = runtime.position();
    await reactions.stop();
    await runtime.stop();
    const snap = await snapshotsOf(store)!.loadSnapshot(snapshotVersion(REWARDS_STATE_VERSION, initialState()));
    assert.equal(snap?.position, position, 'a snapshot of this version at the last position');
    await boot();
    assert.equal(runtime.position(), position);
    const replayed = initialState();
    for (const e of await store.readAll(START, 100_000)) evolve(replayed, e);
    assert.equal(fingerprint(runtime.state()), fingerprint(replayed));
    const readsBefore = reads;
    assert.deepEqual(await answers(impl), before);
    assert.ok(reads > readsBefore, 'the restarted service read the closed periods from the log');
    await synced();
    assert.deepEqual(await answers(impl), await answers(referenceImpl));
  });
});
