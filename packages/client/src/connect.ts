import * as grpc from '@grpc/grpc-js';
import type { Auth } from '@ewx/proto/common';
import { ConsensusService } from '@ewx/proto/consensus';
import { DistanceService } from '@ewx/proto/distance';
import { RegistryService } from '@ewx/proto/registry';
import { RewardsService } from '@ewx/proto/rewards';
import { VotingService } from '@ewx/proto/voting';
import { fromServiceError } from './errors.js';
import { signWith, type Signer } from './signing.js';

/** The five services of the network, by the name `connect({ addresses })` uses. */
export const SERVICES = { registry: RegistryService, voting: VotingService, consensus: ConsensusService, rewards: RewardsService, distance: DistanceService } as const;
export type ServiceName = keyof typeof SERVICES;
export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

/* eslint-disable @typescript-eslint/no-explicit-any */
interface MethodDef {
  readonly path: string;
  readonly requestStream: false;
  readonly responseStream: false;
  requestSerialize(value: any): Buffer;
  requestDeserialize(value: Buffer): any;
  responseDeserialize(value: Buffer): any;
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

/** Promise methods for every RPC of a service definition, named as in ts-proto (`getStatus`, `deposit`, …). */
export type ServiceClient<D> = {
  [K in keyof D]: (request: RequestInput<Req<D[K]>>, options?: CallOptions) => Promise<Res<D[K]>>;
};

export type RegistryClient = ServiceClient<typeof RegistryService>;
export type VotingClient = ServiceClient<typeof VotingService>;
export type ConsensusClient = ServiceClient<typeof ConsensusService>;
export type RewardsClient = ServiceClient<typeof RewardsService>;
export type DistanceClient = ServiceClient<typeof DistanceService>;

export type ConnectOptions = ({
  /** Embedded mode: every service behind one address (`npm start`: 127.0.0.1:50051). */
  readonly address: string;
} | {
  /** Standalone mode: one address per service. */
  readonly addresses: Readonly<Record<ServiceName, string>>;
}) & {
  /** Signs commands that carry no `auth` (see `keyFileSigner`, `keySigner`). */
  readonly signer?: Signer;
  /** Default: insecure (plaintext), as the services listen today. */
  readonly credentials?: grpc.ChannelCredentials;
  readonly deadlineMs?: number;
  readonly channelOptions?: grpc.ChannelOptions;
};

export interface Ewx {
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

function serviceClient<D extends Record<string, MethodDef>>(
  def: D, channel: grpc.Client, signer: Signer | undefined, deadlineMs: number,
): ServiceClient<D> {
  const out: Record<string, unknown> = {};
  for (const [name, m] of Object.entries(def)) {
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
        channel.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, message, new grpc.Metadata(), { deadline },
          (err, res) => (err ? reject(fromServiceError(m.path, err)) : resolve(res)));
      });
    };
  }
  return out as ServiceClient<D>;
}

/**
 * Connects to the network: `connect({ address })` for the embedded mode (one address for all five
 * services) or `connect({ addresses: { registry, voting, consensus, rewards, distance } })` for
 * standalone services. Channels open lazily on the first call.
 */
export function connect(options: ConnectOptions): Ewx {
  const addresses: Record<ServiceName, string> = 'address' in options
    ? Object.fromEntries(SERVICE_NAMES.map((n) => [n, options.address])) as Record<ServiceName, string>
    : { ...options.addresses };
  for (const n of SERVICE_NAMES) if (!addresses[n]) throw new Error(`connect: addresses.${n} is missing`);
  const credentials = options.credentials ?? grpc.credentials.createInsecure();
  const channels = new Map<string, grpc.Client>();
  const channelOf = (address: string): grpc.Client => {
    let c = channels.get(address);
    if (!c) channels.set(address, (c = new grpc.Client(address, credentials, options.channelOptions)));
    return c;
  };
  const deadlineMs = options.deadlineMs ?? 30_000;
  const build = (signer: Signer | undefined): Ewx => ({
    registry: serviceClient(RegistryService, channelOf(addresses.registry), signer, deadlineMs),
    voting: serviceClient(VotingService, channelOf(addresses.voting), signer, deadlineMs),
    consensus: serviceClient(ConsensusService, channelOf(addresses.consensus), signer, deadlineMs),
    rewards: serviceClient(RewardsService, channelOf(addresses.rewards), signer, deadlineMs),
    distance: serviceClient(DistanceService, channelOf(addresses.distance), signer, deadlineMs),
    withSigner: (s) => build(s),
    close: () => { for (const c of channels.values()) c.close(); channels.clear(); },
  });
  return build(options.signer);
}
