import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { generateKeyPair, nonceCounter, signCommand } from '@ewx/platform';
import {
  freePort,
  insecureClient,
  realInfra,
  serviceEnv,
  rpc,
  startServiceProcess,
  uniqueNamespace,
  waitFor,
  type ServiceProcess,
} from '@ewx/platform/testing';
import { DepositRequest, RegistryClient } from '@ewx/proto/registry';
import { RewardsClient } from '@ewx/proto/rewards';

/**
 * Crash safety of the relay and the inbox: processes are killed with SIGKILL in the middle of a
 * stream of events and restarted. The consumer must end with every event exactly once.
 */
const { infra, skip } = await realInfra();

describe('kill -9 in the middle of a stream: nothing lost, nothing applied twice', { skip }, () => {
  const procs: ServiceProcess[] = [];
  after(async () => {
    for (const p of procs) await p.stop();
  });

  test('200 deposits while the consumer and then the producer are killed and restarted', async () => {
    const admin = generateKeyPair();
    const nonce = nonceCounter();
    const ns = uniqueNamespace('crash');
    const env = {
      ...serviceEnv(infra!, ns, admin.address),
    };
    let registry!: RegistryClient;
    let rewards!: RewardsClient;
    // Every (re)start takes a fresh port: a freed port may meanwhile belong to someone else.
    const start = async (name: 'registry' | 'rewards'): Promise<ServiceProcess> => {
      const p = await startServiceProcess(name, await freePort(), env);
      procs.push(p);
      if (name === 'registry') registry = insecureClient(RegistryClient, p.address);
      else rewards = insecureClient(RewardsClient, p.address);
      return p;
    };
    let registryProc = await start('registry');
    let rewardsProc = await start('rewards');
    const account = generateKeyPair().address;

    /** The same signed request is re-sent after a failure: a reused nonce means it was applied. */
    const deposit = async (amount: number): Promise<void> => {
      const req = signCommand(admin, '/ewx.v1.Registry/Deposit', { auth: undefined, account, amount: String(amount) }, nonce(), (m) =>
        DepositRequest.encode(m).finish(),
      );
      await waitFor(
        `deposit ${amount}`,
        async () => {
          try {
            await rpc(registry, 'deposit', req);
            return true;
          } catch (e) {
            if ((e as { code?: number }).code === 7 && /nonce/.test((e as Error).message)) return true;
            throw e;
          }
        },
        60_000,
        100,
      );
    };

    let expected = 0;
    for (let i = 1; i <= 200; i++) {
      await deposit(i);
      expected += i;
      if (i === 50) await rewardsProc.kill();
      if (i === 90) rewardsProc = await start('rewards');
      if (i === 130) {
        await registryProc.kill();
        registryProc = await start('registry');
      }
      if (i === 160) await rewardsProc.kill();
      if (i === 170) rewardsProc = await start('rewards');
    }

    const view = await waitFor(
      'rewards to have consumed 200 deposits',
      async () => {
        const v = await rpc(rewards, 'getAccountView', { address: account });
        return v.deposits >= 200 ? v : undefined;
      },
      60_000,
    );
    assert.equal(view.deposits, 200);
    assert.equal(view.deposited, String(expected));
    assert.equal((await rpc(registry, 'getAccount', { address: account })).free, String(expected));

    // The stores themselves: 200 deposits in the producer's log, 200 recorded in the consumer's.
    const db = new pg.Client({ connectionString: infra!.databaseUrl });
    await db.connect();
    try {
      const produced = await db.query(`SELECT count(*)::int AS n FROM ewx_${ns}_registry.events WHERE type = 'Deposited'`);
      const consumed = await db.query(
        `SELECT count(*)::int AS n, count(DISTINCT (metadata->>'sourceVersion', metadata->>'sourceStream'))::int AS d FROM ewx_${ns}_rewards.events WHERE type = 'Deposited'`,
      );
      assert.equal(produced.rows[0].n, 200);
      assert.equal(consumed.rows[0].n, 200);
      assert.equal(consumed.rows[0].d, 200);
    } finally {
      await db.end();
    }
  });
});
