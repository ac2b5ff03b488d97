import * as grpc from '@grpc/grpc-js';
import type { Auth, WatchEvent, WatchRequest } from '@ewx/proto/common';
import { ConsensusService } from '@ewx/proto/consensus';
import { DistanceService } from '@ewx/proto/distance';
import { RegistryService } from '@ewx/proto/registry';
import { RewardsService } from '@ewx/proto/rewards';
import { VotingService } from '@ewx/proto/voting';
import { EwxCallError, fromServiceError } from './errors.js';
import { appliedBefore, backoffMs, isRead, nonceRefusalOf, readRetryChannelOptions, retryPolicyOf, type RetryOptions, type RetryPolicy } from './retry.js';
import { signWith, type Signer } from './signing.js';
import { SUBMIT_VOTE_METHOD } from './votes.js';

/** The five services of the network, by the name `connect({ addresses })` uses. */
export const SERVICES = {
  registry: RegistryService,
  voting: VotingService,
  consensus: ConsensusService,
  rewards: RewardsService,
  distance: DistanceService,
} as const;
export type ServiceName = keyof typeof SERVICES;
export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

interface MethodDef {
  readonly path: string;
  readonly requestStream: false;
  readonly responseStream: boolean;
  // Method syntax is bivariant in its parameter, so every generated message type fits `object`.
  requestSerialize(value: object): Buffer;
  requestDeserialize(value: Buffer): object;
  responseDeserialize(value: Buffer): object;
}
type Req<M> = M extends { requestSerialize(value: infer Q): Buffer } ? Q : never;
type Res<M> = M extends { responseDeserialize(value: Buffer): infer R } ? R : never;

/**
 * A request as the caller writes it: top-level fields left out take their protobuf default, and
 * `auth` of a signed command is filled in by the client when a signer is at hand.
 */
export type RequestInput<Q> = 'auth' extends keyof Q ? Partial<Omit<Q, 'auth'>> & { auth?: Auth } : Partial<Q>;

export interface CallOptions {
  /** Signs a command that has no `auth` yet; defaults to the connection's signer. */
  readonly signer?: Signer;
  /** Per-call deadline; defaults to the connection's (30 s). */
  readonly deadlineMs?: number;
}

export interface StreamCallOptions {
  /** Aborting it cancels the call; the iteration then ends without an error. */
  readonly signal?: AbortSignal;
  /** A deadline for the whole stream (none by default: a Watch follows until cancelled). */
  readonly deadlineMs?: number;
}

/**
 * Promise methods for every unary RPC of a service definition, named as in ts-proto (`getStatus`,
 * `deposit`, …); async iterables for server-streaming ones (`watch`). Leaving a `for await` loop
 * (break, return, throw) cancels the call.
 */
export type ServiceClient<D> = {
  [K in keyof D]: D[K] extends { readonly responseStream: true }
    ? (request: Partial<Req<D[K]>>, options?: StreamCallOptions) => AsyncGenerator<Res<D[K]>, void, undefined>
    : (request: RequestInput<Req<D[K]>>, options?: CallOptions) => Promise<Res<D[K]>>;
};

export interface WatchOptions {
  /**
   * Exclusive LogPosition to start after: "" (default) from the start of the log; the `position`
   * of the last event received to resume without repeat or gap; `ServiceStatus.position` (from
   * `getStatus`) to follow what happens from now on. A partitioned voting (VOTING_PARTITIONS > 1)
   * merges its partition logs: its positions are resume tokens of every partition's position
   * ("P2:17,9"), used the same way, with any replica; each event also has `partition` and
   * `partitionPosition`.
   */
  readonly from?: string;
  /** Only these event types (all when empty or absent). */
  readonly types?: readonly string[];
  /** Also the other services' events the service recorded as its inputs (`source` names their service). */
  readonly includeInputs?: boolean;
  /** Aborting it ends the iteration (no error). */
  readonly signal?: AbortSignal;
}

/** One event from `watch`: the WatchEvent with its `dataJson` parsed. */
export interface WatchedEvent extends WatchEvent {
  readonly service: ServiceName;
  readonly data: unknown;
}

export type RegistryClient = ServiceClient<typeof RegistryService>;
export type VotingClient = ServiceClient<typeof VotingService>;
export type ConsensusClient = ServiceClient<typeof ConsensusService>;
export type RewardsClient = ServiceClient<typeof RewardsService>;
export type DistanceClient = ServiceClient<typeof DistanceService>;

export type ConnectOptions = (
  | {
      /** Embedded mode: every service behind one address (`npm start`: 127.0.0.1:50051). */
      readonly address: string;
    }
  | {
      /** Standalone mode: one address per service. */
      readonly addresses: Readonly<Record<ServiceName, string>>;
    }
) & {
  /** Signs commands that carry no `auth` (see `keyFileSigner`, `keySigner`). */
  readonly signer?: Signer;
  /** Default: insecure (plaintext), as the services listen today. */
  readonly credentials?: grpc.ChannelCredentials;
  readonly deadlineMs?: number;
  /**
   * Retries of calls that fail with UNAVAILABLE (on by default: 5 attempts, 200 ms doubling to
   * 2 s, within the call's deadline); `false` turns them off. See RetryOptions.
   */
  readonly retry?: false | RetryOptions;
  /** Given last: a `grpc.service_config` here replaces the one that retries reads. */
  readonly channelOptions?: grpc.ChannelOptions;
};

export interface Ewx {
  /**
   * A service's published events from a log position, then live as they are appended: an async
   * iterable that never ends by itself (it ends when `signal` aborts, when the loop is left, or when
   * the server stops; it throws EwxCallError on a refusal or a lost connection). Resume with the
   * last event's `position`.
   */
  watch(service: ServiceName, options?: WatchOptions): AsyncGenerator<WatchedEvent, void, undefined>;
  readonly registry: RegistryClient;
  readonly voting: VotingClient;
  readonly consensus: ConsensusClient;
  readonly rewards: RewardsClient;
  readonly distance: DistanceClient;
  /** The same connections, signing with another signer. */
  withSigner(signer: Signer): Ewx;
  close(): void;
}

/** True for a method whose request carries `auth`: a signed command. */
const isCommand = (m: MethodDef): boolean => 'auth' in (m.requestDeserialize(Buffer.alloc(0)) as object);

/** One unary call, its deadline an absolute time. */
const unaryCall = (channel: grpc.Client, m: MethodDef, message: object, deadline: number): Promise<object> =>
  new Promise((resolve, reject) => {
    channel.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, message, new grpc.Metadata(), { deadline }, (err, res) =>
      err ? reject(fromServiceError(m.path, err)) : resolve(res as object),
    );
  });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The signed items of an unsigned batch (`votes`, `deposits`, `nominations`), if `message` is one. */
const signedItems = (message: object): readonly { auth?: Auth }[] | undefined =>
  Object.values(message).find((v): v is { auth?: Auth }[] => Array.isArray(v) && v.length > 0 && typeof v[0] === 'object' && v[0] !== null && 'auth' in v[0]);

function serviceClient<D extends Record<string, MethodDef>>(
  def: D,
  channel: grpc.Client,
  signer: Signer | undefined,
  deadlineMs: number,
  retry: RetryPolicy | undefined,
): ServiceClient<D> {
  const out: Record<string, unknown> = {};
  const methods = def as Record<string, MethodDef>;
  /** The service's answer now to a read of `def` (GetStatus, GetAccount), for a command whose reply was lost. */
  const read = (name: string, request: object, deadline: number): Promise<object> => {
    const m = methods[name]!;
    return unaryCall(channel, m, { ...m.requestDeserialize(Buffer.alloc(0)), ...request }, deadline);
  };

  /**
   * The reply to a command the service applied from an attempt whose reply was lost: a vote is
   * accepted; a CommandReply is the service's position and height now (what the service answers
   * after a command); a deposit the account now. Others cannot be rebuilt: EwxCallError, `applied`.
   */
  const appliedReply = async (m: MethodDef, message: { auth?: Auth } & Record<string, unknown>, deadline: number): Promise<object> => {
    if (m.path === SUBMIT_VOTE_METHOD) return { accepted: true };
    if (m.path === '/ewx.v1.Registry/Deposit') return { account: await read('getAccount', { address: message.account }, deadline) };
    const empty = Object.keys(m.responseDeserialize(Buffer.alloc(0)))
      .sort()
      .join();
    if (empty === 'height,logPosition') {
      const s = (await read('getStatus', {}, deadline)) as { logPosition: bigint; height: bigint };
      return { logPosition: s.logPosition, height: s.height };
    }
    throw new EwxCallError(
      m.path,
      grpc.status.UNKNOWN,
      `applied: the service recorded this command (nonce ${message.auth!.nonce} of ${message.auth!.signer}) from an attempt whose reply was lost with its connection; its reply cannot be rebuilt: read the state for what it did`,
      true,
    );
  };

  /**
   * A command (or unsigned batch of signed items) sent, and on UNAVAILABLE sent again byte for
   * byte: the same nonce, so the service never applies it twice. A copy refused as a reused nonce
   * after a lost attempt is answered from what the refusal says (see `appliedBefore`).
   */
  const sendCommand = async (
    m: MethodDef,
    message: { auth?: Auth } & Record<string, unknown>,
    deadline: number,
    resign?: () => Promise<object>,
  ): Promise<object> => {
    let lost = false;
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await unaryCall(channel, m, message, deadline);
        return lost ? withAppliedItems(message, res) : res;
      } catch (e) {
        if (!EwxCallError.is(e)) throw e;
        const refusal = lost && message.auth ? nonceRefusalOf(e.code, e.details) : undefined;
        if (refusal && message.auth && refusal.signer === message.auth.signer && refusal.nonce === message.auth.nonce) {
          if (appliedBefore(refusal, message.auth)) return appliedReply(m, message, deadline);
          // A vote may be cast again with a new nonce: the same vote twice is recorded once (SPEC §4).
          if (resign) return resign();
          throw new EwxCallError(
            m.path,
            e.code,
            `${e.details} — sent again after its connection was lost: the lost attempt may have been applied (a later nonce of the signer was accepted since); read the state`,
            false,
          );
        }
        const wait = retry && e.code === grpc.status.UNAVAILABLE && attempt < retry.maxAttempts ? backoffMs(retry, attempt) : undefined;
        if (wait === undefined || Date.now() + wait >= deadline) throw e;
        lost = true;
        await sleep(wait);
      }
    }
  };

  for (const [name, m] of Object.entries(methods)) {
    if (m.responseStream) {
      out[name] = (request: object, options: StreamCallOptions = {}) => {
        const message = { ...m.requestDeserialize(Buffer.alloc(0)), ...request };
        const deadline = options.deadlineMs === undefined ? Infinity : Date.now() + options.deadlineMs;
        return streamOf(
          channel.makeServerStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, message, new grpc.Metadata(), { deadline }),
          m.path,
          options.signal,
        );
      };
      continue;
    }
    const command = isCommand(m);
    // Reads are retried by grpc-js (the channel's service config, see readRetryChannelOptions).
    const retriedByGrpc = isRead(m.path);
    const call = async (request: object, options: CallOptions = {}, resigned = false): Promise<object> => {
      // Defaults first (a fresh decode of no bytes), then what the caller set.
      let message = { ...m.requestDeserialize(Buffer.alloc(0)), ...request } as { auth?: Auth } & Record<string, unknown>;
      const by = command && !message.auth ? (options.signer ?? signer) : undefined;
      if (command && !message.auth) {
        if (!by) throw new Error(`${m.path} is a signed command: connect with a signer or pass { signer }`);
        message = await signWith(by, m.path, message, (x) => m.requestSerialize(x));
      }
      const deadline = Date.now() + (options.deadlineMs ?? deadlineMs);
      if (retriedByGrpc) return unaryCall(channel, m, message, deadline);
      // A vote signed here is signed again, with a new nonce, when a lost attempt leaves it unknown.
      const resign =
        by && !resigned && m.path === SUBMIT_VOTE_METHOD
          ? () => call(request, { ...options, deadlineMs: Math.max(1, deadline - Date.now()) }, true)
          : undefined;
      return sendCommand(m, message, deadline, resign);
    };
    out[name] = (request: object, options?: CallOptions) => call(request, options);
  }
  return out as ServiceClient<D>;
}

/**
 * The answer to an unsigned batch (`SubmitVotes`, `DepositBatch`, …) sent again after a lost
 * attempt: an item refused as a reused nonce whose nonce is its signer's last accepted one was
 * applied by the lost attempt, so its result says so (code 0; a vote `accepted`).
 */
function withAppliedItems(message: object, res: object): object {
  const items = signedItems(message);
  const results = (res as { results?: { code: number; message: string; accepted?: boolean }[] }).results;
  if (!items || !results) return res;
  return {
    ...res,
    results: results.map((r, i) => {
      const auth = items[i]?.auth;
      const refusal = nonceRefusalOf(r.code, r.message);
      if (!auth || !refusal || !appliedBefore(refusal, auth)) return r;
      return { ...r, code: 0, message: '', ...('accepted' in r ? { accepted: true } : {}) };
    }),
  };
}

/** Iterates a server stream; cancels the call when the consumer stops or `signal` aborts. */
async function* streamOf<T>(call: grpc.ClientReadableStream<T>, path: string, signal: AbortSignal | undefined): AsyncGenerator<T, void, undefined> {
  let cancelled = false;
  const cancel = (): void => {
    cancelled = true;
    call.cancel();
  };
  if (signal?.aborted) cancel();
  else signal?.addEventListener('abort', cancel, { once: true });
  try {
    for await (const m of call as AsyncIterable<T>) yield m;
  } catch (e) {
    if (cancelled && (e as grpc.ServiceError).code === grpc.status.CANCELLED) return;
    throw fromServiceError(path, e as grpc.ServiceError);
  } finally {
    signal?.removeEventListener('abort', cancel);
    if (!cancelled) {
      cancelled = true;
      call.cancel();
    }
  }
}

/**
 * Connects to the network: `connect({ address })` for the embedded mode (one address for all five
 * services) or `connect({ addresses: { registry, voting, consensus, rewards, distance } })` for
 * standalone services. Channels open lazily on the first call.
 */
export function connect(options: ConnectOptions): Ewx {
  const addresses: Record<ServiceName, string> =
    'address' in options ? (Object.fromEntries(SERVICE_NAMES.map((n) => [n, options.address])) as Record<ServiceName, string>) : { ...options.addresses };
  for (const n of SERVICE_NAMES) if (!addresses[n]) throw new Error(`connect: addresses.${n} is missing`);
  const credentials = options.credentials ?? grpc.credentials.createInsecure();
  const retry = retryPolicyOf(options.retry);
  const paths = Object.values(SERVICES).flatMap((d) => Object.values(d as unknown as Record<string, MethodDef>).map((m) => m.path));
  const channelOptions = retry ? { ...readRetryChannelOptions(retry, paths), ...options.channelOptions } : options.channelOptions;
  const channels = new Map<string, grpc.Client>();
  const channelOf = (address: string): grpc.Client => {
    let c = channels.get(address);
    if (!c) {
      c = new grpc.Client(address, credentials, channelOptions);
      channels.set(address, c);
    }
    return c;
  };
  const deadlineMs = options.deadlineMs ?? 30_000;
  const build = (signer: Signer | undefined): Ewx => ({
    async *watch(service, o = {}) {
      if (!SERVICE_NAMES.includes(service)) throw new Error(`watch: unknown service ${JSON.stringify(service)} (one of ${SERVICE_NAMES.join(', ')})`);
      const client = serviceClient(
        SERVICES[service] as unknown as Record<string, MethodDef>,
        channelOf(addresses[service]),
        undefined,
        deadlineMs,
        undefined,
      ) as unknown as {
        watch(r: Partial<WatchRequest>, o: StreamCallOptions): AsyncGenerator<WatchEvent, void, undefined>;
      };
      const req: Partial<WatchRequest> = { fromPosition: o.from ?? '', types: [...(o.types ?? [])], includeInputs: o.includeInputs ?? false };
      for await (const e of client.watch(req, o.signal ? { signal: o.signal } : {})) yield { ...e, service, data: JSON.parse(e.dataJson) as unknown };
    },
    registry: serviceClient(RegistryService, channelOf(addresses.registry), signer, deadlineMs, retry),
    voting: serviceClient(VotingService, channelOf(addresses.voting), signer, deadlineMs, retry),
    consensus: serviceClient(ConsensusService, channelOf(addresses.consensus), signer, deadlineMs, retry),
    rewards: serviceClient(RewardsService, channelOf(addresses.rewards), signer, deadlineMs, retry),
    distance: serviceClient(DistanceService, channelOf(addresses.distance), signer, deadlineMs, retry),
    withSigner: (s) => build(s),
    close: () => {
      for (const c of channels.values()) c.close();
      channels.clear();
    },
  });
  return build(options.signer);
}
