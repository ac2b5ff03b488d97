import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodePosition, type EventData, type RecordedEvent } from '@ewx/platform';
import { decide, type DistanceCommand } from '../domain/decider.js';
import { defaultParams } from '../domain/params.js';
import { evolve, initialState } from '../domain/state.js';
import { ADMIN, EVALUATORS, REQUESTER } from '../domain/testing.js';
import { auditLog } from './audit.js';

/** Runs commands like the service and keeps the log an auditor would read. */
function recordedLog(): RecordedEvent[] {
  const params = { ...defaultParams(ADMIN, EVALUATORS), periodBlocks: 5 };
  const s = initialState();
  const log: RecordedEvent[] = [];
  const append = (events: readonly EventData[]): EventData[] => {
    for (const e of events) {
      const r = { ...e, streamId: 'x', version: 0, position: encodePosition([BigInt(log.length + 1)]) } as RecordedEvent;
      log.push(r);
      evolve(s, r);
    }
    return [...events];
  };
  const run = (c: DistanceCommand): EventData[] => append(decide(c, s, params));
  const blocksTo = (h: number): void => {
    while (s.height < h) {
      append([{ type: 'BlockProduced', data: { height: s.height + 1 } }]);
      run({ type: 'SettleDuePeriod' });
    }
  };
  append([{ type: 'DistanceConfigured', data: { periodBlocks: 5 } }]);
  // A chain 0 → 1 → 2 of members certifying each other, plus 3 certified only by 2.
  run({
    type: 'ImportWot',
    signer: ADMIN,
    json: JSON.stringify({
      format: 'ewx-wot/1',
      identities: [
        { id: 0, member: true, certifiedBy: [1, 2] },
        { id: 1, member: true, certifiedBy: [0, 2] },
        { id: 2, member: true, certifiedBy: [0, 1] },
        { id: 3, member: false, certifiedBy: [2] },
      ],
    }),
  });
  for (const identity of [3, 1]) {
    const [held] = run({ type: 'RequestEvaluation', requester: REQUESTER, identity });
    run({ type: 'ConfirmHold', holdId: (held!.data as { holdId: string }).holdId });
  }
  blocksTo(6);
  run({ type: 'PublishResult', evaluator: EVALUATORS[0]!, period: 1, values: [1_000_000_000, 1_000_000_000] }); // honest
  // Changed after period 1 began: not in the snapshot the results are checked against.
  run({ type: 'RemoveCertification', signer: ADMIN, issuer: 2, receiver: 3 });
  blocksTo(7);
  run({ type: 'PublishResult', evaluator: EVALUATORS[1]!, period: 1, values: [0, 1_000_000_000] }); // one value off
  blocksTo(11);
  return log;
}

test('audit: every settlement follows from the recorded results; a dishonest value is traced to its evaluator', () => {
  const report = auditLog(recordedLog(), 5);
  assert.deepEqual(report.mismatches, []);
  assert.equal(report.settlementsChecked, 2);
  assert.equal(report.resultsChecked, 2);
  assert.deepEqual(
    [...report.deviations],
    [
      [EVALUATORS[0], 0],
      [EVALUATORS[1], 1],
    ],
  );
});

test('audit: a tampered settlement is found', () => {
  const log = recordedLog();
  const i = log.findIndex((e) => e.type === 'EvaluationSettled');
  log[i] = { ...log[i]!, data: { ...(log[i]!.data as object), outcome: 'VALID' } } as RecordedEvent;
  const report = auditLog(log, 5);
  assert.equal(report.mismatches.length, 1);
  assert.match(report.mismatches[0]!, /distance:3:1: recorded VALID \(median 500000000\), the log gives INVALID/);
});
