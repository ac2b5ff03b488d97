import { closeSync, existsSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';

/**
 * Nonces must increase strictly per account and service. One counter per account works for every
 * service, so each source below is per account.
 */
export type NonceSource = () => bigint;

const clockMicros = (): bigint => BigInt(Date.now()) * 1000n;

/**
 * Microseconds of the wall clock, strictly increasing within the process: survives restarts
 * without a file as long as the clock does not go back. `atLeast(n)` moves it past a nonce the
 * server says it already accepted.
 */
export function clockNonces(): NonceSource & { atLeast(n: bigint): void } {
  let last = 0n;
  const next = (): bigint => {
    const now = clockMicros();
    last = now > last ? now : last + 1n;
    return last;
  };
  return Object.assign(next, {
    atLeast(n: bigint) {
      if (n > last) last = n;
    },
  });
}

/** A plain counter in memory (tests, short scripts with a fresh key). */
export function counterNonces(start = 0n): NonceSource {
  let n = start;
  return () => ++n;
}

const LOCK_STALE_MS = 10_000;

function withLock<T>(lockFile: string, body: () => T): T {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      closeSync(openSync(lockFile, 'wx', 0o600));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A process killed while holding the lock leaves it behind: old locks are taken over.
      try {
        if (Date.now() - statSync(lockFile).mtimeMs > LOCK_STALE_MS) unlinkSync(lockFile);
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() > deadline) throw new Error(`nonce file is locked by another process: ${lockFile}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
  try {
    return body();
  } finally {
    try {
      unlinkSync(lockFile);
    } catch {
      /* already gone */
    }
  }
}

/**
 * The nonce source of a key file: the last nonce used is kept in `<keyFile>.nonce`, written
 * (atomically, under a lock file, so two processes with one key never share a nonce) before the
 * nonce is handed out. The next nonce is the larger of last + 1 and the clock in microseconds, so
 * a lost or copied `.nonce` file, or the same key used elsewhere with clock nonces, still works.
 */
export function fileNonces(keyFile: string): NonceSource {
  const file = `${keyFile}.nonce`;
  return () =>
    withLock(`${file}.lock`, () => {
      let last = 0n;
      if (existsSync(file)) {
        const text = readFileSync(file, 'utf8').trim();
        if (!/^\d{1,20}$/.test(text)) throw new Error(`nonce file ${file}: expected a decimal number, got ${JSON.stringify(text.slice(0, 40))}`);
        last = BigInt(text);
      }
      const now = clockMicros();
      const next = now > last ? now : last + 1n;
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, `${next}\n`, { mode: 0o600 });
      renameSync(tmp, file);
      return next;
    });
}
