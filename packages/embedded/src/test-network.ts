import type { Embedded } from '@ewx/platform';
import { freePort } from '@ewx/platform/testing';
import { connect, connectWorkerWithConsent, counterNonces, generateKeyPair, keySigner, untilHeight, type Ewx, type KeyPair, type Signer } from '@ewx/client';
import { testGroupConfig, testSolutionConfig } from '@ewx/client/testing';
import { runInMemory } from './index.js';

const T = 10n ** 18n;

/** A small network for the embedded tests: its keys, a client signing as the admin, and `as(key)`. */
export interface TestNetwork {
  readonly system: Embedded;
  readonly ewx: Ewx;
  readonly admin: KeyPair;
  readonly registrar: KeyPair;
  readonly operators: readonly KeyPair[];
  readonly workers: readonly KeyPair[];
  readonly as: (k: KeyPair) => Signer;
  readonly group: string;
  readonly solution: string;
  close(): Promise<void>;
}

/**
 * The embedded system in memory on a manual clock with 10-block reward periods, a registrar with
 * group `<name>.group` (1 token per block for subscription and for voting, SLA 50 %, budget 500
 * tokens) and solution `<name>.solution` (rounds started by the registrar, 3 blocks, quorum 50 %,
 * majority 60 %), and three operators with 10 tokens of stake and one worker each, at height 11
 * (reward period 1: the stakes are active).
 */
export async function startTestNetwork(name: string): Promise<TestNetwork> {
  const admin = generateKeyPair();
  const registrar = generateKeyPair();
  const operators = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const workers = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const nonce = counterNonces();
  const as = (k: KeyPair): Signer => keySigner(k, nonce);
  const port = await freePort();
  const system = await runInMemory(port, { ADMIN_ADDRESS: admin.address, REWARD_PERIOD_BLOCKS: '10' });
  const ewx = connect({ address: `127.0.0.1:${port}`, signer: as(admin) });
  const group = `${name}.group`;
  const solution = `${name}.solution`;
  await ewx.consensus.produceBlocks({ count: 1 });
  await untilHeight(ewx, 1, { timeoutMs: 60_000 });
  for (const k of [registrar, ...operators]) await ewx.registry.deposit({ account: k.address, amount: (1000n * T).toString() });
  const R = ewx.withSigner(as(registrar));
  await R.registry.signUpRegistrar({ friendlyName: `${name} registrar`, legalLocation: 'DE' });
  await R.registry.registerGroup({ config: testGroupConfig(group), budget: (500n * T).toString(), allowList: [] });
  await R.registry.registerSolution({ config: testSolutionConfig(solution, group) });
  for (let i = 0; i < operators.length; i++) {
    await ewx.registry.subscribe({ group, stake: (10n * T).toString() }, { signer: as(operators[i]!) });
    await connectWorkerWithConsent(ewx, as(operators[i]!), as(workers[i]!));
  }
  await ewx.consensus.produceBlocks({ count: 10 }); // height 11: reward period 1, the stakes are active
  await untilHeight(ewx, 11, { timeoutMs: 60_000 });
  return {
    system,
    ewx,
    admin,
    registrar,
    operators,
    workers,
    as,
    group,
    solution,
    async close() {
      ewx.close();
      await system.stop();
    },
  };
}
