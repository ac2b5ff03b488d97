import type { BinaryWriter } from '@bufbuild/protobuf/wire';
import { decodeRegistryLog } from '@ewx/contracts';
import {
  addressField,
  authenticate,
  grpcStatusOf,
  invalid,
  statusMessage,
  positionProgress,
  authenticateCosigner,
  proven,
  isAddress,
  isName,
  nameField,
  notFound,
  optionalNameField,
  serviceStatus,
  watchHandler,
  shown,
  unary,
  type GrpcService,
  type HeightSync,
  type Logger,
  type Runtime,
  type Signed,
} from '@ewx/platform';
import * as R from '@ewx/proto/registry';
import { READS_HEIGHT } from '../app/heights.js';
import { decide, streamOf, type RegistryCommand, type RegistryPolicy, type RegistryState } from '../domain/decider.js';
import { holdIdField } from '../domain/validate.js';
import * as V from './views.js';

const M = '/ewx.v1.Registry/';
/** Items per call of DepositBatch, NominateWorkers and UnnominateWorkers. */
export const MAX_BATCH = 1000;

interface Codec<T> {
  encode(m: T): BinaryWriter;
}

export function registryGrpc(runtime: Runtime<RegistryState>, policy: RegistryPolicy, log: Logger, heights?: HeightSync): GrpcService {
  const state = (): RegistryState => runtime.state();
  const reply = (): R.CommandReply => ({ logPosition: positionProgress(runtime.position()), height: BigInt(state().height) });

  /** Authenticate, map to a command, decide on fresh state in the command's stream. */
  const run = async <T extends Signed>(name: string, codec: Codec<T>, req: T, toCommand: (req: T, signer: string) => RegistryCommand): Promise<void> => {
    const auth = authenticate(M + name, req, (m) => codec.encode(m).finish());
    const cmd = toCommand(req, auth.signer);
    if (READS_HEIGHT.has(cmd.type)) await heights?.sync(runtime); // the wall-clock height first (app/heights.ts)
    await runtime.execute(
      streamOf(cmd, state()),
      proven(auth, (s) => decide(cmd, s, policy)),
      auth,
    );
  };
  const command = <T extends Signed>(name: string, codec: Codec<T>, toCommand: (req: T, signer: string) => RegistryCommand) =>
    unary(M + name, log, async (req: T) => {
      await run(name, codec, req, toCommand);
      return reply();
    });
  /** Items of a batch, each signed for its single method, run in order; a refusal is its item's result. */
  const batch = async <T extends Signed>(field: string, items: T[], each: (item: T) => Promise<void>): Promise<R.BatchResponse> => {
    if (items.length > MAX_BATCH) throw invalid(field, `at most ${MAX_BATCH} per call, got ${items.length}`);
    const results: R.ItemStatus[] = [];
    for (const item of items) {
      try {
        await each(item);
        results.push({ code: 0, message: '' });
      } catch (e) {
        results.push({ code: grpcStatusOf(e), message: statusMessage(e) });
      }
    }
    return { results, ...reply() };
  };
  const deposit = (r: R.DepositRequest) =>
    run('Deposit', R.DepositRequest, r, (x, signer) => ({ type: 'Deposit', signer, account: x.account, amount: x.amount }));
  const nominate = (r: R.NominationRequest) =>
    run('NominateWorker', R.NominationRequest, r, (x, signer) => ({ type: 'NominateWorker', signer, solution: x.solution, worker: x.worker }));
  const unnominate = (r: R.NominationRequest) =>
    run('UnnominateWorker', R.NominationRequest, r, (x, signer) => ({ type: 'UnnominateWorker', signer, solution: x.solution, worker: x.worker }));
  const found = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw notFound(what);
    return v;
  };

  return {
    name: 'ewx.v1.Registry',
    definition: R.RegistryService,
    implementation: {
      getStatus: unary(M + 'GetStatus', log, serviceStatus(runtime)),
      watch: watchHandler(M + 'Watch', runtime, log),
      // ledger
      deposit: unary(M + 'Deposit', log, async (req: R.DepositRequest) => {
        await deposit(req);
        return { account: V.accountView(state(), req.account) };
      }),
      depositBatch: unary(M + 'DepositBatch', log, async (req: R.DepositBatchRequest) => batch('deposits', req.deposits, deposit)),
      listAccounts: unary(M + 'ListAccounts', log, async (req: R.ListAccountsRequest): Promise<R.ListAccountsResponse> => {
        const s = state();
        const p = V.page(s.ledger.accounts.keys(), req.page, isAddress);
        return { accounts: p.keys.map((k) => V.accountView(s, k)), page: p.info };
      }),
      withdraw: command('Withdraw', R.WithdrawRequest, (r, signer) => ({ type: 'Withdraw', signer, account: r.account, amount: r.amount })),
      transfer: command('Transfer', R.TransferRequest, (r, signer) => ({ type: 'Transfer', signer, to: r.to, amount: r.amount })),
      placeHold: command('PlaceHold', R.PlaceHoldRequest, (r, signer) => ({
        type: 'PlaceHold',
        signer,
        holdId: r.holdId,
        account: r.account,
        amount: r.amount,
        purpose: r.purpose,
      })),
      getAccount: unary(M + 'GetAccount', log, async (req: R.GetAccountRequest) => V.accountView(state(), addressField('address', req.address))),
      getHold: unary(M + 'GetHold', log, async (req: R.GetHoldRequest) =>
        found(V.holdView(state(), holdIdField(req.holdId)), `hold_id: hold ${shown(req.holdId)}`),
      ),
      // registrars
      signUpRegistrar: command('SignUpRegistrar', R.SignUpRegistrarRequest, (r, signer) => ({
        type: 'SignUpRegistrar',
        signer,
        friendlyName: r.friendlyName,
        legalLocation: r.legalLocation,
      })),
      deleteRegistrar: command('DeleteRegistrar', R.DeleteRegistrarRequest, (_r, signer) => ({ type: 'DeleteRegistrar', signer })),
      getRegistrar: unary(M + 'GetRegistrar', log, async (req: R.GetRegistrarRequest) =>
        found(V.registrarView(state(), addressField('address', req.address)), `address: registrar ${req.address}`),
      ),
      // groups
      registerGroup: command('RegisterGroup', R.RegisterGroupRequest, (r, signer) => ({
        type: 'RegisterGroup',
        signer,
        config: V.groupConfigIn(r.config),
        budget: r.budget,
        allowList: r.allowList,
      })),
      raiseGroupBudget: command('RaiseGroupBudget', R.RaiseGroupBudgetRequest, (r, signer) => ({
        type: 'RaiseGroupBudget',
        signer,
        group: r.group,
        amount: r.amount,
      })),
      changeGroupRewards: command('ChangeGroupRewards', R.ChangeGroupRewardsRequest, (r, signer) => ({
        type: 'ChangeGroupRewards',
        signer,
        group: r.group,
        subscriptionRewardPerBlock: r.subscriptionRewardPerBlock,
        votingRewardPerBlock: r.votingRewardPerBlock,
      })),
      updateAllowList: command('UpdateAllowList', R.UpdateAllowListRequest, (r, signer) => ({
        type: 'UpdateAllowList',
        signer,
        group: r.group,
        ...(r.enabled === undefined ? {} : { enabled: r.enabled }),
        add: r.add,
        remove: r.remove,
      })),
      deregisterGroup: command('DeregisterGroup', R.DeregisterGroupRequest, (r, signer) => ({ type: 'DeregisterGroup', signer, group: r.group })),
      getGroup: unary(M + 'GetGroup', log, async (req: R.GetGroupRequest) =>
        found(V.groupView(state(), nameField('namespace', req.namespace)), `namespace: solution group ${shown(req.namespace)}`),
      ),
      listGroups: unary(M + 'ListGroups', log, async (req: R.ListGroupsRequest): Promise<R.ListGroupsResponse> => {
        const s = state();
        const p = V.page(s.groups.keys(), req.page, isName);
        return { groups: p.keys.map((k) => V.groupView(s, k)!), page: p.info };
      }),
      // solutions
      registerSolution: command('RegisterSolution', R.RegisterSolutionRequest, (r, signer) => ({
        type: 'RegisterSolution',
        signer,
        config: V.solutionConfigIn(r.config),
      })),
      pauseSolution: command('PauseSolution', R.SolutionCommandRequest, (r, signer) => ({ type: 'PauseSolution', signer, solution: r.solution })),
      activateSolution: command('ActivateSolution', R.SolutionCommandRequest, (r, signer) => ({ type: 'ActivateSolution', signer, solution: r.solution })),
      endSolution: command('EndSolution', R.SolutionCommandRequest, (r, signer) => ({ type: 'EndSolution', signer, solution: r.solution })),
      nominateWorker: unary(M + 'NominateWorker', log, async (req: R.NominationRequest) => {
        await nominate(req);
        return reply();
      }),
      unnominateWorker: unary(M + 'UnnominateWorker', log, async (req: R.NominationRequest) => {
        await unnominate(req);
        return reply();
      }),
      nominateWorkers: unary(M + 'NominateWorkers', log, async (req: R.NominationBatchRequest) => batch('nominations', req.nominations, nominate)),
      unnominateWorkers: unary(M + 'UnnominateWorkers', log, async (req: R.NominationBatchRequest) => batch('nominations', req.nominations, unnominate)),
      getSolution: unary(M + 'GetSolution', log, async (req: R.GetSolutionRequest) =>
        found(V.solutionView(state(), nameField('namespace', req.namespace)), `namespace: solution ${shown(req.namespace)}`),
      ),
      listSolutions: unary(M + 'ListSolutions', log, async (req: R.ListSolutionsRequest): Promise<R.ListSolutionsResponse> => {
        const s = state();
        const keys = optionalNameField('group', req.group) ? [...(s.groups.get(req.group)?.solutions ?? [])] : [...s.solutions.keys()];
        const p = V.page(keys, req.page, isName);
        return { solutions: p.keys.map((k) => V.solutionView(s, k)!), page: p.info };
      }),
      // operators
      subscribe: command('Subscribe', R.SubscribeRequest, (r, signer) => ({ type: 'Subscribe', signer, group: r.group, stake: r.stake })),
      topUpStake: command('TopUpStake', R.TopUpStakeRequest, (r, signer) => ({ type: 'TopUpStake', signer, group: r.group, amount: r.amount })),
      unsubscribe: command('Unsubscribe', R.UnsubscribeRequest, (r, signer) => ({ type: 'Unsubscribe', signer, group: r.group })),
      // Two signatures over the same payload (the request without either): the operator's and the worker's consent.
      connectWorker: unary(M + 'ConnectWorker', log, async (req: R.ConnectWorkerRequest) => {
        const encode = (m: R.ConnectWorkerRequest): Uint8Array => R.ConnectWorkerRequest.encode({ ...m, workerAuth: undefined }).finish();
        const auth = authenticate(M + 'ConnectWorker', req, encode);
        // Malformed names are refused as such before the consent over them is checked.
        addressField('worker', req.worker);
        addressField('operator', req.operator);
        const consent = authenticateCosigner(M + 'ConnectWorker', 'worker_auth', req.workerAuth, req, encode);
        const cmd: RegistryCommand = { type: 'ConnectWorker', signer: auth.signer, worker: req.worker, operator: req.operator, consentBy: consent?.signer };
        const signed = consent ? { ...auth, cosigners: [consent] } : auth;
        await runtime.execute(
          streamOf(cmd, state()),
          proven(signed, (s) => decide(cmd, s, policy)),
          signed,
        );
        return reply();
      }),
      disconnectWorker: command('DisconnectWorker', R.DisconnectWorkerRequest, (_r, signer) => ({ type: 'DisconnectWorker', signer })),
      claimRewards: unary(M + 'ClaimRewards', log, async (req: R.ClaimRewardsRequest): Promise<R.ClaimRewardsResponse> => {
        const auth = authenticate(M + 'ClaimRewards', req, (m) => R.ClaimRewardsRequest.encode(m).finish());
        const cmd: RegistryCommand = { type: 'ClaimRewards', signer: auth.signer, groups: req.groups };
        const events = await runtime.execute(
          streamOf(cmd, state()),
          proven(auth, (s) => decide(cmd, s, policy)),
          auth,
        );
        const first = events[0] && decodeRegistryLog(events[0]);
        const claimed = first?.type === 'RewardsClaimed' ? [...first.data.groups] : [];
        return { claimed, total: claimed.reduce((t, x) => t + BigInt(x.amount), 0n).toString() };
      }),
      getOperator: unary(M + 'GetOperator', log, async (req: R.GetOperatorRequest) => V.operatorView(state(), addressField('address', req.address))),
      listOperators: unary(M + 'ListOperators', log, async (req: R.ListOperatorsRequest): Promise<R.ListOperatorsResponse> => {
        const s = state();
        const keys = optionalNameField('group', req.group)
          ? [...(s.groups.get(req.group)?.subscriptions.keys() ?? [])]
          : [...s.operators].filter(([, o]) => o.groups.size > 0 || o.worker !== undefined).map(([k]) => k);
        const p = V.page(keys, req.page, isAddress);
        return { operators: p.keys.map((k) => V.operatorView(s, k)), page: p.info };
      }),
      getWorker: unary(M + 'GetWorker', log, async (req: R.GetWorkerRequest) => V.workerView(state(), addressField('address', req.address))),
    },
  };
}
