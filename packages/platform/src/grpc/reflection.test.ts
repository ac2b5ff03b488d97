import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_ROOT } from '../host.js';
import { oneEntryPerFileSet } from './server.js';

const { ReflectionService } = createRequire(import.meta.url)('@grpc/reflection') as typeof import('@grpc/reflection');

type Impl = {
  files: Record<string, unknown>;
  symbols: Record<string, { name?: string }>;
  services: Record<string, unknown>;
  fileEncodings: Map<unknown, Uint8Array>;
};

test('reflection over one entry per file set knows the same files, symbols, services and encodings as over the whole definition', () => {
  const files = ['registry', 'voting', 'consensus', 'rewards', 'distance'].map((s) => `ewx/v1/${s}.proto`);
  const pkg = protoLoader.loadSync(files, { includeDirs: [PROTO_ROOT], keepCase: false, longs: String });
  const pruned = oneEntryPerFileSet(pkg);
  assert.ok(Object.keys(pruned).length < Object.keys(pkg).length, 'fewer entries');
  for (const version of ['v1', 'v1Alpha'] as const) {
    const full = (new ReflectionService(pkg) as unknown as Record<string, Impl>)[version]!;
    const less = (new ReflectionService(pruned) as unknown as Record<string, Impl>)[version]!;
    assert.deepEqual(Object.keys(less.files).sort(), Object.keys(full.files).sort());
    assert.deepEqual(Object.keys(less.services).sort(), Object.keys(full.services).sort());
    assert.ok(Object.keys(full.services).includes('ewx.v1.Registry'));
    assert.deepEqual(
      Object.fromEntries(Object.entries(less.symbols).map(([k, f]) => [k, f.name])),
      Object.fromEntries(Object.entries(full.symbols).map(([k, f]) => [k, f.name])),
    );
    const encodings = (i: Impl) => Object.fromEntries([...i.fileEncodings].map(([f, b]) => [(f as { name: string }).name, Buffer.from(b).toString('base64')]));
    assert.deepEqual(encodings(less), encodings(full));
  }
});
