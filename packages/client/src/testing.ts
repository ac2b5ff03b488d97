import * as grpc from '@grpc/grpc-js';
import type { GroupConfig, SolutionConfig } from '@ewx/proto/registry';
import { SERVICES } from './connect.js';

/**
 * The configurations the tests, benchmarks and demos register, in one place: a solution group and
 * a solution as the examples of the docs have them. Each caller names what it changes.
 */

/** One token in base units (18 decimals). */
const TOKEN = 10n ** 18n;

/**
 * A solution group: stake 1 to 100 tokens, at most 10 operators, no allow list, 1 token per block
 * for subscription and for voting, SLA 50 %, operating from block 1 to 1000, withdrawal delay of
 * one reward period.
 */
export function testGroupConfig(namespace: string, more: Partial<GroupConfig> = {}): GroupConfig {
  return {
    namespace,
    info: 'test',
    minStake: TOKEN.toString(),
    maxStake: (100n * TOKEN).toString(),
    maxOperators: 10,
    allowListEnabled: false,
    startBlock: 0n,
    subscriptionRewardPerBlock: TOKEN.toString(),
    votingRewardPerBlock: TOKEN.toString(),
    slaVotingThreshold: 50,
    operationStartBlock: 1n,
    operationEndBlock: 1000n,
    withdrawalDelay: 1,
    ...more,
  };
}

/**
 * A solution of `group`, named after its namespace's first label: rounds started by the registrar,
 * open 3 blocks, quorum 50 %, majority 60 %, no nominations, no retry; expires at block 10,000.
 */
export function testSolutionConfig(namespace: string, group: string, more: Partial<SolutionConfig> = {}): SolutionConfig {
  const name = namespace.split('.')[0]!;
  return {
    namespace,
    group,
    name,
    description: '',
    logicRef: `bafy-${name}`,
    expirationBlock: 10_000n,
    maxWaitingThreshold: 3n,
    voteThresholdPercent: 60,
    quorumPercent: 50,
    votingStartMethod: 'REGISTRAR',
    nominationsEnabled: false,
    unresolvedPolicy: 'NONE',
    ...more,
  };
}

/** A stand-in for the five services' unary methods (see `unaryServer`). */
export interface UnaryServer {
  readonly port: number;
  /** Calls received of a full method path (`/ewx.v1.Registry/GetAccount`). */
  calls(path: string): number;
  close(): void;
}

/**
 * A gRPC server on 127.0.0.1 (`port`, or one the system picks) that serves every unary method of the
 * five services through `answer`, with the request's bytes as they came: `callback` answers as in
 * grpc-js (an error status, or the reply's bytes); an answer that never calls it leaves the call
 * open. Counts the calls per method, for tests of what a client sends (retries, forwarding, faults).
 */
export async function unaryServer(
  answer: (path: string, call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => void,
  port = 0,
): Promise<UnaryServer> {
  const counts = new Map<string, number>();
  const server = new grpc.Server();
  const same = (b: Buffer): Buffer => b;
  for (const def of Object.values(SERVICES)) {
    const definition: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
    const implementation: grpc.UntypedServiceImplementation = {};
    for (const [name, m] of Object.entries(def as Record<string, { path: string; responseStream: boolean }>)) {
      if (m.responseStream) continue;
      const { path } = m;
      definition[name] = {
        path,
        requestStream: false,
        responseStream: false,
        requestSerialize: same,
        requestDeserialize: same,
        responseSerialize: same,
        responseDeserialize: same,
      };
      implementation[name] = (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        counts.set(path, (counts.get(path) ?? 0) + 1);
        answer(path, call, callback);
      };
    }
    server.addService(definition, implementation);
  }
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { port: bound, calls: (path) => counts.get(path) ?? 0, close: () => server.forceShutdown() };
}
