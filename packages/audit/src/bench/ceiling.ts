/**
 * The signature ceiling of this machine, now: how many ed25519 verifications per second node:crypto
 * does (a bare `crypto.verify` over a vote-sized message with a parsed public key: no parsing, no
 * hex, nothing the audit adds), on one thread, and on `threads` worker threads at once. The full
 * audit cannot check signatures faster than the second figure.
 */
import { Worker } from 'node:worker_threads';

/** One thread's loop, as worker code (eval'd): verifies for `ms` milliseconds, answers the count and the time taken. */
const LOOP = `
const { generateKeyPairSync, sign, verify } = require('node:crypto');
const { parentPort, workerData } = require('node:worker_threads');
const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const message = Buffer.alloc(workerData.bytes, 7);
const signature = sign(null, message, privateKey);
let n = 0;
const t0 = performance.now();
while (performance.now() - t0 < workerData.ms) {
  for (let i = 0; i < 16; i++) if (verify(null, message, publicKey, signature)) n++;
}
parentPort.postMessage({ n, ms: performance.now() - t0 });
`;

export interface Ceiling {
  /** Verifications per second on one thread. */
  readonly perThread: number;
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
          const w = new Worker(LOOP, { eval: true, workerData: { ms, bytes } });
          w.once('message', (m: { n: number; ms: number }) => {
            resolve(m);
            void w.terminate();
          });
          w.once('error', reject);
        }),
    ),
  ).then((rs) => rs.reduce((a, r) => a + (r.n * 1000) / r.ms, 0));

/** Measures one thread alone, then `threads` together, `ms` each; `bytes`: the signed message's size (a vote's signing bytes are ~150). */
export async function signatureCeiling(threads: number, ms = 2000, bytes = 160): Promise<Ceiling> {
  const perThread = await run(1, ms, bytes);
  const all = threads <= 1 ? perThread : await run(threads, ms, bytes);
  return { perThread: Math.round(perThread), all: Math.round(all), threads };
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
