import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { status } from '@grpc/grpc-js';
import { startTestNetwork, type TestNetwork } from './test-network.js';
import { RoundState } from '@ewx/proto/voting';
import { EwxCallError, untilRoundClosed, type Ewx, type KeyPair, type Signer } from '@ewx/client';

/**
 * A round end to end with the client kit against the embedded system: GetRoundSnapshot (paged),
 * the round state under the same names in voting and consensus (RoundState), GetNetwork, and
 * untilRoundClosed on the watch streams.
 */
describe('rounds: snapshot, shared round states, network', () => {
  let net: TestNetwork;
  let ewx: Ewx;
  let admin: KeyPair;
  let registrar: KeyPair;
  let operators: readonly KeyPair[];
  let workers: readonly KeyPair[];
  let as: (k: KeyPair) => Signer;
  before(async () => {
    net = await startTestNetwork('rounds');
    ({ ewx, admin, registrar, operators, workers, as } = net);
  });
  after(async () => {
    await net?.close();
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
