import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer, type TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { readEnv } from '../config.js';
import { ConfigError } from '../errors.js';
import { silentLogger } from '../log.js';
import { testPki, type TestPki } from '../testing/certs.js';
import { realInfra } from '../testing/infra.js';
import { kafkaConfig } from './kafka.js';
import { kafkaSecurityFrom, type KafkaSecurity } from './kafka-security.js';

const client = (brokers: string[], security: KafkaSecurity): Kafka =>
  new Kafka({
    ...kafkaConfig({ brokers, clientId: 'ewx-tls-test', log: silentLogger, security }),
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5000,
  });

describe('Kafka TLS and SASL options', () => {
  let pki: TestPki;
  before(() => {
    pki = testPki();
  });
  after(() => pki.remove());

  test('configuration: TLS files, SCRAM credentials, and the combinations refused', () => {
    const sec = kafkaSecurityFrom(
      readEnv({
        KAFKA_TLS_CA_FILE: pki.files.ca,
        KAFKA_TLS_CERT_FILE: pki.files.clientCert,
        KAFKA_TLS_KEY_FILE: pki.files.clientKey,
        KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
        KAFKA_SASL_USERNAME: 'ewx-voting',
        KAFKA_SASL_PASSWORD: 's3cret',
      }),
    );
    assert.ok(typeof sec.ssl === 'object' && Buffer.isBuffer(sec.ssl.ca) && Buffer.isBuffer(sec.ssl.cert) && Buffer.isBuffer(sec.ssl.key));
    assert.deepEqual(sec.sasl, { mechanism: 'scram-sha-512', username: 'ewx-voting', password: 's3cret' });
    assert.deepEqual(kafkaSecurityFrom(readEnv({})), {});
    assert.deepEqual(kafkaSecurityFrom(readEnv({ KAFKA_TLS: '1' })), { ssl: true });
    const refused = (env: Record<string, string>, variable: string): void => {
      assert.throws(
        () => kafkaSecurityFrom(readEnv(env)),
        (e) => e instanceof ConfigError && e.message.startsWith(`configuration ${variable}: `),
      );
    };
    refused({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }, 'KAFKA_TLS'); // a password in plaintext, not asked for
    refused({ KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p', KAFKA_TLS: '1' }, 'KAFKA_SASL_MECHANISM');
    refused({ KAFKA_SASL_USERNAME: 'u' }, 'KAFKA_SASL_MECHANISM');
    refused({ KAFKA_TLS_CERT_FILE: pki.files.clientCert }, 'KAFKA_TLS_KEY_FILE');
    refused({ KAFKA_TLS_CA_FILE: '/nonexistent/ca.crt' }, 'KAFKA_TLS_CA_FILE');
    refused({ KAFKA_TLS: '0', KAFKA_TLS_CA_FILE: pki.files.ca }, 'KAFKA_TLS');
    refused({ KAFKA_TLS: 'yes' }, 'KAFKA_TLS');
    // The password may come from a mounted file (Strimzi's KafkaUser Secret, key `password`).
    const file = `${pki.dir}/password`;
    writeFileSync(file, 'from-a-file\n');
    assert.equal(
      kafkaSecurityFrom(readEnv({ KAFKA_TLS: '1', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: file })).sasl
        ?.password,
      'from-a-file',
    );
  });

  test('TLS with a client certificate: the broker end sees a verified client speaking Kafka', async () => {
    // A TLS endpoint standing in for the broker's TLS listener: it requires a client certificate
    // from the CA and reads the first Kafka request (ApiVersions, api key 18) off the wire.
    const seen: { authorized: boolean; apiKey: number }[] = [];
    const server = createServer(
      { cert: pki.read('serverCert'), key: pki.read('serverKey'), ca: pki.read('ca'), requestCert: true, rejectUnauthorized: true },
      (socket: TLSSocket) => {
        socket.once('data', (d: Buffer) => {
          seen.push({ authorized: socket.authorized, apiKey: d.readInt16BE(4) });
          socket.destroy();
        });
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const good = client(
        [`localhost:${port}`],
        kafkaSecurityFrom(readEnv({ KAFKA_TLS_CA_FILE: pki.files.ca, KAFKA_TLS_CERT_FILE: pki.files.clientCert, KAFKA_TLS_KEY_FILE: pki.files.clientKey })),
      ).admin();
      await assert.rejects(good.connect()); // the stand-in closes after the first request
      assert.deepEqual(seen, [{ authorized: true, apiKey: 18 }]);
      // Without a client certificate, or trusting another CA, no Kafka request gets through.
      for (const env of [
        { KAFKA_TLS_CA_FILE: pki.files.ca },
        { KAFKA_TLS_CA_FILE: pki.files.otherCa, KAFKA_TLS_CERT_FILE: pki.files.clientCert, KAFKA_TLS_KEY_FILE: pki.files.clientKey },
      ]) {
        await assert.rejects(
          client([`localhost:${port}`], kafkaSecurityFrom(readEnv(env)))
            .admin()
            .connect(),
        );
      }
      assert.equal(seen.length, 1);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  test('SCRAM over the real broker: the client authenticates first (this broker has no SASL listener, so it refuses the handshake)', async (t) => {
    const { infra, skip } = await realInfra();
    if (!infra) {
      t.skip(skip);
      return;
    }
    const plain = client(infra.brokers, {}).admin();
    await plain.connect();
    await plain.disconnect();
    const scram = client(
      infra.brokers,
      kafkaSecurityFrom(readEnv({ KAFKA_TLS: '0', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'ewx-test', KAFKA_SASL_PASSWORD: 'x' })),
    ).admin();
    await assert.rejects(scram.connect(), (e: Error & { type?: string }) => e.type === 'ILLEGAL_SASL_STATE');
  });
});
