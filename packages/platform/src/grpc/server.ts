import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation } from 'grpc-health-check';
import { capMessage, isDomainError, MAX_MESSAGE_BYTES, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { serverCredentials, type ServerTls } from './tls.js';
import { rpcSpan } from '../telemetry/rpc.js';

export interface GrpcService {
  readonly name: string;
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
}

const statusOf: Record<ErrorCode, grpc.status> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  NOT_FOUND: grpc.status.NOT_FOUND,
  ALREADY_EXISTS: grpc.status.ALREADY_EXISTS,
  PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
  UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
  RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  ABORTED: grpc.status.ABORTED,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
};

/** The gRPC status a thrown error answers with: a domain error's own code, anything else UNAVAILABLE. */
export const grpcStatusOf = (e: unknown): grpc.status => (isDomainError(e) ? statusOf[e.code] : grpc.status.UNAVAILABLE);

/** The message of a thrown error as a status message (or a batch item's): at most MAX_MESSAGE_BYTES. */
export const statusMessage = (e: unknown): string => capMessage((e as Error)?.message ?? String(e));

/** Maps a thrown error to a status: domain errors keep their code and message; others are UNAVAILABLE and logged. */
export function toServiceError(e: unknown, log: Logger, method: string): Partial<grpc.StatusObject> {
  if (isDomainError(e)) return { code: statusOf[e.code], details: statusMessage(e) };
  const message = (e as Error)?.message ?? 'internal error';
  log.error('request failed', { method, error: capMessage(message, 4 * MAX_MESSAGE_BYTES) });
  const [before, after] = [`${method}: temporarily unavailable (`, '); retry with a new nonce'];
  return { code: grpc.status.UNAVAILABLE, details: before + capMessage(message, MAX_MESSAGE_BYTES - Buffer.byteLength(before + after)) + after };
}

/** Adapts an async handler to grpc-js's callback style with the error mapping above. */
export function unary<Req, Res>(method: string, log: Logger, fn: (req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    rpcSpan(method, call, () => fn(call.request)).then((res) => callback(null, res), (e) => callback(toServiceError(e, log, method) as grpc.ServiceError));
  };
}

/**
 * The largest request a server reads (grpc-js refuses a larger one with RESOURCE_EXHAUSTED
 * "Received message larger than max"). The largest legitimate ones: SubmitVotes of 10000 votes with
 * every field at its longest (about 4.2 MB) and ImportWot of the Ğ1 web of trust (about 1 MB; its
 * `json` field has a limit of its own, below this one).
 */
export const MAX_REQUEST_BYTES = 8 * 1024 * 1024;

export interface StartedServer {
  readonly server: grpc.Server;
  readonly port: number;
  readonly health: HealthImplementation;
  /** The plaintext health-only port, when one was asked for. */
  readonly healthPort?: number;
  stop(): Promise<void>;
}

/**
 * The health service name a liveness probe asks for: SERVING from the moment the server is bound,
 * so a process that waits for its store or broker (readiness: '') is not restarted for it.
 */
export const LIVENESS = 'liveness';

export interface GrpcServerOptions {
  /** Serve over TLS (and, with a client CA, require client certificates). */
  readonly tls?: ServerTls;
  /**
   * Also serve grpc.health.v1 alone, in plaintext, on this port: the kubelet's gRPC probes and the
   * image's HEALTHCHECK speak neither TLS nor client certificates.
   */
  readonly healthPort?: number;
}

const bind = (server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> =>
  new Promise<number>((resolve, reject) => server.bindAsync(address, creds, (err, p) => (err ? reject(err) : resolve(p))));

const shutdown = (server: grpc.Server): Promise<void> => new Promise<void>((resolve) => {
  const t = setTimeout(() => { server.forceShutdown(); resolve(); }, 3000);
  server.tryShutdown(() => { clearTimeout(t); resolve(); });
});

/** Health statuses for a process without its own gRPC services: '' NOT_SERVING, liveness SERVING. */
export const processHealth = (): HealthImplementation => new HealthImplementation({ '': 'NOT_SERVING', [LIVENESS]: 'SERVING' });

/** A plaintext server with the health service only (the evaluator's, and the probe port of a TLS server). */
export async function startHealthServer(host: string, port: number, health: HealthImplementation): Promise<{ port: number; stop(): Promise<void> }> {
  const server = new grpc.Server();
  health.addToServer(server);
  const bound = await bind(server, `${host}:${port}`, grpc.ServerCredentials.createInsecure());
  return { port: bound, stop: () => shutdown(server) };
}

/**
 * One gRPC server for one or more services, with the standard health service (grpc.health.v1)
 * and server reflection (from the .proto files, since ts-proto emits no descriptors for it).
 */
export async function startGrpcServer(services: readonly GrpcService[], host: string, port: number, protoFiles: readonly string[], protoRoot: string, opts: GrpcServerOptions = {}): Promise<StartedServer> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_REQUEST_BYTES });
  for (const s of services) server.addService(s.definition, s.implementation);
  const statuses: Record<string, 'SERVING' | 'NOT_SERVING'> = { '': 'NOT_SERVING', [LIVENESS]: 'SERVING' };
  for (const s of services) statuses[s.name] = 'NOT_SERVING';
  const health = new HealthImplementation(statuses);
  health.addToServer(server);
  if (protoFiles.length > 0) {
    const pkg = protoLoader.loadSync([...protoFiles], { includeDirs: [protoRoot], keepCase: false, longs: String });
    new ReflectionService(pkg).addToServer(server);
  }
  const bound = await bind(server, `${host}:${port}`, serverCredentials(opts.tls));
  const probe = opts.healthPort === undefined ? undefined : await startHealthServer(host, opts.healthPort, health).catch(async (e) => { await shutdown(server); throw e; });
  return {
    server,
    port: bound,
    health,
    ...(probe ? { healthPort: probe.port } : {}),
    stop: async () => { await probe?.stop(); await shutdown(server); },
  };
}

/** Sets the health status of `names` (any string; the empty name stands for the whole server). */
export function setHealth(s: StartedServer, names: readonly string[], status: 'SERVING' | 'NOT_SERVING'): void {
  for (const n of names) s.health.setStatus(n, status);
}

export function setServing(s: StartedServer, names: readonly string[]): void {
  s.health.setStatus('', 'SERVING');
  for (const n of names) s.health.setStatus(n, 'SERVING');
}
