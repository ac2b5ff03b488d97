import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { connect, counterNonces, generateKeyPair, keySigner, untilHeight, untilRoundClosed, type Ewx } from '@ewx/client';
import { RoundState } from '@ewx/proto/voting';
import { freePort, realInfra, serviceEnv, startServiceProcess, uniqueNamespace, waitFor, type ServiceProcess } from '@ewx/platform/testing';
import { pino } from 'pino';
import { startWorker, type Handler, type VoteOutcome, type WorkerRuntime } from './index.js';
import { setUpScenario, type Scenario } from './scenario.js';

/**
 * Worker runtimes against the five services as separate processes on PostgreSQL and Kafka, their
 * events travelling through Kafka; the runtimes follow voting's Watch stream.
 * Honest, wrong and silent runtimes; the round settles on the honest result.
 */
const { infra, skip } = await realInfra();
const PERIOD = 10;
const honestResult = (solution: string, roundId: string): Buffer => createHash('sha256').update(`${solution}/${roundId}`).digest();
const logic: Record<'honest' | 'wrong' | 'silent', Handler> = {
  honest: { source: 'honest', compute: (r) => honestResult(r.solution, r.roundId) },
  wrong: { source: 'wrong', compute: (r) => `wrong ${r.roundId}` },
  silent: { source: 'silent', compute: () => undefined },
};

describe('ewx-worker against standalone services (PostgreSQL + Kafka)', { skip, timeout: 480_000 }, () => {
  const admin = generateKeyPair();
  const ns = uniqueNamespace('worker');
  const names = ['registry', 'voting', 'consensus', 'rewards', 'distance'] as const;
  const procs: ServiceProcess[] = [];
  const ports: Record<string, number> = {};
  const runtimes: WorkerRuntime[] = [];
  const outcomes: VoteOutcome[] = [];
  let ewx: Ewx;
  let scenario: Scenario;

  before(async () => {
    for (const n of names) ports[n] = await freePort();
    const env = {
      ...serviceEnv(infra!, ns, admin.address),
      REWARD_PERIOD_BLOCKS: String(PERIOD),
      REWARDS_SETTLEMENT_DELAY: '1',
      LOG_LEVEL: 'warn',
    };
    procs.push(...(await Promise.all(names.map((n) => startServiceProcess(n, ports[n]!, env)))));
    const a = (n: string): string => `127.0.0.1:${ports[n]}`;
    ewx = connect({
      addresses: { registry: a('registry'), voting: a('voting'), consensus: a('consensus'), rewards: a('rewards'), distance: a('distance') },
      signer: keySigner(admin, counterNonces()),
    });
    scenario = await setUpScenario({
      ewx,
      admin: keySigner(admin, counterNonces(1_000n)),
      group: 'standalone.group',
      operators: 4,
      solutions: [{ namespace: 'standalone.solution', logicRef: 'bafy-standalone', maxWaiting: 3 }],
    });
  });
  after(async () => {
    await Promise.all(runtimes.map((r) => r.stop(1_000)));
    ewx?.close();
    await Promise.all(procs.map((p) => p.stop()));
  });

  test('honest, wrong and silent runtimes: the round settles on the honest result through Kafka', async () => {
    const kinds = ['honest', 'honest', 'wrong', 'silent'] as const;
    scenario.operators.forEach(
      (op, i) =>
        void runtimes.push(
          startWorker({
            ewx: ewx.withSigner(op.worker.signer),
            signer: op.worker.signer,
            handlers: new Map([['bafy-standalone', logic[kinds[i]!]]]),
            logger: pino({ level: 'silent' }),
            onOutcome: (x) => outcomes.push(x),
          }),
        ),
    );
    await Promise.all(runtimes.map((r) => r.until('stake_not_active', 60_000)));
    const { height } = await ewx.consensus.produceBlocks({ count: PERIOD });
    await untilHeight(ewx, height, { timeoutMs: 60_000 });
    await Promise.all(runtimes.map((r) => r.until('ready', 60_000)));
    // Voting must know the new period's stakes before the round's snapshot is taken: it has the height from Kafka, and the registry's events came before.
    await ewx.voting.startRound({ solution: 'standalone.solution', roundId: 'kafka-1' }, { signer: scenario.registrar.signer });
    await waitFor('every runtime took the round up', () => (outcomes.filter((x) => x.roundId === 'kafka-1').length === 4 ? true : undefined), 60_000);
    const got = outcomes.filter((x) => x.roundId === 'kafka-1');
    assert.deepEqual(got.map((x) => x.outcome).sort(), ['abstained', 'accepted', 'accepted', 'accepted']);
    const closed = await ewx.consensus.produceBlocks({ count: 3 });
    await untilHeight(ewx, closed.height, { timeoutMs: 60_000 });
    const round = await untilRoundClosed(ewx, 'standalone.solution', 'kafka-1', { timeoutMs: 120_000 });
    assert.equal(round.state, RoundState.ROUND_STATE_SETTLED);
    assert.deepEqual(Buffer.from(round.result), honestResult('standalone.solution', 'kafka-1'));
    assert.deepEqual([round.tally?.eligible, round.tally?.submitted, round.tally?.top], [4, 3, 2]);
    const text = await runtimes[2]!.metrics.registry.metrics();
    assert.match(text, /ewx_worker_votes_accepted_total\{solution="standalone.solution"\} 1/);
  });
});
