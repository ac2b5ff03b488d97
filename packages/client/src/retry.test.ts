import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appliedBefore, backoffMs, DEFAULT_RETRY, isRead, nonceRefusalOf, readRetryChannelOptions, retryPolicyOf } from './retry.js';

test('retry options: defaults, false turns retries off, a bad value names the option and the rule', () => {
  assert.deepEqual(retryPolicyOf(undefined), DEFAULT_RETRY);
  assert.equal(retryPolicyOf(false), undefined);
  assert.deepEqual(retryPolicyOf({ maxAttempts: 3 }), { ...DEFAULT_RETRY, maxAttempts: 3 });
  assert.throws(() => retryPolicyOf({ maxAttempts: 1 }), /retry\.maxAttempts: an integer from 2 to 10, got 1/);
  assert.throws(() => retryPolicyOf({ maxAttempts: 11 }), /retry\.maxAttempts/);
  assert.throws(() => retryPolicyOf({ initialBackoffMs: 0 }), /retry\.initialBackoffMs: a positive number/);
  assert.throws(() => retryPolicyOf({ initialBackoffMs: 500, maxBackoffMs: 100 }), /retry\.maxBackoffMs: at least initialBackoffMs, got 100/);
  assert.throws(() => retryPolicyOf({ backoffMultiplier: 0.5 }), /retry\.backoffMultiplier/);
});

test('backoff: doubling from the first wait up to the longest, ±20 % jitter', () => {
  const p = DEFAULT_RETRY;
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6].map((n) => backoffMs(p, n, () => 0.5)),
    [200, 400, 800, 1600, 2000, 2000],
  );
  assert.equal(
    backoffMs(p, 1, () => 0),
    160,
  );
  assert.equal(Math.round(backoffMs(p, 1, () => 1)), 240);
});

test('reads are Get…/List… methods; only they are in the grpc-js retry policy, on UNAVAILABLE alone', () => {
  assert.ok(isRead('/ewx.v1.Registry/GetAccount'));
  assert.ok(isRead('/ewx.v1.Voting/ListRounds'));
  assert.ok(!isRead('/ewx.v1.Registry/Deposit'));
  assert.ok(!isRead('/ewx.v1.Voting/SubmitVote'));
  const o = readRetryChannelOptions(DEFAULT_RETRY, ['/ewx.v1.Registry/GetAccount', '/ewx.v1.Registry/Deposit']);
  const config = JSON.parse(o['grpc.service_config'] as string);
  assert.deepEqual(config.methodConfig[0].name, [{ service: 'ewx.v1.Registry', method: 'GetAccount' }]);
  assert.deepEqual(config.methodConfig[0].retryPolicy, {
    maxAttempts: 5,
    initialBackoff: '0.200s',
    maxBackoff: '2.000s',
    backoffMultiplier: 2,
    retryableStatusCodes: ['UNAVAILABLE'],
  });
  assert.equal(o['grpc-node.retry_max_attempts_limit'], 5);
});

test("a reused-nonce refusal says the lost attempt was applied only when the signer's last accepted nonce is the command's own", () => {
  const details = (n: bigint, last: bigint) => `nonce: ${n} was already used by ed25519:aa (last accepted ${last}); use a larger one`;
  const auth = { signer: 'ed25519:aa', nonce: 7n };
  const own = nonceRefusalOf(7, details(7n, 7n));
  assert.deepEqual(own, { nonce: 7n, signer: 'ed25519:aa', lastAccepted: 7n });
  assert.equal(appliedBefore(own!, auth), true);
  assert.equal(appliedBefore(nonceRefusalOf(7, details(7n, 9n))!, auth), false, 'a later nonce was accepted: unknown');
  assert.equal(appliedBefore(own!, { signer: 'ed25519:bb', nonce: 7n }), false);
  assert.equal(nonceRefusalOf(3, details(7n, 7n)), undefined, 'not PERMISSION_DENIED');
  assert.equal(nonceRefusalOf(7, 'auth.signer: not a registrar'), undefined);
  assert.equal(nonceRefusalOf(7, `workerAuth.${details(7n, 7n)}`), undefined, "a co-signer's nonce is not the command's");
});
