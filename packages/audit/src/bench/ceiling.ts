/**
 * The signature ceiling of this machine, now: how many ed25519 verifications per second node:crypto
 * does (a bare `crypto.verify` over vote-sized messages, 256 keys and messages in turn, public keys
 * parsed once: no parsing, no hex, nothing the audit adds), on one thread, and on `threads` worker
 * threads at once; and the CPU time one verification takes (the one-thread run, in this thread:
 * a figure the machine's load changes far less than the wall-clock rates). The full audit cannot
 * check signatures faster.
 */
import { Worker } from 'node:worker_threads';

/** One thread's loop, as worker code (eval'd): verifies for `ms` milliseconds, answers the count and the time taken. */
const LOOP = `
const { generateKeyPairSync, sign, verify } = require('node:crypto');
const { parentPort, workerData: given } = require('node:worker_threads');
const workerData = parentPort ? given : module.workerData;
const keys = Array.from({ length: 256 }, (_, i) => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const message = Buffer.alloc(workerData.bytes, i);
  return { publicKey, message, signature: sign(null, message, privateKey) };
});
let n = 0;
const c0 = process.cpuUsage();
const t0 = performance.now();
while (performance.now() - t0 < workerData.ms) {
  for (let i = 0; i < 16; i++) {
    const k = keys[n & 255];
    if (verify(null, k.message, k.publicKey, k.signature)) n++;
  }
}
const ms = performance.now() - t0;
const c = process.cpuUsage(c0);
// cpu: of the whole process, meaningful only when nothing else of it runs (the one-thread run, in the main thread).
if (parentPort) parentPort.postMessage({ n, ms });
else module.exports = { n, ms, cpu: (c.user + c.system) / 1000 };
`;

export interface Ceiling {
  /** Verifications per second on one thread. */
  readonly perThread: number;
  /** CPU time of one verification (µs), from the one-thread run. */
  readonly cpuMicros: number;
  /** Verifications per second, all `threads` threads together. */
  readonly all: number;
  readonly threads: number;
}

const run = (threads: number, ms: number, bytes: number): Promise<number> =>
  Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<{ n: number; ms: number }>((resolve, reject) => {
          const w = new Worker(LOOP, { eval: true, execArgv: [], workerData: { ms, bytes } });
          w.once('message', (m: { n: number; ms: number }) => {
            resolve(m);
            void w.terminate();
          });
          w.once('error', reject);
        }),
    ),
  ).then((rs) => rs.reduce((a, r) => a + (r.n * 1000) / r.ms, 0));

/** The loop in this thread (nothing else of this process running): verifications and their CPU time. */
async function here(ms: number, bytes: number): Promise<{ perSecond: number; cpuMicros: number }> {
  const { createRequire } = await import('node:module');
  const { runInThisContext } = await import('node:vm');
  const mod = { exports: {} as { n: number; ms: number; cpu: number }, workerData: { ms, bytes } };
  runInThisContext(`(function (require, module) {${LOOP}})`)(createRequire(import.meta.url), mod);
  return { perSecond: (mod.exports.n * 1000) / mod.exports.ms, cpuMicros: (mod.exports.cpu * 1000) / mod.exports.n };
}

/** Measures one thread alone (this one), then `threads` worker threads together, `ms` each; `bytes`: the signed message's size (a vote's signing bytes are ~150). */
export async function signatureCeiling(threads: number, ms = 2000, bytes = 160): Promise<Ceiling> {
  const one = await here(ms, bytes);
  const all = threads <= 1 ? one.perSecond : await run(threads, ms, bytes);
  return { perThread: Math.round(one.perSecond), cpuMicros: Number(one.cpuMicros.toFixed(1)), all: Math.round(all), threads };
}

/** The same loop with @noble/curves (pure JavaScript), one thread: what a library would give instead of OpenSSL. */
export async function nobleRate(ms = 1000, bytes = 160): Promise<number> {
  const { ed25519 } = await import('@noble/curves/ed25519.js');
  const secret = ed25519.utils.randomSecretKey();
  const pub = ed25519.getPublicKey(secret);
  const message = new Uint8Array(bytes).fill(7);
  const sig = ed25519.sign(message, secret);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) if (ed25519.verify(sig, message, pub)) n++;
  return Math.round((n * 1000) / (performance.now() - t0));
}
