import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { ALL_MODULES } from './index.js';
import { runEmbedded, type Embedded } from '@ewx/platform';
import { freePort } from '@ewx/platform/testing';
import { ConnectWorkerRequest } from '@ewx/proto/registry';
import { RoundState } from '@ewx/proto/voting';
import {
  EwxCallError,
  connect,
  cosignWith,
  counterNonces,
  generateKeyPair,
  keySigner,
  untilHeight,
  untilRoundClosed,
  type Ewx,
  type KeyPair,
  type Signer,
} from '@ewx/client';

const T = 10n ** 18n;

/**
 * A round end to end with the client kit against the embedded system: GetRoundSnapshot (paged),
 * the round state under the same names in voting and consensus (RoundState), GetNetwork, and
 * untilRoundClosed on the watch streams.
 */
describe('rounds: snapshot, shared round states, network', () => {
  const admin = generateKeyPair();
  const registrar = generateKeyPair();
  const operators = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const workers = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const nonce = counterNonces();
  const as = (k: KeyPair): Signer => keySigner(k, nonce);
  let system: Embedded;
  let ewx: Ewx;
  const blocksTo = async (h: number): Promise<void> => {
    const now = Number((await ewx.consensus.getStatus({})).height);
    if (h > now) await ewx.consensus.produceBlocks({ count: h - now });
    await untilHeight(ewx, h, { timeoutMs: 60_000 });
  };

  before(async () => {
    const port = await freePort();
    system = await runEmbedded(
      ALL_MODULES,
      {
        DATA_DIR: 'memory',
        GRPC_PORT: String(port),
        BLOCK_TIME_MS: 'manual',
        ADMIN_ADDRESS: admin.address,
        LOG_LEVEL: 'warn',
        REWARD_PERIOD_BLOCKS: '10',
      },
      { signals: false },
    );
    ewx = connect({ address: `127.0.0.1:${port}`, signer: as(admin) });
    await blocksTo(1);
    for (const k of [registrar, ...operators]) await ewx.registry.deposit({ account: k.address, amount: (1000n * T).toString() });
    const R = ewx.withSigner(as(registrar));
    await R.registry.signUpRegistrar({ friendlyName: 'Rounds registrar', legalLocation: 'DE' });
    await R.registry.registerGroup({
      config: {
        namespace: 'rounds.group',
        info: 'test',
        minStake: T.toString(),
        maxStake: (100n * T).toString(),
        maxOperators: 10,
        allowListEnabled: false,
        startBlock: 0n,
        subscriptionRewardPerBlock: T.toString(),
        votingRewardPerBlock: T.toString(),
        slaVotingThreshold: 50,
        operationStartBlock: 1n,
        operationEndBlock: 1000n,
        withdrawalDelay: 1,
      },
      budget: (500n * T).toString(),
      allowList: [],
    });
    await R.registry.registerSolution({
      config: {
        namespace: 'rounds.solution',
        group: 'rounds.group',
        name: 'rounds',
        description: '',
        logicRef: 'bafy-rounds',
        expirationBlock: 10_000n,
        maxWaitingThreshold: 3n,
        voteThresholdPercent: 60,
        quorumPercent: 50,
        votingStartMethod: 'REGISTRAR',
        nominationsEnabled: false,
        unresolvedPolicy: 'NONE',
      },
    });
    for (let i = 0; i < operators.length; i++) {
      const op = ewx.withSigner(as(operators[i]!));
      await op.registry.subscribe({ group: 'rounds.group', stake: (10n * T).toString() });
      const request: ConnectWorkerRequest = { auth: undefined, workerAuth: undefined, operator: operators[i]!.address, worker: workers[i]!.address };
      const consent = await cosignWith(as(workers[i]!), '/ewx.v1.Registry/ConnectWorker', request, (m) => ConnectWorkerRequest.encode(m).finish());
      await op.registry.connectWorker({ ...request, workerAuth: { ...consent, signature: Buffer.from(consent.signature) } });
    }
    await blocksTo(11); // period 1: the stakes are active
  });
  after(async () => {
    ewx?.close();
    await system?.stop();
  });

  test('GetRoundSnapshot pages the eligible workers in address order; the round state reads the same in voting and consensus', async () => {
    const R = ewx.withSigner(as(registrar));
    await R.voting.startRound({ solution: 'rounds.solution', roundId: 'r1' });
    const first = await ewx.voting.getRoundSnapshot({ solution: 'rounds.solution', roundId: 'r1', page: { pageSize: 2, pageToken: '' } });
    assert.equal(first.eligible, 3);
    assert.equal(first.complete, true);
    assert.equal(first.workers.length, 2);
    assert.notEqual(first.page?.nextPageToken, '');
    const rest = await ewx.voting.getRoundSnapshot({ solution: 'rounds.solution', roundId: 'r1', page: { pageSize: 2, pageToken: first.page!.nextPageToken } });
    assert.equal(rest.page?.nextPageToken, '');
    const all = [...first.workers, ...rest.workers];
    const expected = workers.map((w, i) => ({ worker: w.address, operator: operators[i]!.address })).sort((a, b) => (a.worker < b.worker ? -1 : 1));
    assert.deepEqual(all, expected);
    const bad = await ewx.voting
      .getRoundSnapshot({ solution: 'rounds.solution', roundId: 'r1', page: { pageSize: 2, pageToken: 'AAAA' } })
      .catch((e: unknown) => e);
    assert.ok(EwxCallError.is(bad) && bad.code === status.INVALID_ARGUMENT && /^page\.page_token: /.test(bad.details), String(bad));
    const missing = await ewx.voting.getRoundSnapshot({ solution: 'rounds.solution', roundId: 'nope' }).catch((e: unknown) => e);
    assert.ok(EwxCallError.is(missing) && missing.code === status.NOT_FOUND && /^round_id: /.test(missing.details), String(missing));

    // Open for votes: ACTIVE in both services (consensus's deprecated string says OPEN).
    assert.equal((await ewx.voting.getRound({ solution: 'rounds.solution', roundId: 'r1' })).state, RoundState.ROUND_STATE_ACTIVE);
    const open = await ewx.consensus.getSettlement({ solution: 'rounds.solution', roundId: 'r1' });
    assert.deepEqual([open.roundState, open.state], [RoundState.ROUND_STATE_ACTIVE, 'OPEN']);

    for (const w of workers.slice(0, 2))
      await ewx.withSigner(as(w)).voting.submitVote({ solution: 'rounds.solution', roundId: 'r1', result: Buffer.from('c0ffee', 'hex') });
    await ewx.consensus.produceBlocks({ count: 3 });
    const round = await untilRoundClosed(ewx, 'rounds.solution', 'r1', { timeoutMs: 60_000 });
    assert.equal(round.state, RoundState.ROUND_STATE_SETTLED);
    const settled = await ewx.consensus.getSettlement({ solution: 'rounds.solution', roundId: 'r1' });
    assert.deepEqual([settled.roundState, settled.state], [RoundState.ROUND_STATE_SETTLED, 'SETTLED']);
  });

  test('GetNetwork: the admin, the validator set and the height', async () => {
    const n = await ewx.consensus.getNetwork({});
    assert.equal(n.admin, admin.address);
    assert.ok(n.validators.length >= 1);
    assert.equal(n.attestationsNeeded, Math.floor((2 * n.validators.length) / 3) + 1);
    assert.equal(n.height, (await ewx.consensus.getStatus({})).height);
    assert.equal(n.manualBlocks, true);
  });
});
