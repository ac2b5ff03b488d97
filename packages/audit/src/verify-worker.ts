/** A worker thread of SignatureChecks (verify.ts): checks batches of command signatures, answers a verdict byte per job. */
import { parentPort } from 'node:worker_threads';
import { jobValid, type SignatureJob } from './verify.js';

parentPort!.on('message', (m: { id: number; jobs: SignatureJob[] }) => {
  const t = performance.now();
  const verdicts = new Uint8Array(m.jobs.length);
  m.jobs.forEach((j, i) => {
    verdicts[i] = jobValid(j) ? 1 : 0;
  });
  parentPort!.postMessage({ id: m.id, verdicts, ms: performance.now() - t }, [verdicts.buffer]);
});
