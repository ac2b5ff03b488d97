import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { clockNonces, fileNonces, generateKeyPair, keyFileSigner, readKeyFile, writeKeyFile } from './index.js';

describe('nonce sources', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ewx-nonces-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a key file's nonces keep increasing across restarts (a new source over the same file)", () => {
    const keyFile = join(dir, 'a.key');
    writeKeyFile(keyFile, generateKeyPair());
    const first = fileNonces(keyFile);
    const a = [first(), first(), first()];
    const restarted = fileNonces(keyFile);
    const b = restarted();
    assert.ok(a[0]! < a[1]! && a[1]! < a[2]! && a[2]! < b, `${a.join(',')} then ${b}`);
    assert.equal(readFileSync(`${keyFile}.nonce`, 'utf8').trim(), b.toString());
    assert.equal(statSync(`${keyFile}.nonce`).mode & 0o777, 0o600);
  });

  test('a nonce file ahead of the clock (a clock set back) is still followed', () => {
    const keyFile = join(dir, 'b.key');
    const ahead = BigInt(Date.now()) * 1000n + 10n ** 12n;
    writeFileSync(`${keyFile}.nonce`, `${ahead}\n`);
    assert.equal(fileNonces(keyFile)(), ahead + 1n);
  });

  test('a damaged nonce file is refused with its name, not overwritten', () => {
    const keyFile = join(dir, 'c.key');
    writeFileSync(`${keyFile}.nonce`, 'garbage\n');
    assert.throws(() => fileNonces(keyFile)(), /c\.key\.nonce: expected a decimal number/);
    assert.equal(readFileSync(`${keyFile}.nonce`, 'utf8'), 'garbage\n');
  });

  test('two processes drawing from one key file never get the same nonce', async () => {
    const keyFile = join(dir, 'd.key');
    writeKeyFile(keyFile, generateKeyPair());
    const index = fileURLToPath(new URL('./index.js', import.meta.url));
    const draw = (): Promise<bigint[]> =>
      new Promise((resolve, reject) => {
        const code = `import(${JSON.stringify(index)}).then((m) => { const n = m.fileNonces(${JSON.stringify(keyFile)}); const out = []; for (let i = 0; i < 200; i++) out.push(String(n())); console.log(out.join(',')); })`;
        const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        child.on('exit', (c) => (c === 0 ? resolve(out.trim().split(',').map(BigInt)) : reject(new Error(`exit ${c}`))));
      });
    const [x, y] = await Promise.all([draw(), draw()]);
    assert.equal(new Set([...x, ...y]).size, 400);
    for (const seq of [x, y]) for (let i = 1; i < seq.length; i++) assert.ok(seq[i]! > seq[i - 1]!);
  });

  test('clock nonces increase strictly within a process and can be moved past a known nonce', () => {
    const n = clockNonces();
    const a = n();
    const b = n();
    assert.ok(b > a);
    n.atLeast(a + 10n ** 15n);
    assert.equal(n(), a + 10n ** 15n + 1n);
  });

  test('key files: 0600, the seed as hex, never overwritten; a missing or bad file names the path', () => {
    const keyFile = join(dir, 'e.key');
    const key = generateKeyPair();
    writeKeyFile(keyFile, key);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(readKeyFile(keyFile).address, key.address);
    assert.throws(() => writeKeyFile(keyFile, generateKeyPair()), /EEXIST/);
    assert.equal(readKeyFile(keyFile).address, key.address);
    assert.throws(() => readKeyFile(join(dir, 'missing.key')), /key file not found: .*missing\.key/);
    writeFileSync(join(dir, 'bad.key'), 'nothex\n');
    assert.throws(() => keyFileSigner(join(dir, 'bad.key')), /bad\.key: expected 64 hex/);
  });
});
