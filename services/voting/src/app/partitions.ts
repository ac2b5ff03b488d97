import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { clientTlsFrom, ConfigError, DEFAULT_PORTS, type ClientTls, type Env } from '@ewx/platform';

/** At most this many partitions (each is a log, a consumer group and a runtime on its owner). */
export const MAX_PARTITIONS = 64;

/**
 * A solution's partition: FNV-1a (32 bits) of its id's UTF-8 bytes, modulo the partition count.
 * Stable across processes, versions and platforms; it must never change for a deployment (a
 * solution's rounds are in its partition's log).
 */
export function partitionOf(solution: string, partitions: number): number {
  if (partitions <= 1) return 0;
  let h = 0x811c9dc5;
  for (const b of Buffer.from(solution, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h % partitions;
}

export interface PartitionSettings {
  /** VOTING_PARTITIONS: 1 (default) is one log, schema `voting`, exactly as without partitions. */
  readonly partitions: number;
  /** VOTING_REPLICA_ID: this process's name in the lease table (default: host name + random suffix); a fixed one (the pod name) must be unique to the replica: a process started under it takes back the leases under it at once. */
  readonly replica: string;
  /** VOTING_ADVERTISE_ADDRESS: host:port other replicas forward requests to. */
  readonly address: string;
  /** VOTING_LEASE_MS: a lease's length; renewed every third of it. */
  readonly leaseMs: number;
  /** VOTING_FORWARD_TIMEOUT_MS: deadline of a request forwarded to a partition's owner, and the longest a request waits for a partition changing hands. */
  readonly forwardTimeoutMs: number;
  /**
   * GRPC_CLIENT_TLS / GRPC_CLIENT_TLS_CA_FILE (+ _CERT_FILE and _KEY_FILE for mutual TLS): how a
   * replica forwards to another, the same settings every internal gRPC client reads (distance to
   * the registry, the evaluator to distance); undefined: plaintext.
   */
  readonly forwardTls: ClientTls | undefined;
  /**
   * VOTING_FORWARD_TLS_NAME: the name a replica's certificate is checked against when forwarding
   * to it over TLS (e.g. `voting`, the Service name the certificate already has); unset: the host of
   * its VOTING_ADVERTISE_ADDRESS.
   */
  readonly forwardTlsName: string | undefined;
}

export const DEFAULT_LEASE_MS = 10_000;

export function partitionSettingsFrom(env: Env, mode: 'embedded' | 'standalone'): PartitionSettings {
  const partitions = env.int('VOTING_PARTITIONS', 1, 1, MAX_PARTITIONS);
  const leaseMs = env.int('VOTING_LEASE_MS', DEFAULT_LEASE_MS, 300, 600_000);
  const forwardTimeoutMs = env.int('VOTING_FORWARD_TIMEOUT_MS', 10_000, 100, 600_000);
  const given = env.optional('VOTING_REPLICA_ID');
  if (given !== undefined && !/^[A-Za-z0-9._:-]{1,100}$/.test(given)) throw new ConfigError('VOTING_REPLICA_ID', '1 to 100 of [A-Za-z0-9._:-]', given);
  const replica =
    given ??
    `${hostname()
      .replace(/[^A-Za-z0-9._:-]/g, '-')
      .slice(0, 80)}-${randomBytes(4).toString('hex')}`;
  let address = env.optional('VOTING_ADVERTISE_ADDRESS');
  if (partitions > 1) {
    if (mode === 'embedded') throw new ConfigError('VOTING_PARTITIONS', '1 in the embedded system (partitions need PostgreSQL and Kafka)', String(partitions));
    if (env.optional('DATABASE_URL') === undefined)
      throw new ConfigError('VOTING_PARTITIONS', '1 unless DATABASE_URL is set (the leases are in PostgreSQL)', String(partitions));
    if (address === undefined) {
      const port = env.int('GRPC_PORT', DEFAULT_PORTS.voting, 0, 65535);
      const host = env.str('GRPC_HOST', '0.0.0.0');
      if (port === 0) throw new ConfigError('VOTING_ADVERTISE_ADDRESS', 'host:port (GRPC_PORT is 0, so it cannot be derived)', undefined);
      address = `${host === '0.0.0.0' || host === '::' ? hostname() : host}:${port}`;
    }
    if (!/^[^\s:]+:\d{1,5}$/.test(address) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(address))
      throw new ConfigError('VOTING_ADVERTISE_ADDRESS', 'host:port', address);
  }
  const forwardTls = clientTlsFrom(env);
  const forwardTlsName = env.optional('VOTING_FORWARD_TLS_NAME');
  if (forwardTlsName !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(forwardTlsName))
    throw new ConfigError('VOTING_FORWARD_TLS_NAME', 'a DNS name (letters, digits, dots, hyphens)', forwardTlsName);
  return { partitions, replica, address: address ?? '', leaseMs, forwardTimeoutMs, forwardTls, forwardTlsName };
}
