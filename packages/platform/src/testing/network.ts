import type { KeyPair } from '../auth/keys.js';
import {
  ConnectWorkerRequest,
  DepositRequest,
  RegisterGroupRequest,
  RegisterSolutionRequest,
  SignUpRegistrarRequest,
  SubscribeRequest,
  type GroupConfig,
  type RegistryClient,
  type SolutionConfig,
} from '@ewx/proto/registry';
import { StartRoundRequest, type VotingClient } from '@ewx/proto/voting';
import { ProduceBlocksRequest, type ConsensusClient } from '@ewx/proto/consensus';
import { cosignCommand, signCommand } from '../auth/command.js';
import { TOKEN } from '../money.js';
import { rpc } from './grpc.js';
import { waitFor } from './wait.js';

/** The accounts of a standalone test network and the clients its setup goes through. */
export interface StandaloneNetwork {
  readonly registry: RegistryClient;
  readonly voting: VotingClient;
  /** The nonces every signer of the test uses. */
  readonly nonce: () => bigint;
  readonly admin: KeyPair;
  readonly registrar: KeyPair;
  readonly operators: readonly KeyPair[];
  readonly workers: readonly KeyPair[];
}

/** `msg` signed by `key` for `/ewx.v1.<method>` with the network's next nonce. */
export const signedFor =
  (nonce: () => bigint) =>
  <M extends { auth?: unknown }>(key: KeyPair, method: string, msg: M, encode: (m: M) => { finish(): Uint8Array }): M =>
    signCommand(key, `/ewx.v1.${method}`, msg as never, nonce(), (m) => encode(m as M).finish()) as M;

/**
 * The services' end-to-end setup, through signed gRPC calls: the admin deposits 1000 tokens to the
 * registrar and to each operator; the registrar signs up as `registrarName` and registers `group`
 * (budget 100 tokens; retried while the registry waits for the reward calendar from rewards) and
 * `solution`; each operator subscribes 10 tokens and connects its worker (which co-signs).
 */
export async function seedStandaloneNetwork(n: StandaloneNetwork, registrarName: string, group: GroupConfig, solution: SolutionConfig): Promise<void> {
  const signed = signedFor(n.nonce);
  for (const k of [n.registrar, ...n.operators])
    await rpc(
      n.registry,
      'deposit',
      signed(n.admin, 'Registry/Deposit', { auth: undefined, account: k.address, amount: (1000n * TOKEN).toString() }, DepositRequest.encode),
    );
  await rpc(
    n.registry,
    'signUpRegistrar',
    signed(n.registrar, 'Registry/SignUpRegistrar', { auth: undefined, friendlyName: registrarName, legalLocation: 'DE' }, SignUpRegistrarRequest.encode),
  );
  await waitFor(
    'the group registered',
    async () => {
      await rpc(
        n.registry,
        'registerGroup',
        signed(
          n.registrar,
          'Registry/RegisterGroup',
          { auth: undefined, config: group, budget: (100n * TOKEN).toString(), allowList: [] },
          RegisterGroupRequest.encode,
        ),
      );
      return true;
    },
    30_000,
  );
  await rpc(
    n.registry,
    'registerSolution',
    signed(n.registrar, 'Registry/RegisterSolution', { auth: undefined, config: solution }, RegisterSolutionRequest.encode),
  );
  for (let i = 0; i < n.operators.length; i++) {
    const op = n.operators[i]!;
    await rpc(
      n.registry,
      'subscribe',
      signed(op, 'Registry/Subscribe', { auth: undefined, group: group.namespace, stake: (10n * TOKEN).toString() }, SubscribeRequest.encode),
    );
    // The worker consents: it signs the same request (without either signature) with its own nonce.
    const connect = { auth: undefined, worker: n.workers[i]!.address, operator: op.address, workerAuth: undefined };
    const encodeConnect = (m: ConnectWorkerRequest) => ConnectWorkerRequest.encode({ ...m, workerAuth: undefined });
    await rpc(n.registry, 'connectWorker', {
      ...signed(op, 'Registry/ConnectWorker', connect, encodeConnect),
      workerAuth: cosignCommand(n.workers[i]!, '/ewx.v1.Registry/ConnectWorker', connect, n.nonce(), (m) => encodeConnect(m).finish()),
    });
  }
}

/** Starts probe rounds of `solution` (ids `probe-<n>`) until voting counts `eligible` workers eligible for one. */
export async function untilEligibleWorkers(n: StandaloneNetwork, solution: string, eligible: number): Promise<void> {
  const signed = signedFor(n.nonce);
  let probe = 0;
  await waitFor(
    `voting to see ${eligible} eligible workers`,
    async () => {
      const r = await rpc(
        n.voting,
        'startRound',
        signed(n.registrar, 'Voting/StartRound', { auth: undefined, solution, roundId: `probe-${++probe}` }, StartRoundRequest.encode),
      ).catch(() => undefined);
      return r && r.eligible === eligible ? true : undefined;
    },
    30_000,
    300,
  );
}

/** The admin produces `count` blocks (BLOCK_TIME_MS=manual); the height consensus reached. */
export async function produceBlocks(consensus: ConsensusClient, admin: KeyPair, nonce: () => bigint, count: number): Promise<bigint> {
  const res = await rpc(
    consensus,
    'produceBlocks',
    signedFor(nonce)(admin, 'Consensus/ProduceBlocks', { auth: undefined, count }, ProduceBlocksRequest.encode),
  );
  return res.height;
}
