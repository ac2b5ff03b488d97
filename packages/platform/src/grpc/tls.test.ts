import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { readEnv } from '../config.js';
import { ConfigError } from '../errors.js';
import { PROTO_ROOT } from '../host.js';
import { testPki, type TestPki } from '../testing/certs.js';
import { probeHealth } from './probe.js';
import { grpcServerOptionsFrom } from './options.js';
import { setServing, startGrpcServer, type StartedServer } from './server.js';
import { channelCredentials, clientTlsFrom } from './tls.js';

const Health = grpc.makeGenericClientConstructor(healthService, 'Health');
/** One health Check over the given credentials: 'SERVING' or the status code's name. */
const check = (port: number, creds: grpc.ChannelCredentials): Promise<string> =>
  new Promise((resolve) => {
    const c = new Health(`localhost:${port}`, creds) as unknown as grpc.Client & {
      check(r: object, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: { status: number | string }) => void): void;
    };
    c.check({ service: '' }, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e, r) => {
      c.close();
      resolve(e ? grpc.status[e.code]! : r!.status === 1 || r!.status === 'SERVING' ? 'SERVING' : String(r!.status));
    });
  });

describe('gRPC over TLS (certificates made in the test)', () => {
  let pki: TestPki;
  const servers: StartedServer[] = [];
  before(() => {
    pki = testPki();
  });
  after(async () => {
    for (const s of servers) await s.stop();
    pki.remove();
  });

  const start = async (env: Record<string, string>): Promise<StartedServer> => {
    const s = await startGrpcServer([], '127.0.0.1', 0, [], PROTO_ROOT, { ...grpcServerOptionsFrom(readEnv(env)), healthPort: 0 });
    servers.push(s);
    setServing(s, []);
    return s;
  };
  const client = (env: Record<string, string>): grpc.ChannelCredentials => channelCredentials(clientTlsFrom(readEnv(env)));

  test('server certificate: a client trusting the CA is served; plaintext and other CAs are not', async () => {
    const s = await start({ GRPC_TLS_CERT_FILE: pki.files.serverCert, GRPC_TLS_KEY_FILE: pki.files.serverKey });
    assert.equal(await check(s.port, client({ GRPC_CLIENT_TLS_CA_FILE: pki.files.ca })), 'SERVING');
    assert.equal(await check(s.port, grpc.credentials.createInsecure()), 'UNAVAILABLE');
    assert.equal(await check(s.port, client({ GRPC_CLIENT_TLS_CA_FILE: pki.files.otherCa })), 'UNAVAILABLE');
    // Probes (kubelet, HEALTHCHECK) use the plaintext health-only port.
    assert.equal(await probeHealth(`127.0.0.1:${s.healthPort}`), 'SERVING');
  });

  test('client certificates: required when GRPC_TLS_CLIENT_CA_FILE is set, and only from that CA', async () => {
    const s = await start({ GRPC_TLS_CERT_FILE: pki.files.serverCert, GRPC_TLS_KEY_FILE: pki.files.serverKey, GRPC_TLS_CLIENT_CA_FILE: pki.files.ca });
    assert.equal(
      await check(
        s.port,
        client({ GRPC_CLIENT_TLS_CA_FILE: pki.files.ca, GRPC_CLIENT_TLS_CERT_FILE: pki.files.clientCert, GRPC_CLIENT_TLS_KEY_FILE: pki.files.clientKey }),
      ),
      'SERVING',
    );
    assert.equal(await check(s.port, client({ GRPC_CLIENT_TLS_CA_FILE: pki.files.ca })), 'UNAVAILABLE', 'no client certificate');
    assert.equal(
      await check(
        s.port,
        client({ GRPC_CLIENT_TLS_CA_FILE: pki.files.ca, GRPC_CLIENT_TLS_CERT_FILE: pki.files.strangerCert, GRPC_CLIENT_TLS_KEY_FILE: pki.files.strangerKey }),
      ),
      'UNAVAILABLE',
      'a certificate from another CA',
    );
  });

  test('bad TLS settings fail start-up naming the variable', () => {
    const bad = (env: Record<string, string>, variable: string): void => {
      assert.throws(
        () => grpcServerOptionsFrom(readEnv(env)),
        (e) => e instanceof ConfigError && e.message.startsWith(`configuration ${variable}: `),
      );
    };
    bad({ GRPC_TLS_CERT_FILE: pki.files.serverCert }, 'GRPC_TLS_KEY_FILE');
    bad({ GRPC_TLS_KEY_FILE: pki.files.serverKey }, 'GRPC_TLS_CERT_FILE');
    bad({ GRPC_TLS_CERT_FILE: '/nonexistent.crt', GRPC_TLS_KEY_FILE: pki.files.serverKey }, 'GRPC_TLS_CERT_FILE');
    bad({ GRPC_TLS_CERT_FILE: pki.dir + '/server.ext', GRPC_TLS_KEY_FILE: pki.files.serverKey }, 'GRPC_TLS_CERT_FILE');
    bad({ GRPC_TLS_CLIENT_CA_FILE: pki.files.ca }, 'GRPC_TLS_CLIENT_CA_FILE');
    assert.throws(() => clientTlsFrom(readEnv({ GRPC_CLIENT_TLS_CERT_FILE: pki.files.clientCert })), /GRPC_CLIENT_TLS_KEY_FILE/);
    assert.equal(clientTlsFrom(readEnv({})), undefined);
    assert.deepEqual(grpcServerOptionsFrom(readEnv({})), {});
  });
});
