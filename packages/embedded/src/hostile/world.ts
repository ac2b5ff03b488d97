import * as grpc from '@grpc/grpc-js';
import { cosignCommand, generateKeyPair, runEmbedded, signCommand, TOKEN, type Embedded, type KeyPair } from '@ewx/platform';
import { freePort, waitFor } from '@ewx/platform/testing';
import { ALL_MODULES } from '../index.js';
import { loadContract, type MethodInfo } from './schema.js';

/**
 * The embedded system (all five services in this process, PGlite in memory, the in-process bus,
 * one gRPC port on a real socket) with a small realistic state: a registrar with groups and
 * solutions, a subscribed operator with a nominated worker, open rounds, a web of trust with an
 * evaluation pending and an evaluator. Every command then reaches its own validation.
 */

export interface Outcome {
  readonly code: grpc.status;
  readonly details: string;
  readonly response?: unknown;
}

export type Positions = Record<string, bigint>;

export const REWARD_PERIOD = 20;
const DISTANCE_PERIOD = 10;
const T = (n: number): string => (BigInt(n) * TOKEN).toString();

export interface World {
  readonly methods: readonly MethodInfo[];
  /** host:port of the one gRPC server. */
  readonly address: string;
  readonly keys: Record<'admin' | 'registrar' | 'registrar2' | 'operator' | 'worker' | 'stranger' | 'evaluator' | 'recruit', KeyPair>;
  /** A well-formed address nobody uses. */
  readonly nobody: string;
  method(path: string): MethodInfo;
  /** Raw call: the request as given (no signing). */
  call(m: MethodInfo, req: unknown): Promise<Outcome>;
  /** Signs `req` by `key` with its next nonce (or `nonce`) and calls. */
  signed(m: MethodInfo, key: KeyPair, req: unknown, nonce?: bigint): Promise<Outcome>;
  sign(m: MethodInfo, key: KeyPair, req: unknown, nonce: bigint): unknown;
  nextNonce(key: KeyPair): bigint;
  /** The last nonce each service accepted from each account, by `${service}:${address}`. */
  readonly accepted: Map<string, bigint>;
  /** Log positions of every service, or of `services` only. */
  positions(services?: readonly string[]): Promise<Positions>;
  stop(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const keys = {
    admin: generateKeyPair(),
    registrar: generateKeyPair(),
    registrar2: generateKeyPair(),
    operator: generateKeyPair(),
    worker: generateKeyPair(),
    stranger: generateKeyPair(),
    evaluator: generateKeyPair(),
    // A free account that consents to serve the stranger in ConnectWorker's baseline.
    recruit: generateKeyPair(),
  };
  const distanceKey = generateKeyPair();
  const port = await freePort();
  const embedded: Embedded = await runEmbedded(
    ALL_MODULES,
    {
      DATA_DIR: 'memory',
      GRPC_PORT: String(port),
      BLOCK_TIME_MS: 'manual',
      ADMIN_ADDRESS: keys.admin.address,
      DISTANCE_SERVICE_KEY: distanceKey.seed,
      LEDGER_SERVICE_ACCOUNTS: distanceKey.address,
      EVALUATORS: keys.evaluator.address,
      REWARD_PERIOD_BLOCKS: String(REWARD_PERIOD),
      REWARDS_SETTLEMENT_DELAY: '2',
      DISTANCE_PERIOD_BLOCKS: String(DISTANCE_PERIOD),
      DISTANCE_REDRIVE_MS: '3600000',
    },
    { signals: false },
  );
  const client = new grpc.Client(`127.0.0.1:${embedded.server.port}`, grpc.credentials.createInsecure());
  const methods = loadContract();
  const byPath = new Map(methods.map((m) => [m.path, m]));
  const method = (path: string): MethodInfo => {
    const m = byPath.get(path.startsWith('/') ? path : `/ewx.v1.${path}`);
    if (!m) throw new Error(`no method ${path}`);
    return m;
  };
  const nonces = new Map<string, bigint>();
  const accepted = new Map<string, bigint>();
  const nextNonce = (k: KeyPair): bigint => {
    const n = (nonces.get(k.address) ?? 0n) + 1n;
    nonces.set(k.address, n);
    return n;
  };

  const call = (m: MethodInfo, req: unknown): Promise<Outcome> =>
    new Promise((resolve) => {
      client.makeUnaryRequest(
        m.path,
        (v: unknown) => Buffer.from(m.request.encode(v).finish()),
        (b: Buffer) => m.response.decode(b),
        req,
        { deadline: Date.now() + 60_000 },
        (err, response) => resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '', response }),
      );
    });
  // Co-signature fields (ConnectWorker's worker_auth) are left out of the bytes every party signs.
  const encode =
    (m: MethodInfo) =>
    (x: unknown): Uint8Array =>
      m.request.encode({ ...(x as object), ...('workerAuth' in (x as object) ? { workerAuth: undefined } : {}) }).finish();
  const byAddress = new Map(Object.values(keys).map((k) => [k.address, k]));
  const sign = (m: MethodInfo, key: KeyPair, req: unknown, nonce: bigint): unknown => {
    let message = m.request.fromPartial(req) as { auth?: undefined; worker?: string; workerAuth?: unknown };
    // ConnectWorker: the named worker consents whenever its key is known (so the case reaches the rules).
    if (m.path.endsWith('/ConnectWorker') && message.workerAuth === undefined && message.worker && byAddress.has(message.worker)) {
      const wk = byAddress.get(message.worker)!;
      message = { ...message, workerAuth: cosignCommand(wk, m.path, message, nextNonce(wk), encode(m)) };
    }
    return signCommand(key, m.path, message, nonce, encode(m));
  };
  const signed = async (m: MethodInfo, key: KeyPair, req: unknown, nonce = nextNonce(key)): Promise<Outcome> => {
    const o = await call(m, sign(m, key, req, nonce));
    if (o.code === grpc.status.OK) accepted.set(`${m.service}:${key.address}`, nonce);
    return o;
  };
  const positions = async (names: readonly string[] = ['Registry', 'Voting', 'Consensus', 'Rewards', 'Distance']): Promise<Positions> => {
    const all = await Promise.all(names.map((s) => call(method(`${s}/GetStatus`), {})));
    const out: Positions = {};
    all.forEach((o, i) => {
      if (o.code !== grpc.status.OK) throw new Error(`${names[i]}.GetStatus: ${o.details}`);
      out[names[i]!] = (o.response as { logPosition: bigint }).logPosition;
    });
    return out;
  };

  const w: World = {
    methods,
    address: `127.0.0.1:${embedded.server.port}`,
    keys,
    nobody: `ed25519:${'cd'.repeat(32)}`,
    method,
    call,
    signed,
    sign,
    nextNonce,
    accepted,
    positions,
    async stop() {
      client.close();
      await embedded.stop();
    },
  };
  try {
    await populate(w);
  } catch (e) {
    await w.stop();
    throw e;
  }
  return w;
}

const ok = async (what: string, p: Promise<Outcome>): Promise<unknown> => {
  const o = await p;
  if (o.code !== grpc.status.OK) throw new Error(`setup: ${what}: ${grpc.status[o.code]} ${o.details}`);
  return o.response;
};

export const WOT = JSON.stringify({
  format: 'ewx-wot/1',
  identities: [
    { id: 0, member: true, certifiedBy: [1, 2] },
    { id: 1, member: true, certifiedBy: [0, 2] },
    { id: 2, member: true, certifiedBy: [0, 1] },
    { id: 3, member: false, certifiedBy: [0] },
  ],
});

export const groupConfig = (namespace: string) => ({
  namespace,
  info: 'a group',
  minStake: T(1),
  maxStake: T(100),
  maxOperators: 10,
  allowListEnabled: false,
  startBlock: 0n,
  subscriptionRewardPerBlock: T(1),
  votingRewardPerBlock: T(1),
  slaVotingThreshold: 50,
  operationStartBlock: 0n,
  operationEndBlock: 1_000_000n,
  withdrawalDelay: 1,
});

export const solutionConfig = (namespace: string, group: string, start: 'REGISTRAR' | 'WORKER' = 'REGISTRAR', nominations = true) => ({
  namespace,
  group,
  name: 'a solution',
  description: 'computes things',
  logicRef: 'bafy-logic',
  expirationBlock: 1_000_000n,
  maxWaitingThreshold: 5n,
  voteThresholdPercent: 50,
  quorumPercent: 50,
  votingStartMethod: start,
  nominationsEnabled: nominations,
  unresolvedPolicy: 'NONE',
});

async function status(w: World, service: string): Promise<{ logPosition: bigint; height: bigint }> {
  return (await ok(`${service}.GetStatus`, w.call(w.method(`${service}/GetStatus`), {}))) as { logPosition: bigint; height: bigint };
}

async function produce(w: World, count: number): Promise<number> {
  const r = (await ok('ProduceBlocks', w.signed(w.method('Consensus/ProduceBlocks'), w.keys.admin, { count }))) as { height: bigint };
  const height = Number(r.height);
  for (const s of ['Registry', 'Voting', 'Rewards', 'Distance']) {
    await waitFor(`${s} at height ${height}`, async () => ((await status(w, s)).height === BigInt(height) ? true : undefined), 30_000, 20);
  }
  return height;
}

/**
 * Every service's log position unchanged over half a second: the propagation of the setup (relays,
 * inboxes, reactions) is over. A precondition of the suite, which then compares positions.
 */
export async function settle(w: World): Promise<Positions> {
  let last = await w.positions();
  let same = 0;
  return waitFor(
    'the services to go quiet',
    async () => {
      await new Promise((r) => setTimeout(r, 100));
      const now = await w.positions();
      same = Object.keys(now).every((k) => now[k] === last[k]) ? same + 1 : 0;
      last = now;
      return same >= 5 ? now : undefined;
    },
    30_000,
    0,
  );
}

async function populate(w: World): Promise<void> {
  const { admin, registrar, registrar2, operator, worker, stranger, evaluator } = w.keys;
  const R = (name: string) => w.method(`Registry/${name}`);
  await produce(w, 1);
  for (const k of [registrar, registrar2, operator, worker, stranger]) {
    await ok('Deposit', w.signed(R('Deposit'), admin, { account: k.address, amount: T(1000) }));
  }
  await ok('SetRewardPeriodLength', w.signed(w.method('Rewards/SetRewardPeriodLength'), admin, { length: REWARD_PERIOD }));
  await ok('Transfer', w.signed(R('Transfer'), stranger, { to: operator.address, amount: '1' }));
  await ok('SignUpRegistrar', w.signed(R('SignUpRegistrar'), registrar, { friendlyName: 'Registrar One', legalLocation: 'DE' }));
  await ok('SignUpRegistrar 2', w.signed(R('SignUpRegistrar'), registrar2, { friendlyName: 'Registrar Two', legalLocation: 'FR' }));
  await ok('RegisterGroup grp-a', w.signed(R('RegisterGroup'), registrar, { config: groupConfig('grp-a'), budget: T(100), allowList: [] }));
  await ok('RegisterGroup grp-c', w.signed(R('RegisterGroup'), registrar, { config: groupConfig('grp-c'), budget: T(1), allowList: [] }));
  await ok('RegisterSolution sol-a', w.signed(R('RegisterSolution'), registrar, { config: solutionConfig('sol-a', 'grp-a') }));
  await ok('RegisterSolution sol-w', w.signed(R('RegisterSolution'), registrar, { config: solutionConfig('sol-w', 'grp-a', 'WORKER', false) }));
  await ok('RegisterSolution sol-p', w.signed(R('RegisterSolution'), registrar, { config: solutionConfig('sol-p', 'grp-a') }));
  await ok('PauseSolution sol-p', w.signed(R('PauseSolution'), registrar, { solution: 'sol-p' }));
  await ok('Subscribe', w.signed(R('Subscribe'), operator, { group: 'grp-a', stake: T(10) }));
  await ok('ConnectWorker', w.signed(R('ConnectWorker'), operator, { operator: operator.address, worker: worker.address }));
  await ok('NominateWorker', w.signed(R('NominateWorker'), registrar, { solution: 'sol-a', worker: worker.address }));

  const D = (name: string) => w.method(`Distance/${name}`);
  await ok('ImportWot', w.signed(D('ImportWot'), admin, { json: WOT }));
  await ok('RequestEvaluation 3', w.signed(D('RequestEvaluation'), stranger, { identity: 3 }));
  // Distance period 1: the evaluator publishes for the pool of identity 3, another request joins period 2's pool.
  await produce(w, DISTANCE_PERIOD);
  await ok('PublishResult', w.signed(D('PublishResult'), evaluator, { period: 1, values: [900_000_000] }));
  await ok('RequestEvaluation 2', w.signed(D('RequestEvaluation'), stranger, { identity: 2 }));
  // Reward period 1 (blocks 21..40): the operator's stake is active and its worker eligible.
  const height = await produce(w, REWARD_PERIOD + 1 - 11);
  if (height !== REWARD_PERIOD + 1) throw new Error(`setup: expected height ${REWARD_PERIOD + 1}, got ${height}`);
  const V = (name: string) => w.method(`Voting/${name}`);
  await ok('StartRound r1', w.signed(V('StartRound'), registrar, { solution: 'sol-a', roundId: 'r1' }));
  await ok('StartRound r-open', w.signed(V('StartRound'), registrar, { solution: 'sol-a', roundId: 'r-open' }));
  await ok('SubmitVote r1', w.signed(V('SubmitVote'), worker, { solution: 'sol-a', roundId: 'r1', result: new Uint8Array([1]) }));
  await settle(w);
}

/** A valid request per method, signed by `signer` (its role), in the state `populate` leaves. */
export function baselines(w: World): Map<string, { signer?: keyof World['keys']; req: Record<string, unknown> }> {
  const { operator, worker, stranger, registrar } = w.keys;
  const b = new Map<string, { signer?: keyof World['keys']; req: Record<string, unknown> }>();
  const add = (path: string, req: Record<string, unknown>, signer?: keyof World['keys']) => b.set(`/ewx.v1.${path}`, { req, ...(signer ? { signer } : {}) });
  for (const s of ['Registry', 'Voting', 'Consensus', 'Rewards', 'Distance']) add(`${s}/GetStatus`, {});
  // registry
  add('Registry/Deposit', { account: stranger.address, amount: '1' }, 'admin');
  add('Registry/Withdraw', { account: stranger.address, amount: '1' }, 'admin');
  add('Registry/Transfer', { to: operator.address, amount: '1' }, 'stranger');
  add('Registry/PlaceHold', { holdId: 'hold-1', account: stranger.address, amount: '1', purpose: 'testing' }, 'admin');
  add('Registry/GetAccount', { address: operator.address });
  add('Registry/GetHold', { holdId: 'distance:3:1' });
  add('Registry/DepositBatch', { deposits: [{ account: stranger.address, amount: '1' }] });
  add('Registry/ListAccounts', { page: { pageSize: 10, pageToken: '' } });
  add('Registry/SignUpRegistrar', { friendlyName: 'Stranger', legalLocation: 'NL' }, 'stranger');
  add('Registry/DeleteRegistrar', {}, 'registrar2');
  add('Registry/GetRegistrar', { address: registrar.address });
  add('Registry/RegisterGroup', { config: groupConfig('grp-b'), budget: T(1), allowList: [operator.address] }, 'registrar');
  add('Registry/RaiseGroupBudget', { group: 'grp-a', amount: T(1) }, 'registrar');
  add('Registry/ChangeGroupRewards', { group: 'grp-a', subscriptionRewardPerBlock: T(2), votingRewardPerBlock: T(2) }, 'registrar');
  add('Registry/UpdateAllowList', { group: 'grp-a', enabled: true, add: [stranger.address], remove: [operator.address] }, 'registrar');
  add('Registry/DeregisterGroup', { group: 'grp-c' }, 'registrar');
  add('Registry/GetGroup', { namespace: 'grp-a' });
  add('Registry/ListGroups', { page: { pageSize: 10, pageToken: '' } });
  add('Registry/RegisterSolution', { config: solutionConfig('sol-b', 'grp-a') }, 'registrar');
  add('Registry/PauseSolution', { solution: 'sol-a' }, 'registrar');
  add('Registry/ActivateSolution', { solution: 'sol-p' }, 'registrar');
  add('Registry/EndSolution', { solution: 'sol-a' }, 'registrar');
  add('Registry/NominateWorker', { solution: 'sol-a', worker: stranger.address }, 'registrar');
  add('Registry/UnnominateWorker', { solution: 'sol-a', worker: worker.address }, 'registrar');
  add('Registry/NominateWorkers', { nominations: [{ solution: 'sol-a', worker: w.nobody }] });
  add('Registry/UnnominateWorkers', { nominations: [{ solution: 'sol-a', worker: stranger.address }] });
  add('Registry/GetSolution', { namespace: 'sol-a' });
  add('Registry/ListSolutions', { page: { pageSize: 10, pageToken: '' }, group: 'grp-a' });
  add('Registry/Subscribe', { group: 'grp-a', stake: T(1) }, 'stranger');
  add('Registry/TopUpStake', { group: 'grp-a', amount: T(1) }, 'operator');
  add('Registry/Unsubscribe', { group: 'grp-a' }, 'operator');
  add('Registry/ConnectWorker', { operator: stranger.address, worker: w.keys.recruit.address }, 'stranger');
  add('Registry/DisconnectWorker', {}, 'operator');
  add('Registry/ClaimRewards', { groups: ['grp-a'] }, 'operator');
  add('Registry/GetOperator', { address: operator.address });
  add('Registry/ListOperators', { page: { pageSize: 10, pageToken: '' }, group: 'grp-a' });
  add('Registry/GetWorker', { address: worker.address });
  // voting
  add('Voting/StartRound', { solution: 'sol-a', roundId: 'r2' }, 'registrar');
  add('Voting/SubmitVote', { solution: 'sol-a', roundId: 'r-open', result: new Uint8Array([1]) }, 'worker');
  add('Voting/SubmitVotes', { votes: [{ solution: 'sol-a', roundId: 'r-open', result: new Uint8Array([1]) }] });
  add('Voting/GetRound', { solution: 'sol-a', roundId: 'r1' });
  add('Voting/ListRounds', { solution: 'sol-a', state: 0, page: { pageSize: 10, pageToken: '' } });
  add('Voting/GetRoundSnapshot', { solution: 'sol-a', roundId: 'r1', page: { pageSize: 10, pageToken: '' } });
  // consensus
  add('Consensus/ProduceBlocks', { count: 1 }, 'admin');
  add('Consensus/GetVoteMetadata', { group: 'grp-a', period: 1, operator: '', page: { pageSize: 10, pageToken: '' } });
  add('Consensus/GetResultChain', { solution: 'sol-a', page: { pageSize: 10, pageToken: '' } });
  add('Consensus/GetVoteProof', { solution: 'sol-a', roundId: 'r1', worker: worker.address });
  add('Consensus/GetSettlement', { solution: 'sol-a', roundId: 'r1' });
  add('Consensus/GetNetwork', {});
  // Unsigned; with manual blocks nothing is counted, so nothing is recorded.
  add('Consensus/RecordCountedBlocks', {});
  // rewards
  add('Rewards/GetAccountView', { address: operator.address });
  add('Rewards/GetCurrentPeriod', {});
  add('Rewards/SetRewardPeriodLength', { length: REWARD_PERIOD }, 'admin');
  add('Rewards/GetOperatorRewards', { operator: operator.address, group: 'grp-a', period: 1 });
  add('Rewards/ListOperatorRewards', { operator: operator.address, group: 'grp-a', limit: 10 });
  add('Rewards/GetUnclaimedRewards', { operator: operator.address });
  add('Rewards/GetGroupPayouts', { group: 'grp-a', limit: 10 });
  // distance
  add('Distance/RequestEvaluation', { identity: 0 }, 'stranger');
  add('Distance/PublishResult', { period: 2, values: [900_000_000] }, 'evaluator');
  add('Distance/GetIdentityStatus', { identity: 3 });
  add('Distance/GetPool', { period: 2 });
  add('Distance/GetWotStats', {});
  add('Distance/AddIdentity', { identity: 100, member: true }, 'admin');
  add('Distance/SetMembership', { identity: 0, member: false }, 'admin');
  add('Distance/AddCertification', { issuer: 3, receiver: 0 }, 'admin');
  add('Distance/RemoveCertification', { issuer: 1, receiver: 0 }, 'admin');
  add('Distance/ImportWot', { json: WOT }, 'admin');
  add('Distance/GetEvaluationWork', { evaluator: w.keys.evaluator.address });
  add('Distance/GetWotSnapshot', { period: 2 });
  return b;
}
