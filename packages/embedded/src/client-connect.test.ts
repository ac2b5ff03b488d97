import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { runInMemory } from './index.js';
import type { Embedded } from '@ewx/platform';
import { freePort } from '@ewx/platform/testing';
import {
  EwxCallError,
  SERVICE_NAMES,
  connect,
  counterNonces,
  generateKeyPair,
  keySigner,
  sr25519FromMnemonic,
  pollingChanges,
  signVote,
  untilHeight,
  type Ewx,
} from '@ewx/client';

/** The client against the real services: the embedded system in this process, over gRPC on a free port. */
describe('connect: typed promise clients against the embedded system', () => {
  const admin = generateKeyPair();
  const asAdmin = keySigner(admin, counterNonces());
  let system: Embedded;
  let address: string;
  let ewx: Ewx;

  before(async () => {
    const port = await freePort();
    system = await runInMemory(port, { ADMIN_ADDRESS: admin.address });
    address = `127.0.0.1:${port}`;
    ewx = connect({ address, signer: asAdmin });
  });
  after(async () => {
    ewx?.close();
    await system?.stop();
  });

  test("a command is signed with the connection's signer, its defaults filled in; reads need no signer", async () => {
    const alice = generateKeyPair().address;
    const res = await ewx.registry.deposit({ account: alice, amount: '1000' });
    assert.equal(res.account?.free, '1000');
    assert.equal((await ewx.registry.getAccount({ address: alice })).free, '1000');
    const produced = await ewx.consensus.produceBlocks({ count: 3 });
    assert.equal(produced.height, 3n);
    const statuses = await untilHeight(ewx, 3);
    assert.deepEqual(
      SERVICE_NAMES.map((n) => statuses[n].height >= 3n),
      [true, true, true, true, true],
    );
  });

  test('an Energy Web X wallet key (sr25519, SS58 address) signs commands the services accept; a bent signature is refused', async () => {
    // The Substrate `subkey inspect` example phrase: its published SS58 address is the account.
    const wallet = sr25519FromMnemonic('caution juice atom organ advance problem want pledge someone senior holiday very');
    assert.equal(wallet.address, '5Gv8YYFu8H1btvmrJy9FjjAWfb99wrhV3uhPFoNEr918utyR');
    await ewx.registry.deposit({ account: wallet.address, amount: '500' });
    const bob = generateKeyPair();
    const nonces = counterNonces();
    const asWallet = keySigner(wallet, nonces);
    await ewx.registry.transfer({ to: bob.address, amount: '120' }, { signer: asWallet });
    assert.equal((await ewx.registry.getAccount({ address: wallet.address })).free, '380');
    assert.equal((await ewx.registry.getAccount({ address: bob.address })).free, '120');
    const bent = {
      ...asWallet,
      sign: async (b: Uint8Array) => {
        const s = Buffer.from(await asWallet.sign(b));
        s[0]! ^= 1;
        return s;
      },
    };
    const refused = await ewx.registry.transfer({ to: bob.address, amount: '1' }, { signer: bent }).catch((e: unknown) => e);
    assert.ok(EwxCallError.is(refused) && refused.code === status.UNAUTHENTICATED, String(refused));
    const polkadotForm = await ewx.registry.deposit({ account: '15rRgsWxz4H5LTnNGcCFsszfXD8oeAFd8QRsR6MbQE2f6XFF', amount: '1' }).catch((e: unknown) => e);
    assert.ok(EwxCallError.is(polkadotForm) && polkadotForm.code === status.INVALID_ARGUMENT, String(polkadotForm));
    assert.match(polkadotForm.details, /network prefix 0: give the same key in the generic Substrate format, 5Gv8YYFu8H1btvmrJy9FjjAWfb99wrhV3uhPFoNEr918utyR/);
    assert.equal((await ewx.registry.getAccount({ address: wallet.address })).free, '380', 'nothing changed');
  });

  test("refusals arrive as EwxCallError with the gRPC code and the service's message", async () => {
    const bad = await ewx.registry.deposit({ account: generateKeyPair().address, amount: '-1' }).catch((e: unknown) => e);
    assert.ok(EwxCallError.is(bad));
    assert.equal(bad.code, status.INVALID_ARGUMENT);
    assert.match(bad.details, /^amount: /);
    assert.match(bad.message, /^\/ewx\.v1\.Registry\/Deposit: INVALID_ARGUMENT: amount: /);
    const mallory = keySigner(generateKeyPair(), counterNonces());
    const denied = await ewx.consensus.produceBlocks({ count: 1 }, { signer: mallory }).catch((e: unknown) => e);
    assert.ok(EwxCallError.is(denied) && denied.code === status.PERMISSION_DENIED, String(denied));
    const missing = await ewx.registry.getGroup({ namespace: 'no.such.group' }).catch((e: unknown) => e);
    assert.ok(EwxCallError.is(missing) && missing.code === status.NOT_FOUND, String(missing));
  });

  test('a command without a signer is refused locally, before anything is sent', async () => {
    const anonymous = connect({ address });
    try {
      await assert.rejects(anonymous.registry.deposit({ account: admin.address, amount: '1' }), /\/ewx\.v1\.Registry\/Deposit is a signed command/);
      assert.equal((await anonymous.registry.getAccount({ address: admin.address })).free, '0');
    } finally {
      anonymous.close();
    }
  });

  test('standalone form: one address per service (here two spellings of the same server)', async () => {
    const spread = connect({
      addresses: {
        registry: address,
        voting: `localhost:${address.split(':')[1]}`,
        consensus: address,
        rewards: `localhost:${address.split(':')[1]}`,
        distance: address,
      },
    });
    try {
      const all = await Promise.all(SERVICE_NAMES.map((n) => spread[n].getStatus({})));
      assert.deepEqual(
        all.map((s) => s.service),
        ['registry', 'voting', 'consensus', 'rewards', 'distance'],
      );
    } finally {
      spread.close();
    }
    assert.throws(() => connect({ addresses: { registry: address } as never }), /addresses\.voting is missing/);
  });

  test('a vote signed for SubmitVote is judged on its own inside a SubmitVotes batch', async () => {
    const worker = keySigner(generateKeyPair(), counterNonces());
    const vote = await signVote(worker, { solution: 'no.such.solution', roundId: 'r1', result: Buffer.from('01', 'hex') });
    const res = await ewx.voting.submitVotes({ votes: [vote, { ...vote, auth: { ...vote.auth!, signature: Buffer.alloc(64) } }] });
    // The signature is accepted (the refusal is about the role: this account is no connected worker), the forged one is not.
    assert.deepEqual(
      res.results.map((r) => r.code),
      [status.PERMISSION_DENIED, status.UNAUTHENTICATED],
    );
    assert.match(res.results[0]!.message, /^auth\.signer: /);
  });

  test('waiting polls with backoff, fails fast on refusals and names what it waited for at the deadline', async () => {
    const changes = pollingChanges({ firstMs: 5, maxMs: 20 });
    let calls = 0;
    assert.equal(await changes.until('the third look', async () => (++calls === 3 ? 'ok' : undefined)), 'ok');
    await assert.rejects(
      changes.until('nothing', async () => undefined, { timeoutMs: 60 }),
      /timed out after 60 ms waiting for nothing/,
    );
    const refused = () => ewx.rewards.getGroupPayouts({ group: 'g', limit: 501 }).then(() => undefined);
    await assert.rejects(
      changes.until('a bad question', refused, { timeoutMs: 10_000 }),
      (e: unknown) => EwxCallError.is(e) && e.code === status.INVALID_ARGUMENT,
    );
  });
});
