import * as grpc from '@grpc/grpc-js';
import type { Auth, WatchEvent, WatchRequest } from '@ewx/proto/common';
import { ConsensusService } from '@ewx/proto/consensus';
import { DistanceService } from '@ewx/proto/distance';
import { RegistryService } from '@ewx/proto/registry';
import { RewardsService } from '@ewx/proto/rewards';
import { VotingService } from '@ewx/proto/voting';
import { fromServiceError } from './errors.js';
import { signWith, type Signer } from './signing.js';

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

function serviceClient<D extends Record<string, MethodDef>>(def: D, channel: grpc.Client, signer: Signer | undefined, deadlineMs: number): ServiceClient<D> {
  const out: Record<string, unknown> = {};
  for (const [name, m] of Object.entries(def)) {
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
    out[name] = async (request: object, options: CallOptions = {}) => {
      // Defaults first (a fresh decode of no bytes), then what the caller set.
      let message = { ...m.requestDeserialize(Buffer.alloc(0)), ...request } as { auth?: Auth };
      if (command && !message.auth) {
        const by = options.signer ?? signer;
        if (!by) throw new Error(`${m.path} is a signed command: connect with a signer or pass { signer }`);
        message = await signWith(by, m.path, message, (x) => m.requestSerialize(x));
      }
      const deadline = Date.now() + (options.deadlineMs ?? deadlineMs);
      return new Promise((resolve, reject) => {
        channel.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, message, new grpc.Metadata(), { deadline }, (err, res) =>
          err ? reject(fromServiceError(m.path, err)) : resolve(res),
        );
      });
    };
  }
  return out as ServiceClient<D>;
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
  const channels = new Map<string, grpc.Client>();
  const channelOf = (address: string): grpc.Client => {
    let c = channels.get(address);
    if (!c) {
      c = new grpc.Client(address, credentials, options.channelOptions);
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
      ) as unknown as {
        watch(r: Partial<WatchRequest>, o: StreamCallOptions): AsyncGenerator<WatchEvent, void, undefined>;
      };
      const req: Partial<WatchRequest> = { fromPosition: o.from ?? '', types: [...(o.types ?? [])], includeInputs: o.includeInputs ?? false };
      for await (const e of client.watch(req, o.signal ? { signal: o.signal } : {})) yield { ...e, service, data: JSON.parse(e.dataJson) as unknown };
    },
    registry: serviceClient(RegistryService, channelOf(addresses.registry), signer, deadlineMs),
    voting: serviceClient(VotingService, channelOf(addresses.voting), signer, deadlineMs),
    consensus: serviceClient(ConsensusService, channelOf(addresses.consensus), signer, deadlineMs),
    rewards: serviceClient(RewardsService, channelOf(addresses.rewards), signer, deadlineMs),
    distance: serviceClient(DistanceService, channelOf(addresses.distance), signer, deadlineMs),
    withSigner: (s) => build(s),
    close: () => {
      for (const c of channels.values()) c.close();
      channels.clear();
    },
  });
  return build(options.signer);
}
