import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { runInMemory } from './index.js';
import type { Embedded } from '@ewx/platform';
import { freePort } from '@ewx/platform/testing';
import { DepositRequest } from '@ewx/proto/registry';
import {
  EwxCallError,
  MAX_BATCH_ITEMS,
  connect,
  counterNonces,
  depositMany,
  generateKeyPair,
  keySigner,
  nominateMany,
  signDeposit,
  signNomination,
  signWith,
  untilHeight,
  type Ewx,
  type KeyPair,
  type Signer,
} from '@ewx/client';
import { testGroupConfig, testSolutionConfig } from '@ewx/client/testing';

const T = 10n ** 18n;

/**
 * Registry batches over gRPC against the embedded system: DepositBatch and NominateWorkers, each
 * item signed as the single command, run in order with a result per item; ListAccounts paged in
 * address order. Also measures 1,000 deposits one call each against one batch (same run).
 */
describe('registry batches and the account list', () => {
  const admin = generateKeyPair();
  const registrar = generateKeyPair();
  const nonce = counterNonces();
  const as = (k: KeyPair): Signer => keySigner(k, nonce);
  let system: Embedded;
  let ewx: Ewx;

  before(async () => {
    const port = await freePort();
    system = await runInMemory(port, { ADMIN_ADDRESS: admin.address });
    ewx = connect({ address: `127.0.0.1:${port}`, signer: as(admin) });
    await ewx.consensus.produceBlocks({ count: 1 });
    await untilHeight(ewx, 1, { timeoutMs: 60_000 });
  });
  after(async () => {
    ewx?.close();
    await system?.stop();
  });

  test('DepositBatch: items in order, one refused item does not stop the rest, nothing for it', async () => {
    const a = generateKeyPair().address;
    const b = generateKeyPair().address;
    const stranger = as(generateKeyPair());
    const deposits = [
      await signDeposit(as(admin), { account: a, amount: 5n }),
      await signDeposit(as(admin), { account: b, amount: 'lots' }), // refused: amount
      await signDeposit(stranger, { account: b, amount: 7n }), // refused: not the admin
      await signDeposit(as(admin), { account: a, amount: 6n }),
    ];
    const replayed = deposits[0]!;
    const res = await ewx.registry.depositBatch({ deposits: [...deposits, replayed] });
    assert.deepEqual(
      res.results.map((r) => r.code),
      [status.OK, status.INVALID_ARGUMENT, status.PERMISSION_DENIED, status.OK, status.PERMISSION_DENIED],
    );
    assert.match(res.results[1]!.message, /^amount:/);
    assert.match(res.results[2]!.message, /auth\.signer/);
    assert.match(res.results[4]!.message, /nonce/);
    assert.equal((await ewx.registry.getAccount({ address: a })).free, '11');
    assert.equal((await ewx.registry.getAccount({ address: b })).free, '0');
    assert.ok(res.logPosition > 0n);
  });

  test('a batch signed for the batch method is refused item by item: each item is signed for the single method', async () => {
    const a = generateKeyPair().address;
    const wrong = await signWith(as(admin), '/ewx.v1.Registry/DepositBatch', { auth: undefined, account: a, amount: '1' }, (m) =>
      DepositRequest.encode(m).finish(),
    );
    const res = await ewx.registry.depositBatch({ deposits: [wrong] });
    assert.equal(res.results[0]!.code, status.UNAUTHENTICATED);
    assert.match(res.results[0]!.message, /auth\.signature/);
  });

  test('more than 1000 items: INVALID_ARGUMENT naming the field, nothing applied', async () => {
    const a = generateKeyPair().address;
    const deposits = [];
    for (let i = 0; i <= MAX_BATCH_ITEMS; i++) deposits.push(await signDeposit(as(admin), { account: a, amount: 1n }));
    await assert.rejects(
      ewx.registry.depositBatch({ deposits }),
      (e: unknown) => e instanceof EwxCallError && e.code === status.INVALID_ARGUMENT && /^deposits: at most 1000 per call, got 1001/.test(e.details),
    );
    assert.equal((await ewx.registry.getAccount({ address: a })).free, '0');
  });

  test('NominateWorkers and UnnominateWorkers: per-item results, signed for NominateWorker / UnnominateWorker', async () => {
    const R = as(registrar);
    await ewx.registry.deposit({ account: registrar.address, amount: (1000n * T).toString() });
    await ewx.withSigner(R).registry.signUpRegistrar({ friendlyName: 'Batch registrar', legalLocation: 'DE' });
    await ewx.withSigner(R).registry.registerGroup({ config: testGroupConfig('batch.group'), budget: (500n * T).toString(), allowList: [] });
    await ewx.withSigner(R).registry.registerSolution({ config: testSolutionConfig('batch.solution', 'batch.group', { nominationsEnabled: true }) });
    const workers = Array.from({ length: 30 }, () => generateKeyPair().address);
    const items = [...workers, workers[0]!].map((worker) => ({ solution: 'batch.solution', worker }));
    const seen: number[] = [];
    const res = await nominateMany(ewx, R, items, { chunk: 8, onProgress: (done) => seen.push(done) });
    assert.deepEqual(seen, [8, 16, 24, 31]);
    assert.deepEqual(
      res.map((r) => r.code),
      [...workers.map(() => status.OK), status.ALREADY_EXISTS],
    );
    // A nomination signed for NominateWorker is not accepted by UnnominateWorkers.
    const crossed = await ewx.registry.unnominateWorkers({ nominations: [await signNomination(R, { solution: 'batch.solution', worker: workers[1]! })] });
    assert.equal(crossed.results[0]!.code, status.UNAUTHENTICATED);
    const un = await nominateMany(
      ewx,
      R,
      workers.slice(0, 5).map((worker) => ({ solution: 'batch.solution', worker })),
      { unnominate: true },
    );
    assert.ok(
      un.every((r) => r.code === status.OK),
      JSON.stringify(un),
    );
    const sol = await ewx.registry.getSolution({ namespace: 'batch.solution' });
    assert.deepEqual([...sol.nominatedWorkers].sort(), workers.slice(5).sort());
  });

  test('ListAccounts: every account once, in address order, paged', async () => {
    const listed: string[] = [];
    let token = '';
    do {
      const p = await ewx.registry.listAccounts({ page: { pageSize: 7, pageToken: token } });
      assert.ok(p.accounts.length <= 7);
      listed.push(...p.accounts.map((x) => x.address));
      token = p.page!.nextPageToken;
    } while (token !== '');
    assert.deepEqual(listed, [...listed].sort());
    assert.equal(new Set(listed).size, listed.length);
    assert.ok(listed.includes(registrar.address));
    const one = await ewx.registry.listAccounts({ page: { pageSize: 500, pageToken: '' } });
    assert.deepEqual(
      one.accounts.map((x) => x.address),
      listed,
    );
    const reg = one.accounts.find((x) => x.address === registrar.address)!;
    assert.deepEqual(reg, await ewx.registry.getAccount({ address: registrar.address }));
    await assert.rejects(
      ewx.registry.listAccounts({ page: { pageSize: 10, pageToken: 'not-a-token' } }),
      (e: unknown) => e instanceof EwxCallError && e.code === status.INVALID_ARGUMENT && /^page\.page_token:/.test(e.details),
    );
  });

  // The figure in the closing note (1,000 each way) was taken with EWX_BATCH_MEASURE=1000; CI runs 100.
  test('measure: N deposits one call each vs one DepositBatch (same run)', async () => {
    const N = Number(process.env.EWX_BATCH_MEASURE ?? 100);
    const single = Array.from({ length: N }, () => generateKeyPair().address);
    const batched = Array.from({ length: N }, () => generateKeyPair().address);
    let t = performance.now();
    for (const account of single) await ewx.registry.deposit({ account, amount: '3' });
    const oneByOne = performance.now() - t;
    t = performance.now();
    const res = await depositMany(
      ewx,
      as(admin),
      batched.map((account) => ({ account, amount: 3n })),
    );
    const batch = performance.now() - t;
    assert.equal(res.length, N);
    assert.ok(res.every((r) => r.code === status.OK));
    for (const account of [single[N - 1]!, batched[0]!, batched[N - 1]!]) assert.equal((await ewx.registry.getAccount({ address: account })).free, '3');
    console.log(`measure: ${N} deposits: one call each ${oneByOne.toFixed(0)} ms, one DepositBatch ${batch.toFixed(0)} ms (${(oneByOne / batch).toFixed(1)}x)`);
  });
});
