import { parentPort } from 'node:worker_threads';
import { signatureCheck } from './verifier.js';

/** A verification thread: answers 1 (valid) or 0 per signature, in order. */
export interface VerifyJob {
  readonly id: number;
  readonly items: readonly { readonly a: string; readonly b: Uint8Array; readonly s: Uint8Array }[];
}

const check = signatureCheck();

parentPort?.on('message', (job: VerifyJob) => {
  const ok = new Uint8Array(job.items.length);
  job.items.forEach((it, i) => {
    try {
      ok[i] = check(it.a, it.b, it.s) ? 1 : 0;
    } catch {
      ok[i] = 0;
    }
  });
  parentPort!.postMessage({ id: job.id, ok });
});
