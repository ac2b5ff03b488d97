import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import {
  ADDRESS_PREFIX,
  checkAuth,
  DomainError,
  publicKeyBytes,
  signerKeyProblem,
  signingBytes,
  verifyBytes,
  type Auth,
  type Encode,
  type Signed,
} from '@ewx/platform';
import type { VerifyJob } from './verify-worker.js';

/**
 * Signature checks of signed votes, optionally on worker threads: ed25519 verification is the
 * largest cost of a vote (~130 µs), and on the gRPC thread it competes with everything else.
 * Signatures that arrive in the same turn of the event loop go to the threads in chunks of CHUNK,
 * so the first answers come back (and their votes are appended) while the rest are checked.
 */
export interface Verifier {
  verify(address: string, bytes: Buffer, signature: Uint8Array): Promise<boolean>;
  close(): Promise<void>;
}

/** libsodium's detached ed25519 verification (the optional `sodium-native`), or undefined where it does not load. */
type SodiumVerify = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;
let sodium: SodiumVerify | null | undefined;
export const libsodium = (): SodiumVerify | undefined => {
  if (sodium === undefined) {
    try {
      const m = createRequire(import.meta.url)('sodium-native') as { crypto_sign_verify_detached: SodiumVerify };
      sodium = m.crypto_sign_verify_detached.bind(m);
    } catch {
      sodium = null;
    }
  }
  return sodium ?? undefined;
};

/**
 * `verifyBytes` (the client kit's strict check, the rule), answered by libsodium first when it is
 * installed: ~1.8× the verifications per CPU-second of Node's crypto here (section 4 item 4 of
 * docs/SCALING.md). Only a "valid" from libsodium is taken, and only for a key `verifyBytes`
 * accepts: libsodium checks S < L, refuses a small-order or non-canonical R and a non-canonical or
 * small-order key, and then the same cofactorless equation, so what it accepts `verifyBytes`
 * accepts too. Anything else is decided by `verifyBytes` itself: the answer is always the rule's.
 */
export function signatureCheck(fast: SodiumVerify | undefined = libsodium()): (address: string, bytes: Uint8Array, signature: Uint8Array) => boolean {
  if (!fast) return verifyBytes;
  /** Raw ed25519 keys of addresses `verifyBytes` accepts; null: leave it to `verifyBytes`. */
  const keys = new Map<string, Uint8Array | null>();
  return (address, bytes, signature) => {
    let key = keys.get(address);
    if (key === undefined) {
      key = typeof address === 'string' && address.startsWith(ADDRESS_PREFIX) && signerKeyProblem(address) === undefined ? publicKeyBytes(address) : null;
      if (keys.size >= 100_000) keys.clear();
      keys.set(address, key);
    }
    if (key !== null && signature.length === 64 && fast(signature, bytes, key)) return true;
    return verifyBytes(address, bytes, signature);
  };
}

let inlineCheck: ReturnType<typeof signatureCheck> | undefined;
/** On the calling thread (libsodium loaded at the first vote). */
export const inlineVerifier: Verifier = {
  verify: async (a, b, s) => {
    inlineCheck ??= signatureCheck();
    return inlineCheck(a, b, s);
  },
  close: async () => undefined,
};

/** A thread for an address: a hash of its last characters (the key's bytes in hex or base58). */
const shardOf = (address: string, n: number): number => {
  let h = 0;
  for (let i = Math.max(0, address.length - 8); i < address.length; i++) h = (h * 31 + address.charCodeAt(i)) >>> 0;
  return h % n;
};

/** Signatures per message to a thread (~8 ms of work): small enough to pipeline, large enough that messaging costs little. */
export const CHUNK = 64;

export function threadVerifier(threads: number): Verifier {
  type Item = { a: string; b: Uint8Array; s: Uint8Array; done: (ok: boolean) => void };
  /** Jobs sent to each thread and not answered yet. */
  const outstanding = Array.from({ length: threads }, () => new Map<number, Item[]>());
  const gone = new Set<number>();
  let inline: ReturnType<typeof signatureCheck> | undefined;
  /**
   * A thread that died (or was terminated by close) answers nothing more: its jobs are checked here
   * instead, so no vote waits for ever (the batcher decides votes in order of arrival: one vote that
   * never got its answer would hold back every vote after it).
   */
  const onThisThread = (items: readonly Item[]): void => {
    inline ??= signatureCheck();
    for (const it of items) it.done(inline(it.a, it.b, it.s));
  };
  const lost = (k: number): void => {
    if (gone.has(k)) return;
    gone.add(k);
    const jobs = [...outstanding[k]!.values()];
    outstanding[k]!.clear();
    for (const items of jobs) onThisThread(items);
  };
  const workers = Array.from({ length: threads }, (_, k) => {
    const w = new Worker(new URL('./verify-worker.js', import.meta.url));
    w.unref();
    w.on('message', (m: { id: number; ok: Uint8Array }) => {
      const items = outstanding[k]!.get(m.id);
      outstanding[k]!.delete(m.id);
      items?.forEach((p, i) => {
        p.done(m.ok[i] === 1);
      });
    });
    w.on('error', () => lost(k));
    w.on('exit', () => lost(k));
    return w;
  });
  let queue: Item[] = [];
  let next = 0;
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    const items = queue;
    queue = [];
    // Each address always goes to the same thread: its key is checked and its KeyObject built there once.
    const parts: (typeof items)[] = workers.map(() => []);
    for (const it of items) parts[shardOf(it.a, workers.length)]!.push(it);
    // In chunks: the first votes' answers come back (and are appended) while a thread checks the rest.
    workers.forEach((w, k) => {
      const part = parts[k]!;
      for (let from = 0; from < part.length; from += CHUNK) {
        const chunk = part.slice(from, from + CHUNK);
        if (gone.has(k)) {
          onThisThread(chunk);
          continue;
        }
        const id = ++next;
        outstanding[k]!.set(id, chunk);
        w.postMessage({ id, items: chunk.map(({ a, b, s }) => ({ a, b, s })) } satisfies VerifyJob);
      }
    });
  };
  return {
    verify: (a, b, s) =>
      new Promise<boolean>((resolve) => {
        queue.push({ a, b, s, done: resolve });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      }),
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
      workers.forEach((_, k) => {
        lost(k);
      });
    },
  };
}

/** `authenticate` of the platform (same checks, same messages) with the signature checked by `verifier`. */
export async function authenticateWith<T extends Signed>(verifier: Verifier, method: string, message: T, encode: Encode<T>): Promise<Auth> {
  const a = checkAuth(message);
  const bytes = signingBytes(method, a.signer, a.nonce, encode({ ...message, auth: undefined }));
  if (a.signature.length !== 64 || !(await verifier.verify(a.signer, bytes, a.signature))) {
    throw new DomainError('UNAUTHENTICATED', `auth.signature: not a valid ed25519 signature by ${a.signer} over this ${method} command`);
  }
  return { signer: a.signer, nonce: a.nonce };
}
