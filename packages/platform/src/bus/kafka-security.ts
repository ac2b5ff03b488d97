import type { ConnectionOptions } from 'node:tls';
import type { Env } from '../config.js';
import { ConfigError } from '../errors.js';
import { pemFileFrom } from '../pem.js';

export type SaslMechanism = 'scram-sha-256' | 'scram-sha-512' | 'plain';

/** How this process authenticates to Kafka and protects the connection (kafkajs' `ssl` and `sasl`). */
export interface KafkaSecurity {
  /** TLS to the brokers: `true` for the system roots, or options with a CA and a client certificate. */
  readonly ssl?: true | ConnectionOptions;
  readonly sasl?: { readonly mechanism: SaslMechanism; readonly username: string; readonly password: string };
}

/**
 * KAFKA_TLS=1 (or any KAFKA_TLS_*_FILE): TLS; KAFKA_TLS_CA_FILE replaces the system roots (Strimzi's
 * cluster CA, `<cluster>-cluster-ca-cert`/ca.crt); KAFKA_TLS_CERT_FILE + KAFKA_TLS_KEY_FILE: a client
 * certificate (Strimzi's `tls` user authentication).
 * KAFKA_SASL_MECHANISM (scram-sha-512, scram-sha-256 or plain) with KAFKA_SASL_USERNAME and
 * KAFKA_SASL_PASSWORD (Strimzi's `scram-sha-512` user: the KafkaUser's Secret, key `password`).
 * Credentials without TLS are refused unless KAFKA_TLS=0 says so on purpose (a plaintext password
 * on the wire is a mistake more often than a choice).
 */
export function kafkaSecurityFrom(env: Env): KafkaSecurity {
  const tlsSetting = env.optional('KAFKA_TLS');
  if (tlsSetting !== undefined && tlsSetting !== '0' && tlsSetting !== '1') throw new ConfigError('KAFKA_TLS', '0 or 1', tlsSetting);
  const ca = pemFileFrom(env, 'KAFKA_TLS_CA_FILE', 'CA certificate');
  const cert = pemFileFrom(env, 'KAFKA_TLS_CERT_FILE', 'certificate');
  const key = pemFileFrom(env, 'KAFKA_TLS_KEY_FILE', 'private key');
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError(
      cert === undefined ? 'KAFKA_TLS_CERT_FILE' : 'KAFKA_TLS_KEY_FILE',
      'set together with the other of KAFKA_TLS_CERT_FILE / KAFKA_TLS_KEY_FILE',
      undefined,
    );
  }
  const files = ca !== undefined || cert !== undefined;
  if (tlsSetting === '0' && files) throw new ConfigError('KAFKA_TLS', '1 (or unset) when KAFKA_TLS_*_FILE are set', tlsSetting);
  const tlsOn = tlsSetting === '1' || files;
  const ssl: KafkaSecurity['ssl'] = !tlsOn ? undefined : files ? { ...(ca ? { ca } : {}), ...(cert ? { cert, key } : {}) } : true;

  const mechanism = env.optional('KAFKA_SASL_MECHANISM')?.toLowerCase();
  const username = env.optional('KAFKA_SASL_USERNAME');
  const password = env.optional('KAFKA_SASL_PASSWORD');
  if (mechanism === undefined) {
    if (username !== undefined || password !== undefined) {
      throw new ConfigError('KAFKA_SASL_MECHANISM', 'scram-sha-512, scram-sha-256 or plain when KAFKA_SASL_USERNAME/PASSWORD are set', undefined);
    }
    return ssl ? { ssl } : {};
  }
  if (mechanism !== 'scram-sha-256' && mechanism !== 'scram-sha-512' && mechanism !== 'plain') {
    throw new ConfigError('KAFKA_SASL_MECHANISM', 'scram-sha-512, scram-sha-256 or plain', mechanism);
  }
  if (username === undefined) throw new ConfigError('KAFKA_SASL_USERNAME', 'the Kafka user name (KAFKA_SASL_MECHANISM is set)', undefined);
  if (password === undefined) throw new ConfigError('KAFKA_SASL_PASSWORD', 'the Kafka user password (KAFKA_SASL_MECHANISM is set)', undefined);
  if (!tlsOn && tlsSetting !== '0') throw new ConfigError('KAFKA_TLS', '1 with SASL credentials (or 0 to send them in plaintext on purpose)', undefined);
  return { ...(ssl ? { ssl } : {}), sasl: { mechanism, username, password } };
}
