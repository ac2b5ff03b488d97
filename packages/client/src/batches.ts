import { ConnectWorkerRequest, DepositRequest, NominationRequest, type CommandReply, type ItemStatus } from '@ewx/proto/registry';
import type { Ewx } from './connect.js';
import { cosignWith, signWith, type Signer } from './signing.js';

/** The methods the items of the registry's batches are signed for, alone or in a batch. */
export const DEPOSIT_METHOD = '/ewx.v1.Registry/Deposit';
export const NOMINATE_WORKER_METHOD = '/ewx.v1.Registry/NominateWorker';
export const UNNOMINATE_WORKER_METHOD = '/ewx.v1.Registry/UnnominateWorker';
/** Items per call of `DepositBatch`, `NominateWorkers` and `UnnominateWorkers`. */
export const MAX_BATCH_ITEMS = 1000;

/** A deposit signed by the admin, for `registry.deposit` or a `registry.depositBatch({ deposits })`. */
export function signDeposit(admin: Signer, d: { account: string; amount: bigint | string }): Promise<DepositRequest> {
  const message: DepositRequest = { auth: undefined, account: d.account, amount: d.amount.toString() };
  return signWith(admin, DEPOSIT_METHOD, message, (m) => DepositRequest.encode(m).finish());
}

/** A nomination signed by the solution's registrar, for `registry.nominateWorkers({ nominations })` (or the single call). */
export function signNomination(registrar: Signer, n: { solution: string; worker: string }, unnominate = false): Promise<NominationRequest> {
  const message: NominationRequest = { auth: undefined, solution: n.solution, worker: n.worker };
  return signWith(registrar, unnominate ? UNNOMINATE_WORKER_METHOD : NOMINATE_WORKER_METHOD, message, (m) => NominationRequest.encode(m).finish());
}

/**
 * Connects `worker` to `operator`: the operator signs the command, the worker consents with its own
 * signature of the same request (`workerAuth`, with the worker's nonce).
 */
export async function connectWorkerWithConsent(ewx: Ewx, operator: Signer, worker: Signer): Promise<CommandReply> {
  const request: ConnectWorkerRequest = { auth: undefined, workerAuth: undefined, operator: operator.address, worker: worker.address };
  const consent = await cosignWith(worker, '/ewx.v1.Registry/ConnectWorker', request, (m) => ConnectWorkerRequest.encode(m).finish());
  return ewx.registry.connectWorker({ ...request, workerAuth: { ...consent, signature: Buffer.from(consent.signature) } }, { signer: operator });
}

export interface BatchOptions {
  /** Items per call, 1 … MAX_BATCH_ITEMS (default). */
  readonly chunk?: number;
  /** After each call: items done so far and the total. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** One result per item, in order: code 0 (OK) or the gRPC code and message of its refusal. */
export type BatchResults = ItemStatus[];

async function chunked<T, S>(
  items: readonly T[],
  o: BatchOptions,
  sign: (item: T) => Promise<S>,
  send: (signed: S[]) => Promise<ItemStatus[]>,
): Promise<BatchResults> {
  const size = o.chunk ?? MAX_BATCH_ITEMS;
  if (!Number.isInteger(size) || size < 1 || size > MAX_BATCH_ITEMS) throw new RangeError(`chunk: expected 1 to ${MAX_BATCH_ITEMS}, got ${size}`);
  const results: ItemStatus[] = [];
  for (let i = 0; i < items.length; i += size) {
    // Signed in order just before sending: the nonces grow in the order the server runs the items.
    const signed: S[] = [];
    for (const item of items.slice(i, i + size)) signed.push(await sign(item));
    results.push(...(await send(signed)));
    o.onProgress?.(results.length, items.length);
  }
  return results;
}

/** Many deposits, signed by `admin`, in calls of up to 1000 (`Registry.DepositBatch`). */
export function depositMany(
  ewx: Ewx,
  admin: Signer,
  deposits: readonly { account: string; amount: bigint | string }[],
  o: BatchOptions = {},
): Promise<BatchResults> {
  return chunked(
    deposits,
    o,
    (d) => signDeposit(admin, d),
    async (signed) => (await ewx.registry.depositBatch({ deposits: signed })).results,
  );
}

/** Many (un)nominations, signed by `registrar`, in calls of up to 1000 (`Registry.NominateWorkers` / `UnnominateWorkers`). */
export function nominateMany(
  ewx: Ewx,
  registrar: Signer,
  nominations: readonly { solution: string; worker: string }[],
  o: BatchOptions & { unnominate?: boolean } = {},
): Promise<BatchResults> {
  const un = o.unnominate ?? false;
  return chunked(
    nominations,
    o,
    (n) => signNomination(registrar, n, un),
    async (signed) => (await (un ? ewx.registry.unnominateWorkers({ nominations: signed }) : ewx.registry.nominateWorkers({ nominations: signed }))).results,
  );
}
