import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { capMessage, invalid, MAX_MESSAGE_BYTES, quote } from './errors.js';
import { statusMessage, toServiceError } from './grpc/server.js';
import type { Logger } from './log.js';

test('quote: short values JSON-quoted whole; long ones cut to a prefix with an ellipsis and their full length', () => {
  assert.equal(quote('abc'), '"abc"');
  assert.equal(quote('a"b\n'), '"a\\"b\\n"');
  assert.equal(quote('x'.repeat(64)), `"${'x'.repeat(64)}"`);
  assert.equal(quote('x'.repeat(1_000_000)), `"${'x'.repeat(64)}"… (1000000 characters)`);
  assert.equal(quote('y'.repeat(20), 8), '"yyyyyyyy"… (20 characters)');
  assert.equal(quote(42), '"42"');
});

test('capMessage: at most the byte limit, multi-byte characters included, never half a surrogate pair', () => {
  assert.equal(capMessage('short'), 'short');
  for (const unit of ['x', 'é', '€', '😀']) {
    const long = unit.repeat(5000);
    const cut = capMessage(long);
    assert.ok(Buffer.byteLength(cut) <= MAX_MESSAGE_BYTES, `${unit}: ${Buffer.byteLength(cut)} bytes`);
    assert.ok(cut.length > 100, `${unit}: keeps a useful prefix`);
    assert.match(cut, new RegExp(`… \\(message cut, ${long.length} characters\\)$`));
    assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])/.test(cut), `${unit}: no lone high surrogate`);
  }
});

test('toServiceError: the status keeps its code with a message of at most MAX_MESSAGE_BYTES; others are UNAVAILABLE, logged cut', () => {
  const logged: string[] = [];
  const log: Logger = {
    info() {},
    warn() {},
    error: (_m, f) => {
      logged.push(String(f?.error));
    },
    child: () => log,
  };
  const domain = toServiceError(invalid('namespace', `got "${'n'.repeat(1_000_000)}"`), log, '/ewx.v1.Registry/GetGroup');
  assert.equal(domain.code, grpc.status.INVALID_ARGUMENT);
  assert.ok(Buffer.byteLength(domain.details!) <= MAX_MESSAGE_BYTES);
  assert.match(domain.details!, /^namespace: got "nnn/);
  const other = toServiceError(new Error('z'.repeat(1_000_000)), log, '/ewx.v1.Registry/GetGroup');
  assert.equal(other.code, grpc.status.UNAVAILABLE);
  assert.ok(Buffer.byteLength(other.details!) <= MAX_MESSAGE_BYTES);
  assert.match(
    other.details!,
    /^\/ewx\.v1\.Registry\/GetGroup: temporarily unavailable \(zzz.*… \(message cut, 1000000 characters\)\); retry with a new nonce$/,
  );
  assert.equal(logged.length, 1);
  assert.ok(logged[0]!.length <= 4 * MAX_MESSAGE_BYTES);
  assert.ok(Buffer.byteLength(statusMessage(new Error('w'.repeat(100_000)))) <= MAX_MESSAGE_BYTES);
});
