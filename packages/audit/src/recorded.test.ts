import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { audit, fileSource, formatReport, memorySource, readAllLogs, type LogEvent, type ServiceName } from './index.js';
import { RECORDED_DECISIONS, RECORDED_LOG, recordedDecisions } from './testing/index.js';

/**
 * Behaviour does not change: a log the embedded system wrote before the code was reshaped
 * (fixtures/recorded-log.jsonl, from tools/record-log.ts) replays with today's deciders to the same
 * decisions. The audit re-decides every decision event (settlements, tallies, attestations, reward
 * periods, credits, distance settlements) and compares it byte for byte with the recorded one; the
 * folds must reach the balances, chains, counts and rewards recorded beside the log.
 */
describe('a log recorded before the change replays to the same decisions', () => {
  let logs: Partial<Record<ServiceName, LogEvent[]>>;

  test("the fixture is intact (its manifest's hash) and holds all five logs", async () => {
    const source = await fileSource(RECORDED_LOG);
    logs = await readAllLogs(source);
    await source.close();
    assert.deepEqual(Object.keys(logs), ['registry', 'voting', 'consensus', 'rewards', 'distance']);
    for (const [s, l] of Object.entries(logs)) assert.ok(l!.length > 40, `${s}: ${l!.length} events`);
  });

  test("the audit with the services' deciders: zero divergences, nothing pending, every decision re-decided", async () => {
    const report = await audit(memorySource(logs));
    assert.deepEqual(report.divergences, []);
    assert.deepEqual(
      report.notes.filter((n) => n.kind === 'pending'),
      [],
    );
    const checks = Object.fromEntries(report.services.map((s) => [s.service, s.checks]));
    assert.equal(checks.consensus!.attestation, 4, 'four rounds attested');
    assert.deepEqual([checks.voting!.vote, checks.voting!['round-start'], checks.voting!['round-close']], [10, 4, 4]);
    assert.equal(checks.rewards!.decision, 4, 'reward periods 0 to 3 closed');
    assert.ok(checks.distance!.settlement! >= 3);
    for (const s of report.services) assert.ok(s.checks.recomputed! > 0, `${s.service} re-decided events`);
    assert.deepEqual(Object.keys(report.cross).sort(), ['copies', 'holds-settled', 'metadata-recorded', 'rewards-credited', 'rounds-decided']);
  });

  test('the same balances, holds, result chains, vote counts, rewards and distance results as recorded', () => {
    const recorded = JSON.parse(readFileSync(RECORDED_DECISIONS, 'utf8')) as Record<string, Record<string, unknown>>;
    const now = recordedDecisions(logs) as Record<string, Record<string, unknown>>;
    assert.deepEqual(now, recorded);
    // What the scenario did, so an empty fold cannot pass: 4 settled/unresolved rounds, 3 in the chain, a claim, a median.
    assert.equal(Object.values(recorded.chains!).flat().length, 3);
    assert.ok(Object.keys(recorded.balances!).length >= 5);
    assert.ok(Object.keys(recorded.claimed!).length === 1);
    assert.deepEqual(Object.keys(recorded.medians!), ['3']);
  });

  test('a changed decision in the recorded log is caught (the replay is not vacuous)', async () => {
    const changed = {
      ...logs,
      rewards: logs.rewards!.map((e) => {
        if (e.type !== 'RewardsComputed' || !/"amount":"[1-9]/.test(JSON.stringify(e.data))) return e;
        const data = structuredClone(e.data) as { payouts: { amount: string }[] };
        const p = data.payouts.find((x) => x.amount !== '0')!;
        p.amount = (BigInt(p.amount) - 1n).toString();
        return { ...e, data: data as never };
      }),
    };
    const report = await audit(memorySource(changed));
    assert.ok(
      report.divergences.some((d) => d.service === 'rewards' && d.check === 'decision'),
      formatReport(report),
    );
  });
});
