import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { freePort, realInfra, serviceEnv, startServiceProcess, uniqueNamespace, type ServiceProcess } from '@ewx/platform/testing';
import { connect, counterNonces, generateKeyPair, keySigner, type Ewx, type WatchedEvent } from '@ewx/client';

/**
 * Watch on standalone services: registry and consensus as their own processes on PostgreSQL and
 * Kafka. Registry's own events from its PostgreSQL log, consensus's blocks arriving through Kafka
 * into registry's inbox (inputs), and a registry restart: the stream ends cleanly and resumes from
 * the last position without repeat or gap.
 */
const { infra, skip } = await realInfra();

describe('Watch on standalone processes (PostgreSQL + Kafka)', { skip, timeout: 240_000 }, () => {
  const admin = generateKeyPair();
  const ns = uniqueNamespace('watch');
  const procs: Record<string, ServiceProcess> = {};
  const ports: Record<string, number> = {};
  let ewx: Ewx;
  const env = (): Record<string, string> => ({
    ...serviceEnv(infra!, ns, admin.address),
  });

  before(async () => {
    for (const n of ['registry', 'consensus']) ports[n] = await freePort();
    const [registry, consensus] = await Promise.all([
      startServiceProcess('registry', ports.registry!, env()),
      startServiceProcess('consensus', ports.consensus!, env()),
    ]);
    procs.registry = registry;
    procs.consensus = consensus;
    const r = `127.0.0.1:${ports.registry}`;
    const c = `127.0.0.1:${ports.consensus}`;
    // Only registry and consensus run; the other addresses are never called.
    ewx = connect({ addresses: { registry: r, voting: r, consensus: c, rewards: r, distance: r }, signer: keySigner(admin, counterNonces()) });
  });
  after(async () => {
    ewx?.close();
    await Promise.all(Object.values(procs).map((p) => p.stop()));
  });

  test('catch-up, resume, live own events and live inputs from Kafka; a restart ends the stream, resuming loses nothing', async () => {
    const accounts = [generateKeyPair().address, generateKeyPair().address, generateKeyPair().address];
    for (const a of accounts.slice(0, 2)) await ewx.registry.deposit({ account: a, amount: '3' });
    const it = ewx.watch('registry', { types: ['Deposited', 'BlockProduced'], includeInputs: true });
    const got: WatchedEvent[] = [(await it.next()).value!, (await it.next()).value!];
    assert.deepEqual(
      got.map((e) => (e.data as { account: string }).account),
      accounts.slice(0, 2),
    );
    // Live: consensus's block reaches registry through Kafka; then a deposit of registry's own.
    const nextBlock = it.next();
    await ewx.consensus.produceBlocks({ count: 1 });
    const block = (await nextBlock).value!;
    assert.deepEqual([block.type, block.source, (block.data as { height: number }).height, block.height], ['BlockProduced', 'consensus', 1, 1n]);
    const nextDeposit = it.next();
    await ewx.registry.deposit({ account: accounts[2]!, amount: '3' });
    const third = (await nextDeposit).value!;
    assert.equal((third.data as { account: string }).account, accounts[2]);
    got.push(block, third);

    // The registry stops (SIGTERM): the open stream ends without an error.
    const ended = (async () => {
      const r = await it.next();
      return r.done;
    })();
    await procs.registry!.stop();
    assert.equal(await ended, true);

    // Meanwhile: two more blocks, one at a time (recorded by registry once it is back, from Kafka).
    await ewx.consensus.produceBlocks({ count: 1 });
    await ewx.consensus.produceBlocks({ count: 1 });
    procs.registry = await startServiceProcess('registry', ports.registry!, env());
    // Resume from the last event received: the two blocks (as registry records them from Kafka) and nothing already seen.
    const resumed = ewx.watch('registry', { from: third.position, types: ['Deposited', 'BlockProduced'], includeInputs: true });
    const after2 = [(await resumed.next()).value!, (await resumed.next()).value!];
    assert.deepEqual(
      after2.map((e) => [e.type, (e.data as { height: number }).height]),
      [
        ['BlockProduced', 2],
        ['BlockProduced', 3],
      ],
    );
    assert.ok(after2.every((e) => BigInt(e.position) > BigInt(third.position)));
    await resumed.return();

    // From the start, the whole sequence again: what was received before, then the two blocks.
    const all: WatchedEvent[] = [];
    for await (const e of ewx.watch('registry', { types: ['Deposited', 'BlockProduced'], includeInputs: true })) {
      all.push(e);
      if (all.length === 6) break;
    }
    assert.deepEqual(
      all.map((e) => e.position),
      [...got, ...after2].map((e) => e.position),
    );
  });
});
