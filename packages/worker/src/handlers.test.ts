import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { commandHandler, defaultRoundId, loadHandlers, parseCommandHandler, voteBytes, type RoundInput } from './handlers.js';

const round: RoundInput = {
  solution: 's.one',
  roundId: 'r1',
  group: 'g',
  logicRef: 'bafy-x',
  startBlock: 5n,
  endBlock: 8n,
  period: 1,
  worker: 'ed25519:' + 'ab'.repeat(32),
};

test('vote bytes: up to 64 bytes as they are, longer ones hashed, nothing abstains, empty is an error', () => {
  assert.deepEqual(voteBytes('c0ffee'), Buffer.from('c0ffee', 'utf8'));
  assert.deepEqual(voteBytes(Uint8Array.of(1, 2)), Buffer.from([1, 2]));
  assert.equal(voteBytes('x'.repeat(65))!.length, 32);
  assert.equal(voteBytes(undefined), undefined);
  assert.equal(voteBytes(null), undefined);
  assert.throws(() => voteBytes(''), /empty result/);
});

test('worker-started slots: one per max_waiting_threshold blocks from the period start, none where a late start would overrun the period', () => {
  const period = { index: 1, firstBlock: 13n, lastBlock: 24n };
  const at = (height: bigint) => defaultRoundId({ solution: 's', height, period, maxWaitingThreshold: 4n });
  assert.deepEqual([13n, 16n, 17n, 20n, 21n, 24n].map(at), ['p1-s0', 'p1-s0', 'p1-s1', 'p1-s1', undefined, undefined]);
});

test('handler modules: logicRef export, file name, default map; a directory; duplicates refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ewx-handlers-'));
  try {
    writeFileSync(join(dir, 'a.mjs'), "export const logicRef = ['bafy-a', 'bafy-a2']; export const compute = (r) => 'a:' + r.roundId;");
    writeFileSync(join(dir, 'bafy-b.mjs'), 'export function compute(r) { return new Uint8Array([7]); }');
    writeFileSync(join(dir, 'c.mjs'), "export default { 'bafy-c': (r) => 'c', 'bafy-d': { compute: () => undefined } };");
    writeFileSync(join(dir, 'notes.txt'), 'not a module');
    const all = await loadHandlers(dir);
    assert.deepEqual([...all.keys()].sort(), ['bafy-a', 'bafy-a2', 'bafy-b', 'bafy-c', 'bafy-d']);
    assert.equal(await all.get('bafy-a')!.compute(round), 'a:r1');
    assert.equal(await all.get('bafy-d')!.compute(round), undefined);
    writeFileSync(join(dir, 'e.mjs'), "export const logicRef = 'bafy-c'; export const compute = () => 'e';");
    await assert.rejects(loadHandlers(dir), /logic reference "bafy-c" is served by both/);
    writeFileSync(join(dir, 'f.mjs'), 'export const nothing = 1;');
    await assert.rejects(loadHandlers(join(dir, 'f.mjs')), /exports no compute\(round\)/);
    await assert.rejects(loadHandlers(join(dir, 'missing')), /no such file or directory/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('external command: the round as JSON on stdin, stdout is the result; a failure says why', async () => {
  const echo = commandHandler(
    `${process.execPath} -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).roundId+'@'+JSON.parse(s).endBlock))"`,
  );
  assert.equal(await echo.compute(round), 'r1@8');
  const silent = commandHandler(`${process.execPath} -e ""`);
  assert.equal(await silent.compute(round), undefined);
  const failing = commandHandler(`${process.execPath} -e "console.error('no data'); process.exit(3)"`);
  await assert.rejects(Promise.resolve(failing.compute(round)), /exited with code 3: no data/);
  assert.throws(() => parseCommandHandler('no-equals'), /expected ref=command/);
  assert.equal(parseCommandHandler('bafy=echo hi')[0], 'bafy');
});
