import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { auditDecisions } from './audit.js';
import { addr, ev, rounds } from './fixtures.js';
import { close, given, of } from './spec-support.js';

describe('recompute from the log', () => {
  const G = 'grp';
  const ops = Array.from({ length: 3200 }, (_, i) => addr(i + 1));
  const build = () => {
    const log = given(
      ev.schedule(10),
      ev.group(
        G,
        { subscriptionRewardPerBlock: '1000000000000000001', votingRewardPerBlock: '3000000000000000007', slaVotingThreshold: 60 },
        '60000000000000000000',
      ),
      ops.map((o, i) => ev.subscribed(G, o, (BigInt((i % 97) + 1) * 10n ** 18n).toString(), 0)),
      ev.unsubscribed(G, ops[5]!, 0, 1),
      rounds(
        G,
        0,
        ops.slice(0, 40).map((op, i) => ({ op, eligible: 5, correct: i % 6 })),
      ),
      ev.round(
        G,
        0,
        'wide',
        ops,
        ops.filter((_, i) => i % 3 === 0),
      ),
      rounds(
        G,
        1,
        ops.slice(0, 40).map((op, i) => ({ op, eligible: 4, correct: (i + 2) % 5 })),
      ),
      ev.block(20),
    );
    close(log, G, 0);
    close(log, G, 1);
    return log;
  };

  test('given closed periods (chunked, one with budget scaling), when each decision is recomputed from its recorded inputs, then it equals the recorded events byte for byte', () => {
    const log = build();
    assert.ok(of(log, 'BudgetExhausted').length >= 1, 'the scenario exercises budget scaling');
    assert.ok(of(log, 'RewardInputsRecorded').length > 2, 'the scenario exercises chunking');
    const audited = auditDecisions(log.log);
    assert.deepEqual(
      audited.map((a) => a.period),
      [0, 1],
    );
    for (const a of audited) {
      assert.ok(a.recorded.length >= 4);
      assert.equal(a.recomputed.join('\n'), a.recorded.join('\n'));
    }
  });

  test('a tampered recorded input no longer recomputes to the recorded decision', () => {
    const log = build();
    const i = log.log.findIndex((e) => e.type === 'RewardInputsRecorded');
    const data = log.log[i]!.data as { operators: { stake: string }[] };
    data.operators[0]!.stake = (BigInt(data.operators[0]!.stake) + 1n).toString();
    const a = auditDecisions(log.log).find((x) => x.period === 0)!;
    assert.notEqual(a.recomputed.join('\n'), a.recorded.join('\n'));
  });
});
