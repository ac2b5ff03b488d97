import * as grpc from '@grpc/grpc-js';
import type { Env } from '../config.js';
import { ConfigError } from '../errors.js';
import { pemFileFrom } from '../pem.js';

/** PEM material read at start-up: rotating a certificate is a rolling restart (see docs/OPERATIONS.md). */
export interface ServerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Set: clients must present a certificate signed by this CA (mutual TLS). */
  readonly clientCa?: Buffer;
}

export interface ClientTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

const pemFile = pemFileFrom;

/**
 * GRPC_TLS_CERT_FILE + GRPC_TLS_KEY_FILE: serve gRPC over TLS (both or neither);
 * GRPC_TLS_CLIENT_CA_FILE: also require client certificates signed by that CA.
 */
export function serverTlsFrom(env: Env): ServerTls | undefined {
  const cert = pemFile(env, 'GRPC_TLS_CERT_FILE', 'certificate');
  const key = pemFile(env, 'GRPC_TLS_KEY_FILE', 'private key');
  const clientCa = pemFile(env, 'GRPC_TLS_CLIENT_CA_FILE', 'CA certificate');
  if ((cert === undefined) !== (key === undefined)) {
    const missing = cert === undefined ? 'GRPC_TLS_CERT_FILE' : 'GRPC_TLS_KEY_FILE';
    throw new ConfigError(missing, 'set together with the other of GRPC_TLS_CERT_FILE / GRPC_TLS_KEY_FILE', undefined);
  }
  if (cert === undefined || key === undefined) {
    if (clientCa !== undefined)
      throw new ConfigError(
        'GRPC_TLS_CLIENT_CA_FILE',
        'unset unless GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE are set',
        env.optional('GRPC_TLS_CLIENT_CA_FILE'),
      );
    return undefined;
  }
  return { cert, key, ...(clientCa ? { clientCa } : {}) };
}

export const serverCredentials = (tls: ServerTls | undefined): grpc.ServerCredentials =>
  tls === undefined
    ? grpc.ServerCredentials.createInsecure()
    : grpc.ServerCredentials.createSsl(tls.clientCa ?? null, [{ cert_chain: tls.cert, private_key: tls.key }], tls.clientCa !== undefined);

/**
 * For this process's outgoing gRPC calls (distance → registry, evaluator → distance):
 * GRPC_CLIENT_TLS=1 or GRPC_CLIENT_TLS_CA_FILE turn TLS on (the CA file replaces the system roots);
 * GRPC_CLIENT_TLS_CERT_FILE + GRPC_CLIENT_TLS_KEY_FILE present a client certificate.
 */
export function clientTlsFrom(env: Env): ClientTls | undefined {
  const on = env.oneOf('GRPC_CLIENT_TLS', ['0', '1'], '0') === '1';
  const ca = pemFile(env, 'GRPC_CLIENT_TLS_CA_FILE', 'CA certificate');
  const cert = pemFile(env, 'GRPC_CLIENT_TLS_CERT_FILE', 'certificate');
  const key = pemFile(env, 'GRPC_CLIENT_TLS_KEY_FILE', 'private key');
  if ((cert === undefined) !== (key === undefined)) {
    const missing = cert === undefined ? 'GRPC_CLIENT_TLS_CERT_FILE' : 'GRPC_CLIENT_TLS_KEY_FILE';
    throw new ConfigError(missing, 'set together with the other of GRPC_CLIENT_TLS_CERT_FILE / GRPC_CLIENT_TLS_KEY_FILE', undefined);
  }
  if (!on && ca === undefined && cert === undefined) return undefined;
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

export const channelCredentials = (tls: ClientTls | undefined): grpc.ChannelCredentials =>
  tls === undefined ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
