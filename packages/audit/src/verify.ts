import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { signingBytes, verifyBytes } from '@ewx/platform/domain';

/** One command signature to check: the signer's signature over `signingBytes(method, signer, nonce, payload)` (docs/SIGNING.md). */
export interface SignatureJob {
  readonly method: string;
  readonly signer: string;
  readonly nonce: string;
  readonly payload: Uint8Array;
  /** 128 lowercase hex digits. */
  readonly signature: string;
}

/** Checks one signature over a command's canonical bytes (docs/SIGNING.md); false on anything malformed. */
export function commandSignatureValid(method: string, signer: string, nonce: string, payload: Uint8Array, signatureHex: string): boolean {
  if (!/^([0-9a-f]{2}){64}$/.test(signatureHex)) return false;
  try {
    return verifyBytes(signer, signingBytes(method, signer, BigInt(nonce), payload), Buffer.from(signatureHex, 'hex'));
  } catch {
    return false;
  }
}

export const jobValid = (j: SignatureJob): boolean => commandSignatureValid(j.method, j.signer, j.nonce, j.payload, j.signature);

/** Everything a verdict depends on, as one string: a verdict is only reused for the very same inputs. */
const jobKey = (j: SignatureJob): string =>
  `${j.signature}|${j.signer}|${j.nonce}|${j.method}|${Buffer.from(j.payload.buffer, j.payload.byteOffset, j.payload.byteLength).toString('base64')}`;

/** Jobs per message to a worker: large enough that posting costs little beside the verifications. */
const CHUNK = 256;

interface Pending {
  resolve(v: Uint8Array): void;
  reject(e: Error): void;
}

/**
 * Signature checks ahead of the replay, spread over worker threads (each check is independent of
 * every other, so they run in any order; the replay then takes each verdict in log order, and the
 * report is the one a serial audit writes). `prefetch` checks the signatures the events will ask
 * for; `valid` answers from those verdicts, and checks in this thread what was not prefetched.
 */
export class SignatureChecks {
  private readonly verdicts = new Map<string, boolean>();
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private nextWorker = 0;
  private failed: Error | undefined;
  /** Checks done in worker threads, and their CPU time there (ms), for the figures. */
  prefetched = 0;
  workerMs = 0;
  /** Checks done in this thread (not prefetched, or no workers), and their time (ms). */
  inline = 0;
  inlineMs = 0;

  constructor(readonly threads: number) {
    for (let i = 0; i < threads; i++) {
      // Not unref'd: an audit awaiting verdicts must keep the process alive (close() ends them).
      const w = new Worker(new URL('./verify-worker.js', import.meta.url));
      w.on('message', (m: { id: number; verdicts: Uint8Array; ms: number }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        this.workerMs += m.ms;
        p?.resolve(m.verdicts);
      });
      const fail = (e: Error): void => {
        this.failed ??= e;
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      };
      w.on('error', fail);
      w.on('exit', () => fail(new Error('a signature thread stopped')));
      this.workers.push(w);
    }
  }

  /**
   * Checks `jobs` in the worker threads; resolves when their verdicts are in. Should a thread fail,
   * its jobs get no verdict here and `valid` checks them in this thread: nothing goes unchecked.
   */
  async prefetch(jobs: readonly SignatureJob[]): Promise<void> {
    if (this.workers.length === 0 || jobs.length === 0) return;
    const parts: Promise<void>[] = [];
    for (let i = 0; i < jobs.length; i += CHUNK) {
      const part = jobs.slice(i, i + CHUNK);
      parts.push(
        this.send(part).then(
          (v) => {
            part.forEach((j, k) => {
              this.verdicts.set(jobKey(j), v[k] === 1);
            });
            this.prefetched += part.length;
          },
          () => undefined,
        ),
      );
    }
    await Promise.all(parts);
  }

  private send(jobs: readonly SignatureJob[]): Promise<Uint8Array> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    const w = this.workers[this.nextWorker++ % this.workers.length]!;
    return new Promise<Uint8Array>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, jobs });
    });
  }

  /** The verdict on `job`: prefetched (used once, then forgotten), or checked now. */
  valid(job: SignatureJob): boolean {
    if (this.verdicts.size > 0) {
      const k = jobKey(job);
      const v = this.verdicts.get(k);
      if (v !== undefined) {
        this.verdicts.delete(k);
        return v;
      }
    }
    const t = performance.now();
    const ok = jobValid(job);
    this.inlineMs += performance.now() - t;
    this.inline++;
    return ok;
  }

  async close(): Promise<void> {
    this.verdicts.clear();
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}

/** Worker threads for the signature checks of a log of `events`: none for a short log (starting them costs more than they save). */
export const defaultSignatureThreads = (events: number): number => (events < 5_000 ? 0 : Math.max(1, availableParallelism()));
