import type { Env } from '../config.js';
import type { GrpcServerOptions } from './server.js';
import { serverTlsFrom } from './tls.js';

/** The gRPC server's settings besides host and port: TLS (GRPC_TLS_*) and the plaintext probe port (GRPC_HEALTH_PORT). */
export function grpcServerOptionsFrom(env: Env): GrpcServerOptions {
  const tls = serverTlsFrom(env);
  const health = env.optional('GRPC_HEALTH_PORT') === undefined ? undefined : env.int('GRPC_HEALTH_PORT', 0, 0, 65535);
  return { ...(tls ? { tls } : {}), ...(health !== undefined ? { healthPort: health } : {}) };
}
