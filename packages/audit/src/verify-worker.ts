/** A worker thread of SignatureChecks (verify.ts): checks batches of command signatures, answers a verdict byte per job. */
import { parentPort } from 'node:worker_threads';
import { jobValid, unpackJobs, type PackedJobs } from './verify.js';

parentPort!.on('message', (m: { id: number } & PackedJobs) => {
  const t = performance.now();
  const jobs = unpackJobs(m);
  const verdicts = new Uint8Array(jobs.length);
  jobs.forEach((j, i) => {
    verdicts[i] = jobValid(j) ? 1 : 0;
  });
  parentPort!.postMessage({ id: m.id, verdicts, ms: performance.now() - t }, [verdicts.buffer]);
});
