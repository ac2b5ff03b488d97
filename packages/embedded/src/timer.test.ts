import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runEmbedded, type Embedded } from '@ewx/platform';
import { freePort } from '@ewx/platform/testing';
import { ConnectWorkerRequest } from '@ewx/proto/registry';
import {
  connect,
  cosignWith,
  counterNonces,
  generateKeyPair,
  keySigner,
  untilHeight,
  untilRoundClosed,
  type Ewx,
  type KeyPair,
  type Signer,
} from '@ewx/client';
import { testGroupConfig } from '@ewx/client/testing';
import { consensusModuleWith } from '@ewx/consensus';
import { realScheduler, type Scheduler } from '@ewx/consensus/app/clock';
import { ALL_MODULES } from './index.js';

const T = 10n ** 18n;
const BLOCK_TIME_MS = 40;
const RUN_MAX = 10;
// A round of 25 blocks (1 s of 40 ms blocks) leaves a loaded machine time for its three votes.
const PERIOD = 60;
const ROUND_BLOCKS = 25;

/**
 * The block timer in runs (issue 13), through the embedded system with a short automatic block time:
 * a round still closes at its end block and is settled before any later block is recorded, and an
 * idle stretch of K blocks adds about K / BLOCK_RUN_MAX events to each log, not K.
 */
describe('the automatic block timer records runs of blocks', () => {
  let system: Embedded;
  let ewx: Ewx;
  const admin = generateKeyPair();
  const registrar = generateKeyPair();
  const operators = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const workers = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const nonce = counterNonces();
  const as = (k: KeyPair): Signer => keySigner(k, nonce);
  const height = async (): Promise<bigint> => (await ewx.voting.getStatus({})).height;
  /** The producer's ticks so far: its counted (wall-clock) height, on a fresh chain with no other producer. */
  let ticks = 0;
  const counting: Scheduler = {
    every: (ms, tick) =>
      realScheduler.every(ms, () => {
        ticks++;
        tick();
      }),
  };
  const modules = ALL_MODULES.map((m) => (m.name === 'consensus' ? consensusModuleWith({ scheduler: counting }) : m));

  before(async () => {
    const port = await freePort();
    system = await runEmbedded(
      modules,
      {
        DATA_DIR: 'memory',
        GRPC_PORT: String(port),
        BLOCK_TIME_MS: String(BLOCK_TIME_MS),
        BLOCK_RUN_MAX: String(RUN_MAX),
        ADMIN_ADDRESS: admin.address,
        LOG_LEVEL: 'warn',
        REWARD_PERIOD_BLOCKS: String(PERIOD),
      },
      { signals: false },
    );
    ewx = connect({ address: `127.0.0.1:${port}`, signer: as(admin) });
    for (const k of [registrar, ...operators]) await ewx.registry.deposit({ account: k.address, amount: (1000n * T).toString() });
    const R = ewx.withSigner(as(registrar));
    await R.registry.signUpRegistrar({ friendlyName: 'timer registrar', legalLocation: 'DE' });
    await R.registry.registerGroup({
      config: testGroupConfig('timer.group', { operationEndBlock: 1_000_000n }),
      budget: (500n * T).toString(),
      allowList: [],
    });
    await R.registry.registerSolution({
      config: {
        namespace: 'timer.solution',
        group: 'timer.group',
        name: 'timer',
        description: '',
        logicRef: 'bafy-timer',
        expirationBlock: 1_000_000n,
        maxWaitingThreshold: BigInt(ROUND_BLOCKS),
        voteThresholdPercent: 60,
        quorumPercent: 50,
        votingStartMethod: 'REGISTRAR',
        nominationsEnabled: false,
        unresolvedPolicy: 'NONE',
      },
    });
    for (let i = 0; i < operators.length; i++) {
      const op = ewx.withSigner(as(operators[i]!));
      await op.registry.subscribe({ group: 'timer.group', stake: (10n * T).toString() });
      const request: ConnectWorkerRequest = { auth: undefined, workerAuth: undefined, operator: operators[i]!.address, worker: workers[i]!.address };
      const consent = await cosignWith(as(workers[i]!), '/ewx.v1.Registry/ConnectWorker', request, (m) => ConnectWorkerRequest.encode(m).finish());
      await op.registry.connectWorker({ ...request, workerAuth: { ...consent, signature: Buffer.from(consent.signature) } });
    }
  });
  after(async () => {
    ewx?.close();
    await system?.stop();
  });

  test('a round closes at its end block and is settled before any later block', async () => {
    // The stakes are active from the next reward period; the round must end inside its period.
    let roundId = '';
    let endBlock = 0n;
    for (let attempt = 0; roundId === ''; attempt++) {
      assert.ok(attempt < 20, 'a round could start');
      const h = await height();
      const periodEnd = (h / BigInt(PERIOD) + 1n) * BigInt(PERIOD);
      if (h < BigInt(PERIOD) || periodEnd - h < BigInt(ROUND_BLOCKS) + BigInt(RUN_MAX)) {
        await untilHeight(ewx, periodEnd + 1n, { timeoutMs: 120_000 });
        continue;
      }
      try {
        const r = await ewx.withSigner(as(registrar)).voting.startRound({ solution: 'timer.solution', roundId: `r${attempt}` });
        roundId = r.roundId;
        endBlock = r.endBlock;
      } catch (e) {
        if (!/period/i.test((e as Error).message)) throw e;
      }
    }
    const results = ['c0ffee', 'c0ffee', 'beef'];
    await Promise.all(
      workers.map((w, i) => ewx.withSigner(as(w)).voting.submitVote({ solution: 'timer.solution', roundId, result: Buffer.from(results[i]!, 'hex') })),
    );
    const round = await untilRoundClosed(ewx, 'timer.solution', roundId, { timeoutMs: 120_000 });
    assert.equal(Buffer.from(round.result).toString('hex'), 'c0ffee');
    // Voting closed it at its end block (a run was cut there).
    let closedAt: number | undefined;
    for await (const e of ewx.watch('voting', { types: ['RoundClosed'] })) {
      if ((e.data as { roundId: string }).roundId !== roundId) continue;
      closedAt = (e.data as { height: number }).height;
      break;
    }
    assert.equal(closedAt, Number(endBlock));
    // In consensus's log the outcome comes before any block after the end block.
    let last = 0;
    for await (const e of ewx.watch('consensus', { types: ['BlockProduced', 'BlocksProduced', 'RoundSettled'] })) {
      const d = e.data as { height?: number; to?: number; roundId?: string };
      if (e.type === 'RoundSettled' && d.roundId === roundId) break;
      if (e.type !== 'RoundSettled') last = d.to ?? d.height!;
    }
    assert.equal(last, Number(endBlock), 'the last block recorded before the outcome is the end block');
  });

  test('a round started after an idle stretch counts from the wall-clock height, not the lagging recorded one, and closes at its end block', async () => {
    const V = ewx.withSigner(as(registrar)).voting;
    // Over gRPC (what a standalone service calls at CONSENSUS_ADDRESS): the count during the call is recorded.
    const asked = ticks;
    const r = await ewx.consensus.recordCountedBlocks({});
    assert.ok(Number(r.height) >= asked && Number(r.height) <= ticks, `RecordCountedBlocks answered ${r.height}; the count was ${asked}..${ticks}`);
    let round: Awaited<ReturnType<typeof V.startRound>> | undefined;
    let counted = { before: 0, after: 0, recorded: 0 };
    for (let attempt = 0; round === undefined; attempt++) {
      assert.ok(attempt < 20, 'a round could start after an idle stretch');
      // Idle until the count is at least 3 blocks ahead of the recorded height, the round fitting in its period.
      let h = 0;
      for (;;) {
        h = Number(await height());
        const c = ticks;
        const periodEnd = (Math.floor(c / PERIOD) + 1) * PERIOD;
        if (c - h >= 3 && periodEnd - c > ROUND_BLOCKS + 3) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      const before = ticks;
      try {
        round = await V.startRound({ solution: 'timer.solution', roundId: `lag${attempt}` });
        counted = { before, after: ticks, recorded: h };
      } catch (e) {
        if (!/period/i.test((e as Error).message)) throw e;
      }
    }
    const start = Number(round.startBlock);
    assert.ok(start >= counted.before && start <= counted.after, `start ${start}: the count was ${counted.before}..${counted.after} during the call`);
    assert.ok(start > counted.recorded, `start ${start}, not the recorded ${counted.recorded}`);
    assert.equal(Number(round.endBlock), start + ROUND_BLOCKS);
    // So its whole voting window is wall time: it closes at its end block, which is recorded at that block's tick.
    const closed = await untilRoundClosed(ewx, 'timer.solution', round.roundId, { timeoutMs: 120_000 });
    assert.equal(Number(closed.endBlock), start + ROUND_BLOCKS);
    for await (const e of ewx.watch('voting', { types: ['RoundClosed'] })) {
      if ((e.data as { roundId: string }).roundId !== round.roundId) continue;
      assert.equal((e.data as { height: number }).height, Number(round.endBlock), 'closed at its end block');
      break;
    }
  });

  test('a registry command after an idle stretch (TopUpStake: its first active period) reads the wall-clock height too', async () => {
    let h = 0;
    for (;;) {
      h = Number((await ewx.registry.getStatus({})).height);
      if (ticks - h >= 3) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const before = ticks;
    await ewx.withSigner(as(operators[0]!)).registry.topUpStake({ group: 'timer.group', amount: T.toString() });
    const after = ticks;
    for await (const e of ewx.watch('registry', { types: ['StakeToppedUp'] })) {
      const at = (e.data as { height: number }).height;
      assert.ok(at >= before && at <= after && at > h, `recorded at ${at}: the count was ${before}..${after}, the registry's height ${h}`);
      break;
    }
  });

  test(`an idle stretch of K blocks adds about K / ${RUN_MAX} events to each log`, async () => {
    const services = ['registry', 'voting', 'consensus', 'rewards', 'distance'] as const;
    const positions = async (): Promise<number[]> => Promise.all(services.map(async (s) => Number((await ewx[s].getStatus({})).logPosition)));
    // A few runs after the round's outcome, then K blocks of nothing but the clock.
    const h0 = (await height()) + BigInt(2 * RUN_MAX);
    await untilHeight(ewx, h0, { timeoutMs: 120_000 });
    const before = await positions();
    const K = 200;
    await untilHeight(ewx, h0 + BigInt(K), { timeoutMs: 120_000 });
    const added = (await positions()).map((a, i) => a - before[i]!);
    const periods = Math.ceil(K / PERIOD);
    console.log(`events added by ${K} timed blocks (BLOCK_RUN_MAX ${RUN_MAX}, ${periods} reward periods; ${services.join(', ')}): ${added.join(', ')}`);
    // Voting, consensus and distance record the runs only; one run more or less at each edge of the stretch, and
    // one more per reward period when its close (a deadline rewards asks consensus for) splits a run of BLOCK_RUN_MAX.
    for (const i of [1, 2, 4]) {
      assert.ok(added[i]! >= K / RUN_MAX - 2 && added[i]! <= K / RUN_MAX + 2 + periods, `${services[i]}: ${added[i]} events for ${K} blocks`);
    }
    // Registry and rewards also record each reward period's start, close and credits (a few events per period).
    for (const i of [0, 3]) assert.ok(added[i]! <= K / RUN_MAX + 2 + 9 * periods && added[i]! < K / 2, `${services[i]}: ${added[i]} events for ${K} blocks`);
  });
});
