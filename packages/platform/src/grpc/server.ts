import { setMaxListeners } from 'node:events';
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
    rpcSpan(method, call, () => fn(call.request)).then(
      (res) => callback(null, res),
      (e) => callback(toServiceError(e, log, method) as grpc.ServiceError),
    );
  };
}

/** Where a server-streaming handler writes; `signal` aborts when the client cancels or the server stops. */
export interface StreamOut<Res> {
  /** Writes one message, waiting while the client is slow; false once the stream is over (nothing sent). */
  send(message: Res): Promise<boolean>;
  readonly signal: AbortSignal;
}

/** Set by startGrpcServer on each server-streaming call: aborts when the server stops. */
const SERVER_STOPPING = Symbol('ewx.serverStopping');
type StoppableCall = { [SERVER_STOPPING]?: AbortSignal };

/**
 * Adapts a server-streaming handler: `fn` writes through `out` and resolves when done. A resolved
 * `fn` ends the stream with OK; a thrown error ends it with its status (as `unary`). When the client
 * cancels or the server stops, `out.signal` aborts: `fn` should return promptly (a stop then
 * ends the stream with OK, and the server's shutdown does not wait for it).
 */
export function serverStream<Req, Res>(
  method: string,
  log: Logger,
  fn: (req: Req, out: StreamOut<Res>) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const ac = new AbortController();
    const abort = (): void => ac.abort();
    call.once('cancelled', abort);
    call.once('close', abort);
    const stopping = (call as unknown as StoppableCall)[SERVER_STOPPING];
    if (stopping?.aborted) ac.abort();
    else stopping?.addEventListener('abort', abort, { once: true });
    const out: StreamOut<Res> = {
      signal: ac.signal,
      async send(message) {
        if (ac.signal.aborted || call.cancelled) return false;
        if (!call.write(message)) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              call.off('drain', done);
              ac.signal.removeEventListener('abort', done);
              resolve();
            };
            call.on('drain', done);
            ac.signal.addEventListener('abort', done, { once: true });
          });
        }
        return !ac.signal.aborted;
      },
    };
    const finish = (): void => {
      stopping?.removeEventListener('abort', abort);
    };
    fn(call.request, out).then(
      () => {
        finish();
        if (!call.cancelled) call.end();
      },
      (e) => {
        finish();
        if (!call.cancelled) call.emit('error', toServiceError(e, log, method) as grpc.ServiceError);
      },
    );
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

/**
 * How long a stop lets open calls finish before it cancels them: `GRPC_SHUTDOWN_GRACE_MS`, 3,000 by
 * default (read at each stop; keep it under Kubernetes' termination grace period).
 */
const shutdownGraceMs = (): number => {
  const ms = Number(process.env.GRPC_SHUTDOWN_GRACE_MS);
  return Number.isSafeInteger(ms) && ms >= 0 && process.env.GRPC_SHUTDOWN_GRACE_MS !== '' ? ms : 3000;
};

const shutdown = (server: grpc.Server): Promise<void> =>
  new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, shutdownGraceMs());
    server.tryShutdown(() => {
      clearTimeout(t);
      resolve();
    });
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
 * The reflection service reads only the `fileDescriptorProtos` of the definition's entries and
 * decodes all of them for every entry (145 types × 6 files, twice: v1 and v1alpha, ~1 s of a start
 * here). proto-loader gives every entry of one load the same array, so one entry per distinct array
 * yields the same files, symbols and services.
 */
export function oneEntryPerFileSet(pkg: protoLoader.PackageDefinition): protoLoader.PackageDefinition {
  const seen = new Set<unknown>();
  const out: protoLoader.PackageDefinition = {};
  for (const [name, def] of Object.entries(pkg)) {
    const files = (def as { fileDescriptorProtos?: unknown }).fileDescriptorProtos;
    if (!Array.isArray(files) || seen.has(files)) continue;
    seen.add(files);
    out[name] = def;
  }
  return out;
}

/**
 * One gRPC server for one or more services, with the standard health service (grpc.health.v1)
 * and server reflection (from the .proto files, since ts-proto emits no descriptors for it).
 */
export async function startGrpcServer(
  services: readonly GrpcService[],
  host: string,
  port: number,
  protoFiles: readonly string[],
  protoRoot: string,
  opts: GrpcServerOptions = {},
): Promise<StartedServer> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_REQUEST_BYTES });
  // Server-streaming calls (Watch) are told when the server stops, so they end at once instead of
  // holding the graceful shutdown until it is forced.
  const stopping = new AbortController();
  // Every open stream listens on this one signal (removed when the stream ends): no listener cap,
  // or Node warns (MaxListenersExceededWarning) from the 11th watcher on.
  setMaxListeners(0, stopping.signal);
  for (const s of services) server.addService(s.definition, withStopSignal(s, stopping.signal));
  const statuses: Record<string, 'SERVING' | 'NOT_SERVING'> = { '': 'NOT_SERVING', [LIVENESS]: 'SERVING' };
  for (const s of services) statuses[s.name] = 'NOT_SERVING';
  const health = new HealthImplementation(statuses);
  health.addToServer(server);
  if (protoFiles.length > 0) {
    const pkg = protoLoader.loadSync([...protoFiles], { includeDirs: [protoRoot], keepCase: false, longs: String });
    new ReflectionService(oneEntryPerFileSet(pkg)).addToServer(server);
  }
  const bound = await bind(server, `${host}:${port}`, serverCredentials(opts.tls));
  const probe =
    opts.healthPort === undefined
      ? undefined
      : await startHealthServer(host, opts.healthPort, health).catch(async (e) => {
          await shutdown(server);
          throw e;
        });
  return {
    server,
    port: bound,
    health,
    ...(probe ? { healthPort: probe.port } : {}),
    stop: async () => {
      stopping.abort();
      await probe?.stop();
      await shutdown(server);
    },
  };
}

function withStopSignal(s: GrpcService, signal: AbortSignal): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = { ...s.implementation };
  for (const [name, def] of Object.entries(s.definition)) {
    const handler = s.implementation[name];
    if (!def.responseStream || def.requestStream || typeof handler !== 'function') continue;
    out[name] = ((call: grpc.ServerWritableStream<unknown, unknown>) => {
      (call as unknown as StoppableCall)[SERVER_STOPPING] = signal;
      (handler as grpc.handleServerStreamingCall<unknown, unknown>)(call);
    }) as grpc.UntypedHandleCall;
  }
  return out;
}

/** Sets the health status of `names` (any string; the empty name stands for the whole server). */
export function setHealth(s: StartedServer, names: readonly string[], status: 'SERVING' | 'NOT_SERVING'): void {
  for (const n of names) s.health.setStatus(n, status);
}

export function setServing(s: StartedServer, names: readonly string[]): void {
  s.health.setStatus('', 'SERVING');
  for (const n of names) s.health.setStatus(n, 'SERVING');
}
