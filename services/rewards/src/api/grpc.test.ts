import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  START,
  createRuntime,
  generateKeyPair,
  pgliteEventStore,
  signCommand,
  silentLogger,
  type EventData,
  type EventStore,
  type Runtime,
} from '@ewx/platform';
import { invokeUnary } from '@ewx/platform/testing';
import { SetRewardPeriodLengthRequest } from '@ewx/proto/rewards';
import { startPeriodReactions } from '../app/periods.js';
import { rewardsDecider } from '../domain/decider.js';
import { addr, ev, tokens } from '../domain/fixtures.js';
import type { RewardsState } from '../domain/state.js';
import { rewardsGrpc } from './grpc.js';

/**
 * The service in process over PGlite: inbox events in, the period reactions closing periods, and
 * the gRPC handlers' answers and status codes, without a network.
 */
const settings = { periodBlocks: 10, settlementDelay: 2 };
const admin = generateKeyPair();
const G = 'grp';
const [A, B] = [addr(1), addr(2)];

const call = <R>(impl: Record<string, unknown>, method: string, request: unknown): Promise<R> => invokeUnary<R>(impl[method], { request });
const status = async (p: Promise<unknown>): Promise<{ code: number; details: string }> => {
  try {
    await p;
  } catch (e) {
    return e as { code: number; details: string };
  }
  throw new Error('expected the call to fail');
};
/**
 * The runtime as the reactions see it, counting the commands they have in flight: the reactions
 * are drained when none is in flight once every queued promise callback has run (a pass only
 * chains commands through promises, so a setImmediate comes after all of its steps).
 */
function counting(rt: Runtime<RewardsState>): { runtime: Runtime<RewardsState>; drained(): Promise<void> } {
  let inFlight = 0;
  const runtime = new Proxy(rt, {
    get(target, p) {
      if (p === 'execute') {
        return async (...args: Parameters<Runtime<RewardsState>['execute']>) => {
          inFlight++;
          try {
            return await target.execute(...args);
          } finally {
            inFlight--;
          }
        };
      }
      const v = Reflect.get(target, p, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
  return {
    runtime,
    async drained() {
      for (let i = 0; i < 10_000; i++) {
        await tick();
        if (inFlight === 0) {
          await tick();
          if (inFlight === 0) return;
        }
      }
      throw new Error('the period reactions did not drain');
    },
  };
}
const waitUntil = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(check(), 'condition not reached');
};

describe('rewards in process: inbox → reactions → gRPC', () => {
  let store: EventStore;
  let runtime: Runtime<RewardsState>;
  let reactions: { stop(): Promise<void> };
  /** Resolves once the period reactions have nothing in flight. */
  let drained: () => Promise<void>;
  let impl: Record<string, unknown>;
  let version = 0;
  const ingest = async (source: string, e: EventData): Promise<void> => {
    await runtime.ingest({ source, streamId: `${source}-stream`, version: version++, position: String(version), type: e.type, data: e.data });
  };
  const boot = async (): Promise<void> => {
    runtime = createRuntime('rewards', store, rewardsDecider, silentLogger);
    await runtime.start();
    const counted = counting(runtime);
    drained = counted.drained;
    reactions = startPeriodReactions(counted.runtime, settings, silentLogger);
    impl = rewardsGrpc(runtime, admin.address, settings, silentLogger).implementation as Record<string, unknown>;
  };
  const shutdown = async (): Promise<void> => {
    await reactions.stop();
    await runtime.stop();
  };

  before(async () => {
    store = await pgliteEventStore('rewards_api');
    await boot();
  });
  after(async () => {
    await shutdown();
    await store.close();
  });

  test('the calendar starts at first start; period 0 closes at block 12 and is answered', async () => {
    await waitUntil(() => runtime.state().schedule.length === 1);
    const cur = await call<{ period: { index: number; lastBlock: bigint }; settlementDelay: number }>(impl, 'getCurrentPeriod', {});
    assert.deepEqual([cur.period.index, cur.period.lastBlock, cur.settlementDelay], [0, 10n, 2]);
    await ingest('registry', ev.group(G, { subscriptionRewardPerBlock: tokens(1), votingRewardPerBlock: tokens(1), slaVotingThreshold: 50 }, tokens(1000)));
    await ingest('registry', ev.subscribed(G, A, tokens(1), 0));
    await ingest('registry', ev.subscribed(G, B, tokens(3), 0));
    await ingest('consensus', ev.round(G, 0, 'r1', [A, B], [A]));
    for (let h = 1; h <= 11; h++) await ingest('consensus', ev.block(h));
    await drained(); // the reactions to block 11 are done (period 1 started)
    assert.equal(runtime.state().lastStartedPeriod, 1);
    assert.equal(runtime.state().groups.get(G)!.lastClosed, -1, 'not closed before last block + delay');
    const open = await call<{ closed: boolean; eligibleRounds: number; slaMet: boolean }>(impl, 'getOperatorRewards', { operator: A, group: G, period: 0 });
    assert.deepEqual([open.closed, open.eligibleRounds, open.slaMet], [false, 1, true]);
    await ingest('consensus', ev.block(12));
    await waitUntil(() => runtime.state().groups.get(G)!.lastClosed === 0);
    // In the log, the decision follows block 12: it was not taken on an earlier block.
    const log = await store.readAll(START, 10_000);
    const block12 = log.findIndex((e) => e.type === 'BlockProduced' && (e.data as { height: number }).height === 12);
    assert.ok(block12 >= 0 && log.findIndex((e) => e.type === 'RewardInputsRecorded') > block12);
    const a = await call<{ base: string; active: string; total: string; totalWholeTokens: string; slaMet: boolean; closed: boolean }>(
      impl,
      'getOperatorRewards',
      { operator: A, group: G, period: 0 },
    );
    assert.deepEqual(
      [a.base, a.active, a.total, a.totalWholeTokens, a.slaMet, a.closed],
      ['2500000000000000000', tokens(10), '12500000000000000000', '12', true, true],
    );
    const b = await call<{ total: string; slaMet: boolean }>(impl, 'getOperatorRewards', { operator: B, group: G, period: 0 });
    assert.deepEqual([b.total, b.slaMet], ['7500000000000000000', false]);
    const history = await call<{ rewards: { period: number; total: string }[] }>(impl, 'listOperatorRewards', { operator: A, group: G, limit: 0 });
    assert.deepEqual(
      history.rewards.map((r) => [r.period, r.total]),
      [[0, '12500000000000000000']],
    );
    const payouts = await call<{ periods: { period: number; paid: string }[]; budgetAvailable: string }>(impl, 'getGroupPayouts', { group: G, limit: 0 });
    assert.deepEqual(
      payouts.periods.map((p) => [p.period, p.paid]),
      [[0, tokens(20)]],
    );
    assert.equal(payouts.budgetAvailable, tokens(980));
    // reward_period (issue 10) is filled beside the deprecated period, in every answer.
    const renamed = await call<{ periods: { period: number; rewardPeriod: number }[] }>(impl, 'getGroupPayouts', { group: G, limit: 0 });
    assert.deepEqual(
      renamed.periods.map((p) => [p.period, p.rewardPeriod]),
      [[0, 0]],
    );
    const now = await call<{ period: { index: number }; rewardPeriod: { index: number } }>(impl, 'getCurrentPeriod', {});
    assert.deepEqual([now.period.index, now.rewardPeriod.index], [1, 1]);
    const one = await call<{ period: number; rewardPeriod: number; closed: boolean }>(impl, 'getOperatorRewards', {
      operator: A,
      group: G,
      rewardPeriod: 1,
      period: 0,
    });
    assert.deepEqual([one.period, one.rewardPeriod, one.closed], [1, 1, false], 'reward_period is read; period 0 is "not sent"');
    const same = await call<{ rewardPeriod: number; total: string }>(impl, 'getOperatorRewards', { operator: A, group: G, rewardPeriod: 0 });
    assert.deepEqual([same.rewardPeriod, same.total], [0, '12500000000000000000']);
  });

  test('bad requests are refused with the field and the rule', async () => {
    const e1 = await status(call(impl, 'getOperatorRewards', { operator: '', group: G, period: 0 }));
    assert.deepEqual([e1.code, e1.details], [3, 'operator: required: an address ed25519:<64 lowercase hex> or an SS58 sr25519 address (prefix 42)']);
    const e2 = await status(call(impl, 'getOperatorRewards', { operator: A, group: 'nope', period: 0 }));
    assert.equal(e2.code, 5);
    const e3 = await status(call(impl, 'getGroupPayouts', { group: G, limit: 501 }));
    assert.deepEqual([e3.code, e3.details], [3, 'limit: at most 500, got 501']);
    const e4 = await status(call(impl, 'getOperatorRewards', { operator: A, group: G, rewardPeriod: 1, period: 2 }));
    assert.deepEqual([e4.code, e4.details], [3, 'reward_period: reward_period (1) and the deprecated period (2) differ: send reward_period only']);
  });

  test('SetRewardPeriodLength: signed by the admin, once per nonce; a forged or foreign signature is refused', async () => {
    const sign = (key = admin, length = 5, nonce = 1n) =>
      signCommand(key, '/ewx.v1.Rewards/SetRewardPeriodLength', { auth: undefined, length }, nonce, (m) => SetRewardPeriodLengthRequest.encode(m).finish());
    const forged = { ...sign(), length: 6 };
    assert.equal((await status(call(impl, 'setRewardPeriodLength', forged))).code, 16);
    assert.equal((await status(call(impl, 'setRewardPeriodLength', sign(generateKeyPair())))).code, 7);
    const ok = await call<{ entry: { fromPeriod: number; firstBlock: bigint; length: number } }>(impl, 'setRewardPeriodLength', sign());
    assert.deepEqual(ok.entry, { fromPeriod: 2, firstBlock: 21n, length: 5 });
    assert.equal((await status(call(impl, 'setRewardPeriodLength', sign(admin, 7, 1n)))).code, 7);
    assert.equal(runtime.state().schedule.at(-1)!.length, 5);
  });

  test('a restart replays the log to the same answers and closes nothing twice', async () => {
    const before = await call(impl, 'getOperatorRewards', { operator: A, group: G, period: 0 });
    const position = runtime.position();
    await shutdown();
    await boot();
    await drained(); // the start-up pass (calendar, period starts, due closes) is done
    assert.deepEqual(await call(impl, 'getOperatorRewards', { operator: A, group: G, period: 0 }), before);
    assert.equal(runtime.position(), position);
    const decided = (await store.readAll(START, 10_000)).filter((e) => e.type === 'RewardsDecided');
    assert.equal(decided.length, 1);
  });
});
