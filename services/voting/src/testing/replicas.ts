import * as grpc from '@grpc/grpc-js';
import { partitionLeases, schemaFor, type KeyPair } from '@ewx/platform';
import { freePort, insecureClient, serviceEnv, startServiceProcess, waitFor, type RealInfra, type ServiceProcess } from '@ewx/platform/testing';
import { partitionOf } from '../app/partitions.js';

/** For the end-to-end tests of a partitioned voting: the network they start and what they share. */

/** The first solution names `sol<i>.<suffix>` that fall in each of `partitions` partitions, at the partition's index. */
export function solutionsByPartition(suffix: string, partitions: number): string[] {
  const solutions: string[] = [];
  for (let i = 0; solutions.filter(Boolean).length < partitions; i++) {
    const s = `sol${i}.${suffix}`;
    solutions[partitionOf(s, partitions)] ??= s;
  }
  return solutions;
}

/** `fn` again while it answers UNAVAILABLE (a partition moving or starting), up to 120 s; the refusals' details go to `seen`. */
export const whileUnavailable = <T>(what: string, fn: () => Promise<T>, seen?: string[]): Promise<T> =>
  waitFor(
    what,
    () =>
      fn().catch((e: grpc.ServiceError) => {
        if (e.code !== grpc.status.UNAVAILABLE) throw e;
        seen?.push(e.details);
        return undefined;
      }),
    120_000,
    100,
  );

export interface PartitionedNetwork {
  /** gRPC ports by process name: consensus, registry, rewards, and the replicas a and b (add more as they start). */
  readonly ports: Record<string, number>;
  /** Every process started, stopped by `stop` (push those started later). */
  readonly procs: ServiceProcess[];
  readonly replicas: { readonly a: ServiceProcess; readonly b: ServiceProcess };
  /** The environment of a voting replica with this VOTING_REPLICA_ID. */
  votingEnvOf(id: string): Record<string, string>;
  readonly leases: Awaited<ReturnType<typeof partitionLeases>>;
  client<C>(Ctor: new (a: string, c: grpc.ChannelCredentials) => C, name: string): C;
  /** Each partition's live owner, from the lease table. */
  owners(): Promise<Map<number, string | null>>;
  stop(): Promise<void>;
}

/**
 * Consensus (one validator), registry and rewards, and two voting replicas `a` and `b` with
 * VOTING_PARTITIONS = `partitions`, each a separate process on the real Kafka and PostgreSQL;
 * 10-block reward periods, 3 s leases. `votingEnv` is added to the replicas' environment.
 */
export async function startPartitionedNetwork(
  infra: RealInfra,
  o: { ns: string; admin: KeyPair; validator: KeyPair; partitions: number; votingEnv?: Record<string, string> },
): Promise<PartitionedNetwork> {
  const ports: Record<string, number> = {};
  const procs: ServiceProcess[] = [];
  for (const n of ['consensus', 'registry', 'rewards', 'a', 'b']) ports[n] = await freePort();
  const env = {
    ...serviceEnv(infra, o.ns, o.admin.address),
    REWARD_PERIOD_BLOCKS: '10',
    REWARDS_SETTLEMENT_DELAY: '2',
    VALIDATORS: o.validator.address,
    VALIDATOR_KEY: o.validator.seed,
  };
  for (const name of ['consensus', 'registry', 'rewards']) procs.push(await startServiceProcess(name, ports[name]!, env));
  const votingEnvOf = (id: string): Record<string, string> => ({
    ...env,
    VOTING_PARTITIONS: String(o.partitions),
    VOTING_REPLICA_ID: id,
    VOTING_LEASE_MS: '3000',
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    ...o.votingEnv,
  });
  const a = await startServiceProcess('voting', ports.a!, votingEnvOf('a'));
  procs.push(a);
  const b = await startServiceProcess('voting', ports.b!, votingEnvOf('b'));
  procs.push(b);
  const leases = await partitionLeases(infra.databaseUrl, schemaFor(`${o.ns}_voting`), o.partitions);
  return {
    ports,
    procs,
    replicas: { a, b },
    votingEnvOf,
    leases,
    client: (Ctor, name) => insecureClient(Ctor, `127.0.0.1:${ports[name]}`),
    owners: async () => new Map((await leases.rows()).filter((r) => r.live).map((r) => [r.partition, r.owner])),
    async stop() {
      for (const p of procs) await p.stop();
      await leases.close();
    },
  };
}
