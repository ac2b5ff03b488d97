import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateKeyPair, isDomainError, readEnv, REGISTRY_TREASURY, TOKEN } from '@ewx/platform';
import { paramsFrom, registryAddressFrom, serviceKeyFrom } from './config.js';
import { grpcLedger } from './ledger.js';

const admin = generateKeyPair().address;
const addresses = (n: number): string => Array.from({ length: n }, () => generateKeyPair().address).join(',');

test('defaults are the Ğ1 production values', () => {
  const p = paramsFrom(readEnv({}), admin);
  assert.deepEqual(
    [p.periodBlocks, p.price, p.minPerbill, p.maxDistance, p.maxPoolSize, p.evaluators.size, p.wotAdmin],
    [40, 10n * TOKEN, 800_000_000, 5, 1300, 0, admin],
  );
});

test('at most 100 evaluators; bad or repeated addresses refuse to start, naming the variable', () => {
  assert.equal(paramsFrom(readEnv({ EVALUATORS: addresses(100) }), admin).evaluators.size, 100);
  assert.throws(() => paramsFrom(readEnv({ EVALUATORS: addresses(101) }), admin), /EVALUATORS: expected at most 100/);
  assert.throws(() => paramsFrom(readEnv({ EVALUATORS: 'alice' }), admin), /EVALUATORS/);
  const one = generateKeyPair().address;
  assert.throws(() => paramsFrom(readEnv({ EVALUATORS: `${one},${one}` }), admin), /EVALUATORS: expected distinct/);
  assert.throws(() => paramsFrom(readEnv({ DISTANCE_PRICE: '0' }), admin), /DISTANCE_PRICE/);
  assert.throws(() => paramsFrom(readEnv({ DISTANCE_PERIOD_BLOCKS: '0' }), admin), /DISTANCE_PERIOD_BLOCKS/);
  assert.throws(() => paramsFrom(readEnv({ WOT_ADMIN: 'root' }), admin), /WOT_ADMIN/);
  // The treasury (a small-order point) is a well-formed address, but no one can sign for it.
  assert.throws(() => paramsFrom(readEnv({ WOT_ADMIN: REGISTRY_TREASURY }), admin), /WOT_ADMIN: expected .*a key that can sign/);
  assert.throws(() => paramsFrom(readEnv({ EVALUATORS: REGISTRY_TREASURY }), admin), /EVALUATORS: expected .*keys that can sign/);
});

test('service key and registry address: standalone needs both; embedded defaults to its own server', () => {
  assert.equal(serviceKeyFrom(readEnv({})), undefined);
  const k = generateKeyPair();
  assert.equal(serviceKeyFrom(readEnv({ DISTANCE_SERVICE_KEY: k.seed }))!.address, k.address);
  assert.throws(() => serviceKeyFrom(readEnv({ DISTANCE_SERVICE_KEY: 'xyz' })), /DISTANCE_SERVICE_KEY/);
  assert.equal(registryAddressFrom(readEnv({}), 'standalone'), undefined);
  assert.equal(registryAddressFrom(readEnv({ GRPC_PORT: '6000' }), 'embedded'), '127.0.0.1:6000');
  assert.equal(registryAddressFrom(readEnv({ REGISTRY_ADDRESS: 'registry:50061' }), 'standalone'), 'registry:50061');
  assert.throws(() => registryAddressFrom(readEnv({ REGISTRY_ADDRESS: 'registry' }), 'standalone'), /REGISTRY_ADDRESS/);
});

test('an unreachable registry is an unknown outcome (retried later), not a refusal', async () => {
  const ledger = grpcLedger('127.0.0.1:1', generateKeyPair(), 1000);
  await assert.rejects(ledger.placeHold('distance:1:1', admin, 1n), (e: unknown) => !isDomainError(e) && /registry unreachable/.test((e as Error).message));
  ledger.close();
});
