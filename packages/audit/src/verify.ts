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

/** Whether two jobs have the very same inputs (everything a verdict depends on): a verdict is only reused for those. */
const sameJob = (a: SignatureJob, b: SignatureJob): boolean =>
  a === b ||
  (a.signature === b.signature &&
    a.signer === b.signer &&
    a.nonce === b.nonce &&
    a.method === b.method &&
    a.payload.byteLength === b.payload.byteLength &&
    Buffer.from(a.payload.buffer, a.payload.byteOffset, a.payload.byteLength).equals(
      Buffer.from(b.payload.buffer, b.payload.byteOffset, b.payload.byteLength),
    ));

/** A job handed out: its verdict once in (undefined until then), and how many lookups it still answers (one per time it was asked for). */
interface Entry {
  readonly job: SignatureJob;
  verdict: boolean | undefined;
  uses: number;
  /** Settles when the worker thread has answered (or failed: then no verdict, and the job is checked in this thread). */
  done: Promise<unknown>;
}

/** Jobs as one message: the texts in arrays, the payloads in one buffer (moved, not copied), `ends[i]` where job i's payload ends. */
export interface PackedJobs {
  readonly texts: string[];
  readonly payloads: Uint8Array;
  readonly ends: Uint32Array;
}

export function packJobs(jobs: readonly SignatureJob[]): PackedJobs {
  const texts: string[] = [];
  const ends = new Uint32Array(jobs.length);
  let size = 0;
  jobs.forEach((j, i) => {
    texts.push(j.method, j.signer, j.nonce, j.signature);
    size += j.payload.byteLength;
    ends[i] = size;
  });
  const payloads = new Uint8Array(size);
  let at = 0;
  for (const j of jobs) {
    payloads.set(j.payload, at);
    at += j.payload.byteLength;
  }
  return { texts, payloads, ends };
}

export function unpackJobs(p: PackedJobs): SignatureJob[] {
  const jobs: SignatureJob[] = [];
  let start = 0;
  for (let i = 0; i < p.ends.length; i++) {
    const end = p.ends[i]!;
    jobs.push({
      method: p.texts[4 * i]!,
      signer: p.texts[4 * i + 1]!,
      nonce: p.texts[4 * i + 2]!,
      signature: p.texts[4 * i + 3]!,
      payload: p.payloads.subarray(start, end),
    });
    start = end;
  }
  return jobs;
}

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
  /** By signature (the hex text): the jobs handed out with it, usually one. */
  private readonly verdicts = new Map<string, Entry[]>();
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private nextWorker = 0;
  private failed: Error | undefined;
  /** Checks done in worker threads, and their CPU time there (ms), for the figures. */
  prefetched = 0;
  /** Jobs asked for again while the same one (same inputs) was handed out already: checked once. */
  duplicates = 0;
  /** Lookups answered by a verdict of the worker threads. */
  answered = 0;
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
    // One check per distinct job: a job asked for again (the same inputs) waits for the first one's verdict.
    const fresh: Entry[] = [];
    for (const job of jobs) {
      let list = this.verdicts.get(job.signature);
      if (list === undefined) {
        list = [];
        this.verdicts.set(job.signature, list);
      }
      const known = list.find((x) => sameJob(x.job, job));
      if (known !== undefined) {
        known.uses++;
        this.duplicates++;
        continue;
      }
      const entry: Entry = { job, verdict: undefined, uses: 1, done: Promise.resolve() };
      list.push(entry);
      fresh.push(entry);
    }
    const parts: Promise<void>[] = [];
    // As many messages as threads at least, so that a short batch still uses every thread.
    const chunk = Math.max(1, Math.min(CHUNK, Math.ceil(fresh.length / this.workers.length)));
    for (let i = 0; i < fresh.length; i += chunk) {
      const part = fresh.slice(i, i + chunk);
      const sent = this.send(part.map((x) => x.job));
      const settled = sent.catch(() => undefined);
      for (const x of part) x.done = settled;
      parts.push(
        sent.then(
          (v) => {
            part.forEach((x, k) => {
              x.verdict = v[k] === 1;
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
      const packed = packJobs(jobs);
      w.postMessage({ id, ...packed }, [packed.payloads.buffer as ArrayBuffer, packed.ends.buffer as ArrayBuffer]);
    });
  }

  /**
   * The verdict on `job` as soon as it is in: now, if it was prefetched and answered already or is
   * checked in this thread (not prefetched); later, once the worker thread answers.
   */
  verdict(job: SignatureJob): boolean | Promise<boolean> {
    const list = this.verdicts.get(job.signature);
    const x = list?.find((y) => sameJob(y.job, job));
    if (x === undefined || x.verdict !== undefined) return this.valid(job);
    return x.done.then(() => this.valid(job));
  }

  /** The verdict on `job`: prefetched (used once, then forgotten), or checked now. */
  valid(job: SignatureJob): boolean {
    const list = this.verdicts.get(job.signature);
    if (list !== undefined) {
      const i = list.findIndex((x) => x.verdict !== undefined && sameJob(x.job, job));
      if (i >= 0) {
        const x = list[i]!;
        if (--x.uses === 0) {
          list.splice(i, 1);
          if (list.length === 0) this.verdicts.delete(job.signature);
        }
        this.answered++;
        return x.verdict!;
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
