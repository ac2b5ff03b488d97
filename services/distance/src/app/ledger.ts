import * as grpc from '@grpc/grpc-js';
import { clockNonces, DomainError, signCommand, type KeyPair } from '@ewx/platform';
import { type Account, PlaceHoldRequest, RegistryClient } from '@ewx/proto/registry';

/**
 * Money lives in the registry's ledger. A hold is placed synchronously and idempotently by hold id;
 * it is released or slashed later by the registry when it consumes EvaluationSettled.
 * placeHold resolves when the hold is in place, rejects with a DomainError when the registry
 * refused it (a final answer, e.g. short of free balance) and with any other error when the
 * outcome is unknown (the caller retries later with the same hold id).
 */
export interface Ledger {
  placeHold(holdId: string, account: string, amount: bigint): Promise<void>;
  /**
   * The account's free balance, read before a request is recorded so that an obvious refusal
   * (short of free balance) changes nothing; `undefined` when the registry cannot say (unreachable):
   * the request then goes ahead and the hold decides. Optional: a ledger without it skips the check.
   */
  freeBalance?(account: string): Promise<bigint | undefined>;
}

/** Statuses that are the registry's final answer; anything else may be retried. */
const REFUSALS: ReadonlyMap<number, DomainError['code']> = new Map([
  [grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT'],
  [grpc.status.FAILED_PRECONDITION, 'FAILED_PRECONDITION'],
  [grpc.status.ALREADY_EXISTS, 'ALREADY_EXISTS'],
  [grpc.status.NOT_FOUND, 'NOT_FOUND'],
  [grpc.status.PERMISSION_DENIED, 'PERMISSION_DENIED'],
  [grpc.status.RESOURCE_EXHAUSTED, 'RESOURCE_EXHAUSTED'],
]);

export const PURPOSE = 'distance-evaluation';

/**
 * The registry over gRPC, signed with the distance service's own key. Nonces only need to grow per
 * signer, so they come from the clock (microseconds) and never repeat within the process.
 */
export function grpcLedger(
  address: string,
  key: KeyPair,
  deadlineMs = 10_000,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): Ledger & { close(): void } {
  const client = new RegistryClient(address, credentials);
  const nextNonce = clockNonces();
  const attempt = (holdId: string, account: string, amount: bigint): Promise<void> => {
    const req = signCommand(
      key,
      '/ewx.v1.Registry/PlaceHold',
      { auth: undefined, holdId, account, amount: amount.toString(), purpose: PURPOSE },
      nextNonce(),
      (m) => PlaceHoldRequest.encode(m).finish(),
    );
    return new Promise<void>((resolve, reject) => {
      client.placeHold(req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err) => {
        if (!err) {
          resolve();
          return;
        }
        // The registry answers a repeated hold (same id, account, amount, purpose) with OK; ALREADY_EXISTS
        // means the id is taken by a different hold, a refusal like the others.
        const code = REFUSALS.get(err.code);
        reject(
          code
            ? new DomainError(code, `registry refused the hold: ${err.details}`)
            : new Error(`registry unreachable at ${address}: ${err.details || err.message}`),
        );
      });
    });
  };
  return {
    async placeHold(holdId, account, amount) {
      for (let tries = 0; ; tries++) {
        try {
          return await attempt(holdId, account, amount);
        } catch (e) {
          // Our nonce was behind the registry's record for this key (a clock step back, or the key
          // shared with another client): not the registry's answer to the hold; go above it and retry.
          const behind = /nonce: .*last accepted (\d+)/.exec((e as Error).message);
          if (!behind || tries >= 3) throw e;
          const accepted = BigInt(behind[1]!);
          nextNonce.atLeast(accepted);
        }
      }
    },
    freeBalance(account) {
      return new Promise<bigint | undefined>((resolve) => {
        client.getAccount({ address: account }, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, a?: Account) => {
          if (!err && a) resolve(BigInt(a.free || '0'));
          else resolve(err?.code === grpc.status.NOT_FOUND ? 0n : undefined);
        });
      });
    },
    close: () => client.close(),
  };
}

/** No key or no registry configured: every request is refused, saying what to configure. */
export const unconfiguredLedger = (what: string): Ledger => ({
  placeHold: () => Promise.reject(new DomainError('FAILED_PRECONDITION', `distance requests are disabled: ${what}`)),
});
