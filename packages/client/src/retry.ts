import { status } from '@grpc/grpc-js';

/**
 * How the client retries a call that failed with UNAVAILABLE (a service restarting, a voting
 * partition starting or changing hands, a dropped connection). `connect({ retry: false })` turns
 * it off; every field has a default.
 *
 * - Reads (`Get…`, `List…`) are retried by grpc-js itself (its service config `retryPolicy`).
 * - Commands are sent again byte for byte (the same signed request, the same nonce), so a service
 *   never applies one twice: if the lost attempt was applied, the service refuses the copy as a
 *   reused nonce, and the client turns that into the command's answer (see docs/SIGNING.md).
 *
 * Every attempt shares the call's deadline: no retry starts after it.
 */
export interface RetryOptions {
  /** Attempts in all, the first one included: 2 to 10 (default 5). */
  readonly maxAttempts?: number;
  /** The wait before the first retry (default 200 ms); ±20 % jitter on every wait. */
  readonly initialBackoffMs?: number;
  /** The longest wait between attempts (default 2000 ms). */
  readonly maxBackoffMs?: number;
  /** Each wait is the previous one times this (default 2). */
  readonly backoffMultiplier?: number;
}

export type RetryPolicy = Required<RetryOptions>;

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, initialBackoffMs: 200, maxBackoffMs: 2_000, backoffMultiplier: 2 };

/** The policy of `connect({ retry })`, checked: a bad value throws naming the option and the rule. */
export function retryPolicyOf(retry: false | RetryOptions | undefined): RetryPolicy | undefined {
  if (retry === false) return undefined;
  const p = { ...DEFAULT_RETRY, ...retry };
  const check = (name: keyof RetryPolicy, ok: boolean, rule: string): void => {
    if (!ok) throw new Error(`connect: retry.${name}: ${rule}, got ${String(p[name])}`);
  };
  check('maxAttempts', Number.isInteger(p.maxAttempts) && p.maxAttempts >= 2 && p.maxAttempts <= 10, 'an integer from 2 to 10');
  check('initialBackoffMs', Number.isFinite(p.initialBackoffMs) && p.initialBackoffMs > 0, 'a positive number of milliseconds');
  check('maxBackoffMs', Number.isFinite(p.maxBackoffMs) && p.maxBackoffMs >= p.initialBackoffMs, 'at least initialBackoffMs');
  check('backoffMultiplier', Number.isFinite(p.backoffMultiplier) && p.backoffMultiplier >= 1, 'a number of at least 1');
  return p;
}

/** A read: a unary `Get…` or `List…` method, which changes nothing and may be sent any number of times. */
export const isRead = (path: string): boolean => /^\/[^/]+\/(Get|List)[A-Z]/.test(path);

/**
 * The grpc-js channel options that retry UNAVAILABLE reads: a service config whose `retryPolicy`
 * covers the read methods of `paths` (full method paths). grpc-js applies ±20 % jitter and stops at
 * the call's deadline.
 */
export function readRetryChannelOptions(policy: RetryPolicy, paths: readonly string[]): Record<string, string | number> {
  const name = paths.filter(isRead).map((p) => {
    const [, service, method] = p.split('/');
    return { service: service!, method: method! };
  });
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(3)}s`;
  const config = {
    methodConfig: [
      {
        name,
        retryPolicy: {
          maxAttempts: policy.maxAttempts,
          initialBackoff: seconds(policy.initialBackoffMs),
          maxBackoff: seconds(policy.maxBackoffMs),
          backoffMultiplier: policy.backoffMultiplier,
          retryableStatusCodes: ['UNAVAILABLE'],
        },
      },
    ],
  };
  return { 'grpc.service_config': JSON.stringify(config), 'grpc-node.retry_max_attempts_limit': policy.maxAttempts };
}

/** The wait before retry number `retry` (1 for the first), with grpc-js's ±20 % jitter. */
export function backoffMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * policy.backoffMultiplier ** (retry - 1));
  return base * (0.8 + 0.4 * random());
}

/** A refusal of a reused nonce, as the services word it: `nonce: N was already used by S (last accepted L); …`. */
export interface NonceRefusal {
  readonly nonce: bigint;
  readonly signer: string;
  readonly lastAccepted: bigint;
}

export function nonceRefusalOf(code: number, details: string): NonceRefusal | undefined {
  if (code !== status.PERMISSION_DENIED) return undefined;
  const m = /^nonce: (\d+) was already used by (\S+) \(last accepted (\d+)\)/.exec(details);
  return m ? { nonce: BigInt(m[1]!), signer: m[2]!, lastAccepted: BigInt(m[3]!) } : undefined;
}

/**
 * Whether a reused-nonce refusal of a command sent again says that the lost attempt was applied:
 * the service's last accepted nonce of the signer is this command's own nonce, which the signer
 * gave to this command alone (nonce sources never hand one out twice). A larger last nonce says
 * nothing either way: another command of the signer was accepted since.
 */
export const appliedBefore = (r: NonceRefusal, auth: { signer: string; nonce: bigint }): boolean =>
  r.signer === auth.signer && r.nonce === auth.nonce && r.lastAccepted === auth.nonce;
