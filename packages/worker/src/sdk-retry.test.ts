import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { runInMemory } from '@ewx/embedded';
import type { Embedded } from '@ewx/platform';
import { freePort, tcpProxy, waitFor } from '@ewx/platform/testing';
import { connect, counterNonces, EwxCallError, generateKeyPair, keySigner, signVote, untilHeight, type Ewx, type Signer } from '@ewx/client';
import { unaryServer } from '@ewx/client/testing';
import { setUpScenario, type Scenario } from './scenario.js';

/**
 * The client kit's retries (packages/client/src/retry.ts) against the real services: the embedded
 * system in this process, reached through a gRPC front that forwards every unary call to it and can
 * be told, per method, to answer UNAVAILABLE itself (a partition starting, a service restarting:
 * nothing applied) or to forward the call and then drop the client's connection before the reply
 * (applied, reply lost). The front counts the calls it received. Clients reach the front through a
 * TCP proxy, which is what cuts the connection.
 */
/** `meanwhile`: run after the call was applied upstream, before the connection is dropped. */
type Fault = 'unavailable' | 'drop' | { readonly meanwhile: () => Promise<unknown> };

interface Front {
  readonly address: string;
  /** Calls the front received, per full method path. */
  calls(path: string): number;
  /** The next calls of `path` get these faults, in order; later calls are forwarded. */
  fail(path: string, ...faults: Fault[]): void;
  /** Forgets the faults not yet used (each test starts clean). */
  clear(): void;
  close(): Promise<void>;
}

async function faultyFront(target: string): Promise<Front> {
  const upstream = new grpc.Client(target, grpc.credentials.createInsecure());
  const faults = new Map<string, Fault[]>();
  const same = (b: Buffer): Buffer => b;
  const port = await freePort();
  const proxy = await tcpProxy({ host: '127.0.0.1', port });
  const server = await unaryServer((path, call, callback) => {
    const fault = faults.get(path)?.shift();
    if (fault === 'unavailable') {
      callback({ code: grpc.status.UNAVAILABLE, details: 'test front: partition 0 is starting' });
      return;
    }
    upstream.makeUnaryRequest(path, same, same, call.request, new grpc.Metadata(), { deadline: Date.now() + 20_000 }, async (err, res) => {
      if (fault !== undefined) {
        // Applied upstream; the reply is lost with the client's connection.
        if (typeof fault === 'object') await fault.meanwhile();
        proxy.cut();
        proxy.restore();
        return;
      }
      if (err) callback(err);
      else callback(null, res);
    });
  }, port);
  return {
    address: `127.0.0.1:${proxy.port}`,
    calls: server.calls,
    fail: (path, ...f) => faults.set(path, [...(faults.get(path) ?? []), ...f]),
    clear: () => faults.clear(),
    async close() {
      await proxy.close();
      server.close();
      upstream.close();
    },
  };
}

const codeOf = (e: unknown): string => (EwxCallError.is(e) ? e.codeName : String(e));

describe('client retries: UNAVAILABLE retried, commands never applied twice', { timeout: 180_000 }, () => {
  const admin = generateKeyPair();
  const asAdmin: Signer = keySigner(admin, counterNonces());
  let system: Embedded;
  let direct: Ewx;
  let front: Front;
  const clients: Ewx[] = [];
  const viaFront = (o: { retry?: false; signer?: Signer } = {}): Ewx => {
    const c = connect({ address: front.address, signer: o.signer ?? asAdmin, ...(o.retry === false ? { retry: false } : {}) });
    clients.push(c);
    return c;
  };
  const free = async (address: string): Promise<string> => (await direct.registry.getAccount({ address })).free;

  before(async () => {
    const port = await freePort();
    system = await runInMemory(port, { ADMIN_ADDRESS: admin.address, REWARD_PERIOD_BLOCKS: '20' });
    direct = connect({ address: `127.0.0.1:${port}`, signer: asAdmin, retry: false });
    front = await faultyFront(`127.0.0.1:${port}`);
  });
  beforeEach(() => front.clear());
  after(async () => {
    for (const c of clients) c.close();
    direct?.close();
    await front?.close();
    await system?.stop();
  });

  test('a read answered UNAVAILABLE twice succeeds without the caller retrying (3 calls reached the service)', async () => {
    const alice = generateKeyPair().address;
    await direct.registry.deposit({ account: alice, amount: '700' });
    front.fail('/ewx.v1.Registry/GetAccount', 'unavailable', 'unavailable');
    const before = front.calls('/ewx.v1.Registry/GetAccount');
    const account = await viaFront().registry.getAccount({ address: alice });
    assert.equal(account.free, '700');
    assert.equal(front.calls('/ewx.v1.Registry/GetAccount') - before, 3);
  });

  test('retry: false — the UNAVAILABLE reaches the caller after one call', async () => {
    front.fail('/ewx.v1.Registry/GetAccount', 'unavailable');
    const before = front.calls('/ewx.v1.Registry/GetAccount');
    const e = await viaFront({ retry: false })
      .registry.getAccount({ address: generateKeyPair().address })
      .catch((x: unknown) => x);
    assert.equal(codeOf(e), 'UNAVAILABLE');
    assert.match((e as EwxCallError).details, /partition 0 is starting/);
    assert.equal(front.calls('/ewx.v1.Registry/GetAccount') - before, 1);
  });

  test('a refusal (INVALID_ARGUMENT) is not retried: one call each for a read and a command', async () => {
    const ewx = viaFront();
    const reads = front.calls('/ewx.v1.Registry/GetAccount');
    const deposits = front.calls('/ewx.v1.Registry/Deposit');
    assert.equal(codeOf(await ewx.registry.getAccount({ address: 'not-an-address' }).catch((x: unknown) => x)), 'INVALID_ARGUMENT');
    assert.equal(codeOf(await ewx.registry.deposit({ account: generateKeyPair().address, amount: 'ten' }).catch((x: unknown) => x)), 'INVALID_ARGUMENT');
    assert.equal(front.calls('/ewx.v1.Registry/GetAccount') - reads, 1);
    assert.equal(front.calls('/ewx.v1.Registry/Deposit') - deposits, 1);
  });

  test('a command answered UNAVAILABLE before it reached the service is sent again and applied once', async () => {
    const bob = generateKeyPair();
    const asBob = keySigner(bob, counterNonces());
    const carol = generateKeyPair().address;
    await direct.registry.deposit({ account: bob.address, amount: '1000' });
    front.fail('/ewx.v1.Registry/Transfer', 'unavailable', 'unavailable');
    const before = front.calls('/ewx.v1.Registry/Transfer');
    const reply = await viaFront({ signer: asBob }).registry.transfer({ to: carol, amount: '300' });
    assert.ok(reply.height >= 0n && reply.logPosition > 0n);
    assert.equal(front.calls('/ewx.v1.Registry/Transfer') - before, 3);
    assert.equal(await free(bob.address), '700');
    assert.equal(await free(carol), '300');
  });

  test('a command applied whose reply was lost with the connection: the copy is refused as a reused nonce, the caller gets the reply, the money moved once', async () => {
    const dave = generateKeyPair();
    const asDave = keySigner(dave, counterNonces());
    const erin = generateKeyPair().address;
    await direct.registry.deposit({ account: dave.address, amount: '1000' });
    front.fail('/ewx.v1.Registry/Transfer', 'drop');
    const before = front.calls('/ewx.v1.Registry/Transfer');
    const reply = await viaFront({ signer: asDave }).registry.transfer({ to: erin, amount: '250' });
    assert.equal(front.calls('/ewx.v1.Registry/Transfer') - before, 2, 'sent twice: the applied one and its copy');
    assert.equal(await free(dave.address), '750');
    assert.equal(await free(erin), '250');
    const status = await direct.registry.getStatus({});
    assert.ok(reply.logPosition > 0n && reply.logPosition <= status.logPosition, `${reply.logPosition} vs ${status.logPosition}`);

    // A deposit's reply (the account) is read back; the balance moved once.
    const frank = generateKeyPair().address;
    front.fail('/ewx.v1.Registry/Deposit', 'drop');
    const deposited = await viaFront().registry.deposit({ account: frank, amount: '40' });
    assert.equal(deposited.account?.free, '40');
    assert.equal(await free(frank), '40');
  });

  test('retry: false — the same lost reply surfaces as UNAVAILABLE (the command was applied once all the same)', async () => {
    const gina = generateKeyPair().address;
    front.fail('/ewx.v1.Registry/Deposit', 'drop');
    const e = await viaFront({ retry: false })
      .registry.deposit({ account: gina, amount: '5' })
      .catch((x: unknown) => x);
    assert.equal(codeOf(e), 'UNAVAILABLE');
    assert.equal(await free(gina), '5');
  });

  describe('votes', () => {
    let scenario: Scenario;
    before(async () => {
      scenario = await setUpScenario({
        ewx: direct,
        admin: asAdmin,
        group: 'retry.group',
        operators: 2,
        solutions: [{ namespace: 'retry.solution', logicRef: 'bafy-retry', maxWaiting: 10 }],
      });
      // Stakes count from the next reward period; voting learns them from the registry's events.
      await untilHeight(direct, (await direct.consensus.produceBlocks({ count: 20 })).height, { timeoutMs: 30_000 });
      let probe = 0;
      await waitFor(
        'voting to see 2 eligible workers',
        async () => {
          const r = await direct.voting
            .startRound({ solution: 'retry.solution', roundId: `probe-${++probe}` }, { signer: scenario.registrar.signer })
            .catch(() => undefined);
          return r && r.eligible === 2 ? true : undefined;
        },
        30_000,
        200,
      );
    });

    test('a vote applied whose reply was lost is answered accepted and counted once; a caller-signed one too', async () => {
      await direct.voting.startRound({ solution: 'retry.solution', roundId: 'lost-reply' }, { signer: scenario.registrar.signer });
      const [w1, w2] = scenario.operators.map((o) => o.worker);
      const result = Buffer.from('c0ffee', 'hex');
      const before = front.calls('/ewx.v1.Voting/SubmitVote');
      front.fail('/ewx.v1.Voting/SubmitVote', 'drop');
      const signedHere = await viaFront({ signer: w1!.signer }).voting.submitVote({ solution: 'retry.solution', roundId: 'lost-reply', result });
      assert.equal(signedHere.accepted, true);
      front.fail('/ewx.v1.Voting/SubmitVote', 'drop');
      const signedByCaller = await signVote(w2!.signer, { solution: 'retry.solution', roundId: 'lost-reply', result });
      assert.equal((await viaFront().voting.submitVote(signedByCaller)).accepted, true);
      assert.equal(front.calls('/ewx.v1.Voting/SubmitVote') - before, 4);
      // Every vote of the round (VoteCast or VotesCast), up to a later event of the log (a round started after the votes).
      await direct.voting.startRound({ solution: 'retry.solution', roundId: 'sentinel' }, { signer: scenario.registrar.signer });
      const cast: string[] = [];
      const stop = new AbortController();
      for await (const e of direct.watch('voting', { types: ['VoteCast', 'VotesCast', 'RoundStarted'], signal: stop.signal })) {
        const d = e.data as { roundId: string; worker?: string; votes?: [string, string][] };
        if (e.type === 'VoteCast' && d.roundId === 'lost-reply') cast.push(d.worker!);
        if (e.type === 'VotesCast' && d.roundId === 'lost-reply') cast.push(...d.votes!.map(([w]) => w));
        if (e.type === 'RoundStarted' && d.roundId === 'sentinel') stop.abort();
      }
      assert.deepEqual(cast.sort(), [w1!.key.address, w2!.key.address].sort(), 'each vote cast once');
    });

    test('a batch of votes applied whose reply was lost: each vote it cast is reported accepted', async () => {
      await direct.voting.startRound({ solution: 'retry.solution', roundId: 'lost-batch' }, { signer: scenario.registrar.signer });
      const result = Buffer.from('beef', 'hex');
      const votes = await Promise.all(scenario.operators.map((o) => signVote(o.worker.signer, { solution: 'retry.solution', roundId: 'lost-batch', result })));
      const before = front.calls('/ewx.v1.Voting/SubmitVotes');
      front.fail('/ewx.v1.Voting/SubmitVotes', 'drop');
      const res = await viaFront().voting.submitVotes({ votes });
      assert.equal(front.calls('/ewx.v1.Voting/SubmitVotes') - before, 2);
      assert.deepEqual(
        res.results.map((r) => [r.code, r.accepted]),
        [
          [0, true],
          [0, true],
        ],
        JSON.stringify(res.results),
      );
    });

    test("a lost reply after which the signer's later nonce was accepted: a vote signed by the client is signed again (answered as already recorded); another command is refused naming the doubt", async () => {
      await direct.voting.startRound({ solution: 'retry.solution', roundId: 'later-a' }, { signer: scenario.registrar.signer });
      await direct.voting.startRound({ solution: 'retry.solution', roundId: 'later-b' }, { signer: scenario.registrar.signer });
      const [w1] = scenario.operators.map((o) => o.worker);
      const result = Buffer.from('0a', 'hex');
      const worker = viaFront({ signer: w1!.signer });
      const before = front.calls('/ewx.v1.Voting/SubmitVote');
      // Meanwhile the same worker votes in another round with a later nonce.
      front.fail('/ewx.v1.Voting/SubmitVote', {
        meanwhile: () => direct.withSigner(w1!.signer).voting.submitVote({ solution: 'retry.solution', roundId: 'later-b', result }),
      });
      const answer = await worker.voting.submitVote({ solution: 'retry.solution', roundId: 'later-a', result });
      assert.equal(answer.accepted, false, 'the vote signed again was already recorded');
      assert.equal(front.calls('/ewx.v1.Voting/SubmitVote') - before, 3, 'the lost one, its copy, the vote signed again');

      const hana = generateKeyPair();
      const asHana = keySigner(hana, counterNonces());
      await direct.registry.deposit({ account: hana.address, amount: '100' });
      const ivan = generateKeyPair().address;
      front.fail('/ewx.v1.Registry/Transfer', { meanwhile: () => direct.withSigner(asHana).registry.transfer({ to: ivan, amount: '1' }) });
      const e = await viaFront({ signer: asHana })
        .registry.transfer({ to: ivan, amount: '10' })
        .catch((x: unknown) => x);
      assert.ok(EwxCallError.is(e) && e.codeName === 'PERMISSION_DENIED' && e.applied === false, String(e));
      assert.match(e.details, /^nonce: \d+ was already used .* the lost attempt may have been applied/);
      assert.equal(await free(ivan), '11', 'each transfer applied once');
    });
  });
});
