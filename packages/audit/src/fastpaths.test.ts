import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { audit, fileSource, memorySource, readAllLogs, type AuditReport, type LogEvent, type ServiceName } from './index.js';
import { SubmitVoteRequest } from '@ewx/proto/voting';
import { isInboxStreamOf } from './runner.js';
import { votePayload } from './services/voting.js';
import { RECORDED_LOG } from './testing/index.js';

type Logs = Partial<Record<ServiceName, LogEvent[]>>;

/** The report without its timings. */
const findings = (r: AuditReport): unknown => {
  const { ms: _ms, phases: _p, ...rest } = r;
  return rest;
};

/** A copy of `logs` where `change` rewrote the first event of `service` that `pick` selects. */
function plant(logs: Logs, service: ServiceName, pick: (e: LogEvent) => boolean, change: (e: LogEvent) => LogEvent): { logs: Logs; at: bigint } {
  const i = logs[service]!.findIndex(pick);
  assert.ok(i >= 0, `an event of ${service} to change`);
  const events = [...logs[service]!];
  events[i] = change(structuredClone(events[i]!));
  return { logs: { ...logs, [service]: events }, at: events[i]!.position };
}

const show = (x: unknown): string => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
const meta = (e: LogEvent): Record<string, unknown> => e.metadata as Record<string, unknown>;

/**
 * Copies of another log's events are compared as they are read when their source log was replayed
 * already (voting's votes in consensus), and at the cross check otherwise (consensus's blocks in
 * the registry): the report is the one the audit wrote when every copy was compared at the cross
 * check (`copiesAsRead: false`), on the recorded log and with copies changed on both paths.
 */
describe('copies compared as they are read: the same report as at the cross check', () => {
  let logs: Logs;
  before(async () => {
    const source = await fileSource(RECORDED_LOG);
    logs = await readAllLogs(source);
    await source.close();
  });

  const both = async (l: Logs): Promise<AuditReport> => {
    const fast = await audit(memorySource(l), { signatures: false });
    const slow = await audit(memorySource(l), { signatures: false, copiesAsRead: false });
    assert.deepEqual(findings(fast), findings(slow));
    return fast;
  };

  test('the recorded log: no divergence, every copy counted', async () => {
    const r = await both(logs);
    assert.deepEqual(r.divergences, []);
    const copies = Object.values(logs)
      .flat()
      .filter((e) => e.streamId.startsWith('inbox:')).length;
    assert.equal(r.cross.copies, copies);
  });

  test("a registry event's copy in voting changed (its source replayed before): reported at the copy's position", async () => {
    const { logs: l, at } = plant(
      logs,
      'voting',
      (e) => e.type === 'OperatorSubscribed' && e.streamId.startsWith('inbox:registry:'),
      (e) => ({ ...e, data: { ...(e.data as object), stake: '1' } }),
    );
    const r = await both(l);
    assert.ok(
      r.divergences.some((d) => d.service === 'cross' && d.check === 'copies' && d.position === at && /copy of registry's OperatorSubscribed/.test(d.message)),
      show(r.divergences),
    );
  });

  test("a round's snapshot copied by consensus changed (its source replayed before): reported at the copy's position", async () => {
    const { logs: l, at } = plant(
      logs,
      'consensus',
      (e) => e.type === 'RoundSnapshot' && e.streamId.startsWith('inbox:voting:'),
      (e) => ({ ...e, data: { ...(e.data as object), extra: 1 } }),
    );
    const r = await both(l);
    assert.ok(
      r.divergences.some((d) => d.service === 'cross' && d.check === 'copies' && d.position === at && /copy of voting's RoundSnapshot/.test(d.message)),
      show(r.divergences),
    );
  });

  test("a block's copy in the registry changed (its source replayed after): reported at the copy's position", async () => {
    const { logs: l, at } = plant(
      logs,
      'registry',
      (e) => e.streamId.startsWith('inbox:consensus:') && e.type === 'BlockProduced',
      (e) => ({ ...e, data: { ...(e.data as object), height: 999_999 } }),
    );
    const r = await both(l);
    assert.ok(
      r.divergences.some((d) => d.service === 'cross' && d.check === 'copies' && d.position === at),
      show(r.divergences),
    );
  });

  test('a copy of an event its source log does not have: reported on both paths', async () => {
    const { logs: l, at } = plant(
      logs,
      'voting',
      (e) => e.streamId.startsWith('inbox:registry:') && e.type === 'WorkerConnected',
      (e) => ({ ...e, metadata: { ...meta(e), sourceVersion: 99_999 } }),
    );
    const r = await both(l);
    assert.ok(
      r.divergences.some((d) => d.service === 'cross' && d.check === 'copies' && d.position === at && /does not have/.test(d.message)),
      show(r.divergences),
    );
  });
});

describe('written directly: the same bytes and answers as the general code', () => {
  test("votePayload: SubmitVoteRequest.encode's bytes, for every vote of the recorded log and for edge cases", async () => {
    const source = await fileSource(RECORDED_LOG);
    const logs = await readAllLogs(source);
    await source.close();
    const encode = (solution: string, roundId: string, result: Buffer): Buffer =>
      Buffer.from(SubmitVoteRequest.encode({ auth: undefined, solution, roundId, result }).finish());
    let votes = 0;
    for (const e of logs.voting!) {
      if (e.type !== 'VoteCast') continue;
      const d = e.data as { solution: string; roundId: string; result: string };
      const result = Buffer.from(d.result, 'hex');
      assert.deepEqual(Buffer.from(votePayload(d.solution, d.roundId, result)), encode(d.solution, d.roundId, result));
      votes++;
    }
    assert.ok(votes >= 10, `${votes} votes`);
    const texts = ['', 'a', 'é', '😀 round', 'x'.repeat(127), 'y'.repeat(128), 'z'.repeat(16_383), 'w'.repeat(16_384), 'ü'.repeat(70_000)];
    const results = [0, 1, 32, 64, 127, 128, 300].map((n) => Buffer.alloc(n, n & 0xff));
    for (const s of texts)
      for (const r of texts)
        for (const b of results) {
          if (s.length > 200 && r.length > 200 && b.length > 1) continue;
          assert.deepEqual(Buffer.from(votePayload(s, r, b)), encode(s, r, b), `${s.length}/${r.length}/${b.length}`);
        }
  });

  test('isInboxStreamOf answers as comparing the stream with `inbox:<source>:<sourceStream>` does', () => {
    const streams = [
      'inbox:voting:round:a',
      'inbox:voting:round:b',
      'inbox:votingx:round:a',
      'inbox:voting:',
      'inbox::round:a',
      'inbox:voting;round:a',
      'round:a',
      '',
    ];
    const sources: unknown[] = ['voting', 'votin', 'votingx', '', 'voting:round', 5, null, undefined, { toString: () => 'voting' }];
    const sourceStreams: unknown[] = ['round:a', 'round', ':round:a', '', 'a', 7, null];
    let same = 0;
    for (const st of streams)
      for (const so of sources)
        for (const ss of sourceStreams) {
          const want = st === `inbox:${so}:${ss}`;
          assert.equal(isInboxStreamOf(st, so, ss), want, `${st} ${String(so)} ${String(ss)}`);
          if (want) same++;
        }
    assert.ok(same >= 5, `${same} equal`);
  });
});
