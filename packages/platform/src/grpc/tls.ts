import * as grpc from '@grpc/grpc-js';
import type { Env } from '../config.js';
import { ConfigError } from '../errors.js';
import { pemFileFrom } from '../pem.js';

import type { ClientTls } from '@ewx/client/config';

export { clientTlsFrom, type ClientTls } from '@ewx/client/config';

/** PEM material read at start-up: rotating a certificate is a rolling restart (see docs/OPERATIONS.md). */
export interface ServerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Set: clients must present a certificate signed by this CA (mutual TLS). */
  readonly clientCa?: Buffer;
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

export const channelCredentials = (tls: ClientTls | undefined): grpc.ChannelCredentials =>
  tls === undefined ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
