import { status } from '@grpc/grpc-js';
import {
  connect,
  connectWorkerWithConsent,
  EwxCallError,
  counterNonces,
  generateKeyPair,
  keySigner,
  untilHeight,
  untilPeriodPaid,
  untilRoundClosed,
  type ConnectOptions,
  type Ewx,
  type KeyPair,
  type Signer,
} from '@ewx/client';
import { testGroupConfig, testSolutionConfig } from '@ewx/client/testing';

const T = 10n ** 18n;
export const SCENARIO_GROUP = 'audit.group';
export const SCENARIO_SOLUTION = 'audit.solution';

/**
 * The environment a scenario system runs with (manual blocks, short periods): reward periods of
 * 10 blocks closed 2 blocks late, distance periods of 4 blocks, one evaluator.
 */
export function scenarioEnv(evaluator: string): Record<string, string> {
  return {
    BLOCK_TIME_MS: 'manual',
    REWARD_PERIOD_BLOCKS: '10',
    REWARDS_SETTLEMENT_DELAY: '2',
    DISTANCE_PERIOD_BLOCKS: '4',
    DISTANCE_VALIDITY_PERIODS: '2',
    EVALUATORS: evaluator,
  };
}

export interface ScenarioKeys {
  readonly admin: KeyPair;
  readonly registrar: KeyPair;
  readonly operators: readonly KeyPair[];
  readonly workers: readonly KeyPair[];
  readonly requester: KeyPair;
  readonly evaluator: KeyPair;
}

export const scenarioKeys = (admin: KeyPair = generateKeyPair()): ScenarioKeys => ({
  admin,
  registrar: generateKeyPair(),
  operators: [generateKeyPair(), generateKeyPair(), generateKeyPair()],
  workers: [generateKeyPair(), generateKeyPair(), generateKeyPair()],
  requester: generateKeyPair(),
  evaluator: generateKeyPair(),
});

/** Retries `fn` while it is refused as not found or for a precondition (an input still on its way), up to 60 s. */
async function eventually<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + 60_000;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!EwxCallError.is(e) || (e.code !== status.FAILED_PRECONDITION && e.code !== status.NOT_FOUND) || Date.now() > end)
        throw new Error(`${what}: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export interface ScenarioResult {
  /** The height every service has recorded when the scenario ends. */
  readonly height: number;
  /** A height whose block starts no period, closes no round and settles nothing. */
  readonly quietNext: number;
}

/**
 * A full run of the network through its public API: deposits, a registrar, a group and a
 * solution, three operators with workers, a distance evaluation (request, result, settlement and
 * the hold released), four reward periods (period 1: two settled rounds and an unresolved one,
 * operators right 2, 1 and 1 times of 2; period 2: a unanimous round), a claim, an
 * unsubscription whose stake is released. Ends at height 43, every service caught up.
 */
export async function runScenario(target: ConnectOptions, keys: ScenarioKeys): Promise<ScenarioResult> {
  const nonce = counterNonces(BigInt(Date.now()) * 1000n);
  const as = (k: KeyPair): Signer => keySigner(k, nonce);
  const ewx = connect({ ...target, signer: as(keys.admin) });
  const by = (k: KeyPair): Ewx => ewx.withSigner(as(k));
  try {
    const blocksTo = async (h: number): Promise<void> => {
      const now = Number((await ewx.consensus.getStatus({})).height);
      if (h > now) await ewx.consensus.produceBlocks({ count: h - now });
      await untilHeight(ewx, h, { timeoutMs: 60_000 });
    };
    await untilHeight(ewx, 0, { timeoutMs: 60_000 });
    await eventually('the reward calendar', () => ewx.rewards.getCurrentPeriod({}));
    await blocksTo(1);
    for (const [k, amount] of [[keys.registrar, 1000n], ...keys.operators.map((o) => [o, 100n] as const), [keys.requester, 100n]] as const) {
      await ewx.registry.deposit({ account: k.address, amount: (amount * T).toString() });
    }
    const R = by(keys.registrar);
    await R.registry.signUpRegistrar({ friendlyName: 'Audit registrar', legalLocation: 'DE' });
    // The registry needs the period calendar from rewards (another topic than the blocks' in standalone mode).
    await eventually('the group registered', () =>
      R.registry.registerGroup({ config: testGroupConfig(SCENARIO_GROUP, { info: 'audit' }), budget: (500n * T).toString(), allowList: [] }),
    );
    await R.registry.registerSolution({ config: testSolutionConfig(SCENARIO_SOLUTION, SCENARIO_GROUP) });
    for (let i = 0; i < keys.operators.length; i++) {
      const op = keys.operators[i]!;
      const worker = keys.workers[i]!;
      await by(op).registry.subscribe({ group: SCENARIO_GROUP, stake: (BigInt(10 * (i + 1)) * T).toString() });
      await connectWorkerWithConsent(ewx, as(op), as(worker));
    }

    // Distance: three members certifying each other, a newcomer certified by all three.
    await ewx.distance.importWot({
      json: JSON.stringify({
        format: 'ewx-wot/1',
        identities: [
          { id: 0, member: true, certifiedBy: [1, 2] },
          { id: 1, member: true, certifiedBy: [0, 2] },
          { id: 2, member: true, certifiedBy: [0, 1] },
          { id: 3, member: false, certifiedBy: [0, 1, 2] },
        ],
      }),
    });
    const requested = await by(keys.requester).distance.requestEvaluation({ identity: 3 });
    await blocksTo(5); // distance period 1: the evaluator publishes for pool 1
    await by(keys.evaluator).distance.publishResult({ evaluationPeriod: requested.evaluationPeriod, values: [1_000_000_000] });
    // Distance pool 1 settled at block 9 (distance period 2 begins). A run of blocks is cut at round
    // ends, not at distance's periods: a settlement inside a run is recorded at its last block, so
    // the run stops at 9 for the as-of reads to see it there.
    await blocksTo(9);
    await blocksTo(11); // reward period 1 (blocks 11..20)

    const start = (roundId: string) => R.voting.startRound({ solution: SCENARIO_SOLUTION, roundId });
    const vote = (i: number, roundId: string, hex: string) =>
      by(keys.workers[i]!).voting.submitVote({ solution: SCENARIO_SOLUTION, roundId, result: Buffer.from(hex, 'hex') });
    // Period 1: operator 0 is right twice, operators 1 and 2 once each (2 of 2, 1 of 2, 1 of 2).
    for (const id of ['slice-1', 'slice-2', 'slice-4']) await start(id);
    await vote(0, 'slice-1', 'c0ffee');
    await vote(1, 'slice-1', 'c0ffee');
    await vote(2, 'slice-1', 'bad0'); // settled c0ffee, 2 of 3
    await vote(0, 'slice-2', 'aa');
    await vote(1, 'slice-2', 'bb');
    await vote(2, 'slice-2', 'aa'); // settled aa, 2 of 3
    await vote(0, 'slice-4', 'aa'); // 1 of 3: no quorum, unresolved
    await blocksTo(14);
    for (const id of ['slice-1', 'slice-2', 'slice-4']) await untilRoundClosed(ewx, SCENARIO_SOLUTION, id, { timeoutMs: 60_000 });

    await blocksTo(21); // reward period 2
    await start('slice-3');
    for (let i = 0; i < 3; i++) await vote(i, 'slice-3', 'abcd');
    await by(keys.operators[2]!).registry.unsubscribe({ group: SCENARIO_GROUP }); // final period 3: released when it closes
    await blocksTo(24);
    await untilRoundClosed(ewx, SCENARIO_SOLUTION, 'slice-3', { timeoutMs: 60_000 });
    await blocksTo(32);
    await untilPeriodPaid(ewx, SCENARIO_GROUP, 2, { timeoutMs: 60_000 });
    await by(keys.operators[0]!).registry.claimRewards({ groups: [SCENARIO_GROUP] });
    await blocksTo(43); // period 3 closed at block 42: operator 2's stake is released
    await untilPeriodPaid(ewx, SCENARIO_GROUP, 3, { timeoutMs: 60_000 });
    const op2 = keys.operators[2]!.address;
    for (let i = 0; ; i++) {
      const a = await ewx.registry.getAccount({ address: op2 });
      if (a.reserved === '0') break;
      if (i > 300) throw new Error(`operator 2's stake was not released (reserved ${a.reserved})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { height: 43, quietNext: 44 };
  } finally {
    ewx.close();
  }
}

/** Produces `count` blocks signed by the admin and waits until every service recorded them. */
export async function produceBlocks(target: ConnectOptions, admin: KeyPair, count: number): Promise<number> {
  const ewx = connect({ ...target, signer: keySigner(admin, counterNonces(BigInt(Date.now()) * 1000n)) });
  try {
    const h = Number((await ewx.consensus.produceBlocks({ count })).height);
    await untilHeight(ewx, h, { timeoutMs: 60_000 });
    return h;
  } finally {
    ewx.close();
  }
}
