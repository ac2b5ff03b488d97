import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { blockRangeOf, runEmbedded, START, type Embedded } from '@ewx/platform';
import { freePort, waitFor } from '@ewx/platform/testing';
import { connect, untilHeight, type Ewx } from '@ewx/client';
import { ALL_MODULES } from './index.js';

/** No run is ever due by count alone here: 100,000 blocks of 20 ms is more than half an hour. */
const RUN_MAX = 100_000;

/**
 * An idle network with a timed clock and BLOCK_RUN_MAX far above anything the test waits for (no
 * group, no request: no service has a deadline): consensus's producer counts the blocks and records
 * none. GetStatus says how far it counted (counted_height, consensus only), and `untilHeight` still
 * ends once the count reaches the height, by asking consensus to record it (RecordCountedBlocks with
 * at_least), with one run in each log.
 */
describe('an idle network with runs longer than the wait: counted height and untilHeight', () => {
  let system: Embedded;
  let ewx: Ewx;
  const blockEvents = async (service: string): Promise<number> =>
    (await system.logs.get(service as never)!.readAll(START, 100_000)).filter((e) => blockRangeOf(e) !== undefined).length;

  before(async () => {
    const port = await freePort();
    system = await runEmbedded(
      ALL_MODULES,
      { DATA_DIR: 'memory', GRPC_PORT: String(port), BLOCK_TIME_MS: '20', BLOCK_RUN_MAX: String(RUN_MAX), LOG_LEVEL: 'warn' },
      { signals: false },
    );
    ewx = connect({ address: `127.0.0.1:${port}` });
  });
  after(async () => {
    ewx?.close();
    await system?.stop();
  });

  test('consensus reports the count ahead of the recorded height; the other services report none', async () => {
    const st = await waitFor(
      'the start-up run recorded (the validator set was work), then the producer 10 blocks beyond it',
      async () => {
        const s = await ewx.consensus.getStatus({});
        return s.height > 1n && s.countedHeight >= s.height + 10n ? s : undefined;
      },
      60_000,
    );
    assert.ok(st.countedHeight > st.height);
    for (const n of ['registry', 'voting', 'rewards', 'distance'] as const) assert.equal((await ewx[n].getStatus({})).countedHeight, 0n, n);
  });

  test('untilHeight ends at a height counted but not recorded: one run recorded on request', async () => {
    const before = Object.fromEntries(await Promise.all(['consensus', 'registry', 'rewards'].map(async (s) => [s, await blockEvents(s)] as const)));
    const { height, countedHeight } = await ewx.consensus.getStatus({});
    // biome-ignore lint/complexity/useMathMinMax: heights are bigint, which Math.max does not take
    const target = (countedHeight > height ? countedHeight : height) + 5n;
    const statuses = await untilHeight(ewx, target, { timeoutMs: 60_000 });
    for (const [n, s] of Object.entries(statuses)) assert.ok(s.height >= target, `${n} at ${s.height}`);
    // Far below the blocks counted meanwhile: the request's run (and at most one more, a request racing it).
    for (const s of ['consensus', 'registry', 'rewards']) {
      const added = (await blockEvents(s)) - before[s]!;
      assert.ok(added >= 1 && added <= 2, `${s}: ${added} block events`);
    }
  });
});
