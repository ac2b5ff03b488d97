import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { blockRangeOf, runEmbedded, START, type Embedded, type RecordedEvent } from '@ewx/platform';
import { freePort, waitFor } from '@ewx/platform/testing';
import { connect, counterNonces, generateKeyPair, keySigner, type Ewx, type KeyPair, type Signer } from '@ewx/client';
import { testGroupConfig } from '@ewx/client/testing';
import { ALL_MODULES } from './index.js';

const T = 10n ** 18n;
const BLOCK_TIME_MS = 20;
/** Far above the reward period: the timer alone would record an idle run every 1000 blocks (50 periods). */
const RUN_MAX = 1000;
const PERIOD = 20;
const DELAY = 2;
/** Periods measured after the setup: two stretches, of 2 and of 4 idle periods. */
const SHORT = 2;
const LONG = 4;
const LOGS = ['registry', 'voting', 'rewards', 'distance'] as const;

interface Close {
  readonly period: number;
  /** The height at which it falls due: its last block + REWARDS_SETTLEMENT_DELAY. */
  readonly due: number;
}

/**
 * The services' own deadlines (issue 13, "The clock"): with BLOCK_RUN_MAX far above the reward
 * period, an idle period still closes on time, because rewards asks consensus for a run when the
 * count reaches the period's close (RecordCountedBlocks with at_least, @ewx/platform deadlineWatch).
 * So each log gains a constant number of events per idle period (the run, and the close's own
 * events), not a number that grows with the blocks of the period or with BLOCK_RUN_MAX.
 */
describe("idle reward periods close at their deadline whatever BLOCK_RUN_MAX (the services' deadline watch)", () => {
  let system: Embedded;
  let ewx: Ewx;
  const admin = generateKeyPair();
  const registrar = generateKeyPair();
  const nonce = counterNonces();
  const as = (k: KeyPair): Signer => keySigner(k, nonce);
  const read = async (service: string): Promise<RecordedEvent[]> => system.logs.get(service as never)!.readAll(START, 100_000);
  const closes = async (): Promise<Close[]> =>
    (await read('rewards'))
      .filter((e) => e.type === 'RewardsDecided')
      .map((e) => {
        const d = e.data as { rewardPeriod: number; inputs: { lastBlock: number } };
        return { period: d.rewardPeriod, due: d.inputs.lastBlock + DELAY };
      });

  before(async () => {
    const port = await freePort();
    system = await runEmbedded(
      ALL_MODULES,
      {
        DATA_DIR: 'memory',
        GRPC_PORT: String(port),
        BLOCK_TIME_MS: String(BLOCK_TIME_MS),
        BLOCK_RUN_MAX: String(RUN_MAX),
        ADMIN_ADDRESS: admin.address,
        LOG_LEVEL: 'warn',
        REWARD_PERIOD_BLOCKS: String(PERIOD),
        REWARDS_SETTLEMENT_DELAY: String(DELAY),
      },
      { signals: false },
    );
    ewx = connect({ address: `127.0.0.1:${port}`, signer: as(admin) });
    // A group with no operator: every period of it is idle, and closed with its (empty) decision.
    await ewx.registry.deposit({ account: registrar.address, amount: (1000n * T).toString() });
    const R = ewx.withSigner(as(registrar));
    await R.registry.signUpRegistrar({ friendlyName: 'deadline registrar', legalLocation: 'DE' });
    await R.registry.registerGroup({
      config: testGroupConfig('deadline.group', { operationEndBlock: 1_000_000n }),
      budget: (500n * T).toString(),
      allowList: [],
    });
  });
  after(async () => {
    ewx?.close();
    await system?.stop();
  });

  test(`with BLOCK_RUN_MAX ${RUN_MAX} and periods of ${PERIOD} blocks, each idle period closes in the run cut at its deadline, and costs each log the same few events`, async () => {
    // The first period wholly after the setup, then SHORT + LONG more, and one to see the reactions of the last deadline recorded.
    const first = (await waitFor('a first period closed', async () => (await closes())[0], 60_000)).period + 1;
    const last = first + SHORT + LONG;
    await waitFor(`period ${last + 1} closed`, async () => ((await closes()).some((c) => c.period === last + 1) ? true : undefined), 60_000);
    const closed = (await closes()).filter((c) => c.period >= first && c.period <= last);
    assert.deepEqual(
      closed.map((c) => c.period),
      Array.from({ length: last - first + 1 }, (_, i) => first + i),
      'every idle period closed, once, in order',
    );

    const logs = new Map<string, RecordedEvent[]>();
    for (const s of [...LOGS, 'consensus']) logs.set(s, await read(s));
    /** Index in `events` just past the run reaching `height` and what followed it before the next run (its reactions). */
    const through = (events: readonly RecordedEvent[], height: number): number => {
      const i = events.findIndex((e) => (blockRangeOf(e)?.to ?? -1) >= height);
      assert.ok(i >= 0, `a run reached ${height}`);
      const j = events.findIndex((e, k) => k > i && blockRangeOf(e) !== undefined);
      return j < 0 ? events.length : j;
    };
    // Each close fell due inside the run that reached its deadline: consensus's runs end at the deadlines.
    const chain = logs
      .get('consensus')!
      .map((e) => blockRangeOf(e))
      .filter((r) => r !== undefined);
    const late = closed.map((c) => chain.find((r) => r.to >= c.due)!.to - c.due);
    const runsPerPeriod = chain.filter((r) => r.to > closed[0]!.due && r.to <= closed.at(-1)!.due + late.at(-1)!).length / (last - first);
    const at = (p: number): number => closed.find((c) => c.period === p)!.due;
    const perPeriod = new Map<string, [number, number]>();
    for (const s of LOGS) {
      const events = logs.get(s)!;
      const short = (through(events, at(first + SHORT)) - through(events, at(first))) / SHORT;
      const long = (through(events, at(last)) - through(events, at(first + SHORT))) / LONG;
      perPeriod.set(s, [short, long]);
    }
    console.log(
      `BLOCK_RUN_MAX ${RUN_MAX}, ${PERIOD}-block periods: consensus runs per idle period ${runsPerPeriod}; blocks recorded past each close's deadline ${late.join(', ')}; ` +
        `events per idle period (${SHORT} periods; ${LONG} periods): ${[...perPeriod].map(([s, [a, b]]) => `${s} ${a}; ${b}`).join(', ')}`,
    );
    // Without the watch the first run after the setup would come 1000 blocks later: no period would have closed until then.
    for (const [i, l] of late.entries()) assert.ok(l < PERIOD, `period ${closed[i]!.period} closed ${l} blocks after its deadline`);
    for (const [s, [short, long]] of perPeriod) {
      // The same per period over 2 and 4 periods (a stretch's edges aside): events grow with periods, not blocks.
      assert.ok(Math.abs(short - long) <= 0.5, `${s}: ${short} events per period over ${SHORT} periods, ${long} over ${LONG}`);
      // A few events: the run, and for rewards and registry the close's own (period start, decision, credit).
      assert.ok(long >= 1 && long <= 8, `${s}: ${long} events per idle period of ${PERIOD} blocks`);
    }
  });
});
