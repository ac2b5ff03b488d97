import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { audit, exportLogs, fileSource, formatReport, memorySource, readAllLogs, type AuditReport, type LogEvent, type ServiceName } from './index.js';
import { RECORDED_LOG } from './testing/index.js';

type Logs = Partial<Record<ServiceName, LogEvent[]>>;

/** What a report says, without its timings. */
const findings = (r: AuditReport): unknown => ({
  divergences: r.divergences,
  notes: r.notes,
  checks: r.services.map((s) => [s.service, s.events, s.lastPosition, s.checks, s.divergences]),
  cross: r.cross,
  reduced: r.reduced,
});
const flip = (hex: string): string => (hex[0] === '0' ? '1' : '0') + hex.slice(1);

/**
 * `parallel: true` (audit.ts): the largest log replayed in a worker thread with its own reading of
 * the source, beside the others; the report is the serial one, corruptions included.
 */
describe('the largest log replayed in a worker thread', () => {
  let logs: Logs;
  let dir: string;
  before(async () => {
    const source = await fileSource(RECORDED_LOG);
    logs = await readAllLogs(source);
    await source.close();
    dir = mkdtempSync(join(tmpdir(), 'ewx-audit-parallel-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const both = async (file: string): Promise<{ serial: AuditReport; parallel: AuditReport; reducedSerial: AuditReport; reducedParallel: AuditReport }> => {
    const source = await fileSource(file);
    try {
      return {
        serial: await audit(source, { signatureThreads: 0 }),
        parallel: await audit(source, { signatureThreads: 0, parallel: true }),
        reducedSerial: await audit(source, { signatures: false }),
        reducedParallel: await audit(source, { signatures: false, parallel: true }),
      };
    } finally {
      await source.close();
    }
  };

  test('the recorded log: the same report as the serial audit, full and reduced', async () => {
    const r = await both(RECORDED_LOG);
    const largest = Object.entries(logs).reduce((a, [s, l]) => (l!.length > logs[a]!.length ? (s as ServiceName) : a), 'registry' as ServiceName);
    assert.deepEqual(r.parallel.parallel, [largest]);
    assert.equal(r.serial.parallel, undefined);
    assert.deepEqual(findings(r.parallel), findings(r.serial));
    assert.deepEqual(findings(r.reducedParallel), findings(r.reducedSerial));
    assert.deepEqual(r.serial.divergences, []);
  });

  test('corruptions in an export (a forged vote signature, a changed reward amount, a dropped event) are found at the same positions', async () => {
    const l: Logs = Object.fromEntries(Object.entries(logs).map(([k, v]) => [k, [...v!]]));
    const vi = l.voting!.findIndex((e) => e.type === 'VoteCast' && (e.metadata as { signature?: string } | undefined)?.signature !== undefined);
    const vote = l.voting![vi]!;
    l.voting![vi] = { ...vote, metadata: { ...(vote.metadata as object), signature: flip((vote.metadata as { signature: string }).signature) } as never };
    const ri = l.rewards!.findIndex((e) => e.type === 'RewardsComputed' && (e.data as { payouts: unknown[] }).payouts.length > 0);
    const computed = l.rewards![ri]!;
    const data = structuredClone(computed.data) as { payouts: { amount: string }[] };
    data.payouts[0]!.amount = (BigInt(data.payouts[0]!.amount) + 1n).toString();
    l.rewards![ri] = { ...computed, data: data as never };
    const ci = l.consensus!.findIndex((e) => e.type === 'AttestationRecorded');
    const [dropped] = l.consensus!.splice(ci, 1);
    const next = l.consensus!.slice(ci).find((e) => e.streamId === dropped!.streamId);

    const file = join(dir, 'corrupted.jsonl');
    const mem = memorySource(l);
    await exportLogs(mem, file, { exportedAt: '2026-01-01T00:00:00Z' });
    const r = await both(file);
    assert.deepEqual(findings(r.parallel), findings(r.serial));
    assert.equal(r.parallel.parallel!.length, 1);
    const at = (service: ServiceName, position: bigint | undefined, check: string): boolean =>
      r.parallel.divergences.some((d) => d.service === service && d.position === position && d.check === check);
    assert.ok(at('voting', vote.position, 'signature'), formatReport(r.parallel));
    assert.ok(at('rewards', computed.position, 'decision'), formatReport(r.parallel));
    if (next) assert.ok(at('consensus', next.position, 'stream-version'), formatReport(r.parallel));
    else
      assert.ok(
        r.parallel.divergences.some((d) => d.service === 'consensus' || d.service === 'cross'),
        formatReport(r.parallel),
      );
    // The reduced audit misses the forged signature only.
    assert.deepEqual(findings(r.reducedParallel), findings(r.reducedSerial));
    assert.ok(!r.reducedParallel.divergences.some((d) => d.check === 'signature' && d.service === 'voting'));
  });
});
