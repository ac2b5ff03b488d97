import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { audit, fileSource, memorySource, readAllLogs, type AuditReport, type LogEvent, type ServiceName } from './index.js';
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
