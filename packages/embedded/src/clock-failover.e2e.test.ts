import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, counterNonces, generateKeyPair, keySigner, type Ewx } from '@ewx/client';
import { freePort, realInfra, serviceEnv, startServiceProcess, uniqueNamespace, waitFor, type ServiceProcess } from '@ewx/platform/testing';

/**
 * BLOCK_RUN_MAX > 1 with several validators, as deploy/k8s runs it: two consensus processes (the
 * producer at place 0, a standby at place 1) on one consensus log in PostgreSQL, and the registry as
 * its own process on Kafka, with CONSENSUS_ADDRESS listing both validators in place order. A
 * RegisterGroup (it records the registry's height) after an idle stretch is decided at a height
 * recorded on demand — above the registry's height before the call and below the next timed run —;
 * with the producer SIGKILLed it goes on with the recorded height until the standby takes over, and
 * then the sync follows the standby through the dead producer's address. The standby takes over by
 * the validators' beats in PostgreSQL (CLOCK_BEAT_TTL_MS after the producer's last beat), not after
 * (1 + 1) × 2 × BLOCK_RUN_MAX block times without a block in the log.
 */
const { infra, skip } = await realInfra();
const BLOCK_TIME_MS = 100;
const RUN_MAX = 50;
/** 80 block times: long enough for a command to find no producer after the kill, far below the old rule's 200. */
const BEAT_TTL_MS = 8000;
const T = 10n ** 18n;

describe('standalone block clock with a producer and a standby (CONSENSUS_ADDRESS lists both)', { skip, timeout: 300_000 }, () => {
  const admin = generateKeyPair();
  const registrar = generateKeyPair();
  const validators = [generateKeyPair(), generateKeyPair()];
  const ns = uniqueNamespace('clockfo');
  const procs: ServiceProcess[] = [];
  let consensus: ServiceProcess[] = [];
  let registry: ServiceProcess;
  let ewx: Ewx;
  /** The standby's consensus API: its recorded height is the shared log's. */
  let standbyApi: Ewx;
  let groups = 0;
  const nonce = counterNonces();
  const registryHeight = async (): Promise<number> => Number((await ewx.registry.getStatus({})).height);
  /** Registers a group and answers the height its GroupRegistered records (the registry's height when it decided). */
  const registerGroup = async (): Promise<number> => {
    const namespace = `clock.group${groups++}`;
    await ewx.withSigner(keySigner(registrar, nonce)).registry.registerGroup({
      config: {
        namespace,
        info: 'test',
        minStake: T.toString(),
        maxStake: (100n * T).toString(),
        maxOperators: 10,
        allowListEnabled: false,
        startBlock: 0n,
        subscriptionRewardPerBlock: '0',
        votingRewardPerBlock: '0',
        slaVotingThreshold: 50,
        operationStartBlock: 1n,
        operationEndBlock: 1_000_000n,
        withdrawalDelay: 1,
      },
      budget: T.toString(),
      allowList: [],
    });
    for await (const e of ewx.watch('registry', { types: ['GroupRegistered'] })) {
      const d = e.data as { group: string; height: number };
      if (d.group === namespace) return d.height;
    }
    throw new Error(`no GroupRegistered for ${namespace}`);
  };
  /** Waits until the registry's recorded height moves (a timed run reached its inbox), and answers it. */
  const nextRun = async (what: string): Promise<number> => {
    const h0 = await registryHeight();
    return waitFor(
      what,
      async () => {
        const h = await registryHeight();
        return h > h0 ? h : undefined;
      },
      120_000,
      20,
    );
  };

  /** An idle stretch: 10 block times of wall time with nothing asked (the producer counts, records nothing until RUN_MAX). */
  const idle = (): Promise<void> => new Promise((r) => setTimeout(r, 10 * BLOCK_TIME_MS));

  before(async () => {
    const ports = { c0: await freePort(), c1: await freePort(), registry: await freePort() };
    const env = serviceEnv(infra!, ns, admin.address, {
      BLOCK_TIME_MS: String(BLOCK_TIME_MS),
      BLOCK_RUN_MAX: String(RUN_MAX),
      CLOCK_BEAT_TTL_MS: String(BEAT_TTL_MS),
      REWARD_PERIOD_BLOCKS: '100000',
      VALIDATORS: validators.map((v) => v.address).join(','),
      LOG_LEVEL: 'warn',
    });
    consensus = await Promise.all(
      validators.map((v, i) => startServiceProcess('consensus', i === 0 ? ports.c0 : ports.c1, { ...env, LOG_LEVEL: 'info', VALIDATOR_KEY: v.seed })),
    );
    procs.push(...consensus);
    // In place order, as deploy/k8s lists consensus-0..3.
    registry = await startServiceProcess('registry', ports.registry, {
      ...env,
      LOG_LEVEL: 'info',
      CONSENSUS_ADDRESS: `127.0.0.1:${ports.c0},127.0.0.1:${ports.c1}`,
    });
    procs.push(registry);
    ewx = connect({ address: registry.address, signer: keySigner(admin, counterNonces(1_000_000n)) });
    standbyApi = connect({ address: consensus[1]!.address });
    await ewx.registry.deposit({ account: registrar.address, amount: (1000n * T).toString() });
    await ewx.withSigner(keySigner(registrar, nonce)).registry.signUpRegistrar({ friendlyName: 'clock registrar', legalLocation: 'DE' });
  });
  after(async () => {
    ewx?.close();
    standbyApi?.close();
    await Promise.all(procs.map((p) => p.stop()));
  });

  test('each validator logs its liveness at start: beats in the consensus log schema (PostgreSQL, a set of two)', () => {
    for (const c of consensus)
      assert.match(c.output(), /"msg":"block clock liveness","service":"consensus","liveness":"beats in [a-z0-9_]+\.consensus_clock_beats"/);
  });

  test('after an idle stretch a command decides at a height the producer records on demand', async () => {
    await nextRun('a timed run of the producer');
    await idle();
    const before = await registryHeight();
    const h = await registerGroup();
    assert.ok(h > before, `GroupRegistered at ${h}: above the registry's recorded height ${before} (the producer recorded its count on demand)`);
    assert.ok(h < before + RUN_MAX, `GroupRegistered at ${h}: below the next timed run (${before + RUN_MAX})`);
  });

  test('the producer killed: the command goes on with the recorded height, then the sync follows the standby that took over', async () => {
    const killedAt = Date.now();
    await consensus[0]!.kill();
    // Nothing can be recorded now until the standby takes over: wait until the registry holds the log's last block.
    const before = await waitFor(
      'the registry at the consensus log height',
      async () => {
        const [r, c] = [await registryHeight(), Number((await standbyApi.consensus.getNetwork({})).height)];
        return r === c ? r : undefined;
      },
      30_000,
      20,
    );
    const h = await registerGroup();
    assert.equal(h, before, 'no producer: the recorded height');
    await waitFor(
      'the registry warned that no validator produces',
      async () => (/no validator at CONSENSUS_ADDRESS produces/.test(registry.output()) ? true : undefined),
      10_000,
      20,
    );
    // The producer's beat expired (CLOCK_BEAT_TTL_MS): the standby records the dead producer's count and the ticks since its last beat.
    const taken = await nextRun('the standby took over');
    const ms = Date.now() - killedAt;
    const standby = consensus[1]!.output();
    assert.match(standby, /no validator of a lower place beats as producing, this standby produces/, 'taken over by the beats');
    assert.doesNotMatch(standby, /no block recorded for a while/, 'not by the blocks in the log');
    // Heights count block times: the old rule's first run reached at least before + 2 × 2 × RUN_MAX; this one comes well before.
    assert.ok(taken > before && taken < before + 2 * 2 * RUN_MAX, `the standby's first run reaches ${taken}: before ${before} + ${2 * 2 * RUN_MAX}`);
    console.log(
      `clock fail-over: the standby's first run reached ${taken} (${taken - before} blocks past the recorded height ${before}; the old rule: ≥ ${2 * 2 * RUN_MAX}), seen by the registry ${ms} ms after the kill (CLOCK_BEAT_TTL_MS ${BEAT_TTL_MS}, BLOCK_TIME_MS ${BLOCK_TIME_MS}, BLOCK_RUN_MAX ${RUN_MAX})`,
    );
    await nextRun('a timed run of the standby');
    await idle();
    const before2 = await registryHeight();
    const h2 = await registerGroup();
    assert.ok(h2 > before2, `GroupRegistered at ${h2}: above the registry's recorded height ${before2} (the standby recorded on demand)`);
    assert.ok(h2 < before2 + RUN_MAX, `GroupRegistered at ${h2}: below the standby's next timed run (${before2 + RUN_MAX})`);
    assert.match(registry.output(), /height sync: a validator produces again/);
  });
});
