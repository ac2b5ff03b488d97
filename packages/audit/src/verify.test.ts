import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { audit, fileSource, formatReport, memorySource, readAllLogs, type AuditReport, type LogEvent, type ServiceName } from './index.js';
import { RECORDED_LOG } from './testing/index.js';
import { SignatureChecks, type SignatureJob } from './verify.js';
import { voteSignatureJob } from './services/voting.js';

type Logs = Partial<Record<ServiceName, LogEvent[]>>;

const flip = (hex: string): string => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
/** What a report says, without its timings. */
const findings = (r: AuditReport): unknown => ({
  divergences: r.divergences,
  notes: r.notes,
  checks: r.services.map((s) => [s.service, s.checks, s.divergences]),
  cross: r.cross,
});

/**
 * Signature checks in worker threads (verify.ts): the verdicts are taken in log order, so the
 * report is the one of a serial audit; a forged signature is caught at its position either way; a
 * reduced audit (no signature checks) says so.
 */
describe('signature checks ahead of the replay, in worker threads', () => {
  let logs: Logs;
  /** The recorded log with a vote's signature and a deposit's command signature each changed by one digit. */
  let forged: Logs;
  let vote: LogEvent;
  let deposit: LogEvent;

  before(async () => {
    const source = await fileSource(RECORDED_LOG);
    logs = await readAllLogs(source);
    await source.close();
    forged = Object.fromEntries(Object.entries(logs).map(([k, v]) => [k, [...v!]]));
    const vi = forged.voting!.findIndex((e) => e.type === 'VoteCast' && (e.metadata as { signature?: string } | undefined)?.signature !== undefined);
    const v = forged.voting![vi]!;
    vote = { ...v, metadata: { ...(v.metadata as object), signature: flip((v.metadata as { signature: string }).signature) } as never };
    forged.voting![vi] = vote;
    const di = forged.registry!.findIndex((e) => e.type === 'Deposited');
    const d = forged.registry![di]!;
    const m = structuredClone(d.metadata) as { proof: { signature: string } };
    m.proof.signature = flip(m.proof.signature);
    deposit = { ...d, metadata: m as never };
    forged.registry![di] = deposit;
  });

  test('the same report with two worker threads as in the main thread; every signature checked ahead', async () => {
    const serial = await audit(memorySource(logs), { signatureThreads: 0 });
    const threads = await audit(memorySource(logs), { signatureThreads: 2 });
    assert.deepEqual(findings(threads), findings(serial));
    assert.deepEqual(serial.divergences, []);
    const signatures = threads.services.reduce((a, s) => a + (s.checks.signature ?? 0), 0);
    assert.ok(signatures >= 30, `${signatures} signatures`);
    assert.deepEqual(threads.signatureChecks, { threads: 2, ahead: signatures, inline: 0 });
    assert.deepEqual(serial.signatureChecks, { threads: 0, ahead: 0, inline: signatures });
    assert.deepEqual(threads.reduced, []);
    assert.doesNotMatch(formatReport(threads), /REDUCED/);
  });

  test("forged signatures (a vote's, a deposit's) are reported at their positions, in the same order, with or without threads", async () => {
    const serial = await audit(memorySource(forged), { signatureThreads: 0 });
    const threads = await audit(memorySource(forged), { signatureThreads: 2, batchSize: 7 });
    assert.deepEqual(findings(threads), findings(serial));
    const at = (r: AuditReport, service: ServiceName, position: bigint): string[] =>
      r.divergences.filter((d) => d.service === service && d.position === position && d.check === 'signature').map((d) => d.message);
    assert.equal(at(threads, 'voting', vote.position).length, 1, formatReport(threads));
    assert.match(at(threads, 'voting', vote.position)[0]!, /the vote's signature is not/);
    assert.equal(at(threads, 'registry', deposit.position).length, 1, formatReport(threads));
    assert.match(at(threads, 'registry', deposit.position)[0]!, /^\/ewx\.v1\.Registry\/Deposit: the signature is not/);
    // The forged jobs were checked ahead too: nothing fell back to the main thread.
    assert.equal(threads.signatureChecks!.inline, 0);
  });

  test('a reduced audit (signatures: false) checks no command signature and says so', async () => {
    const r = await audit(memorySource(forged), { signatures: false });
    assert.equal(r.signatureChecks, undefined);
    assert.equal(r.reduced!.length, 1);
    assert.match(formatReport(r), /^REDUCED AUDIT: command and vote signatures NOT verified/m);
    const voting = r.services.find((s) => s.service === 'voting')!;
    assert.equal(voting.checks.signature, undefined);
    assert.ok(voting.checks['signature-skipped']! >= 10);
    // What it does not check it does not find; everything else is still checked.
    assert.ok(!r.divergences.some((d) => d.check === 'signature' && d.service !== 'consensus'), formatReport(r));
    assert.ok(voting.checks.vote! >= 10 && voting.checks.nonce! >= 10);
  });

  test('a verdict is reused only for the very same inputs; anything else is checked in the main thread', async () => {
    const e = logs.voting!.find((x) => x.type === 'VoteCast' && (x.metadata as { signature?: string } | undefined)?.signature !== undefined)!;
    const job = voteSignatureJob(e)!;
    const checks = new SignatureChecks(1);
    try {
      await checks.prefetch([job]);
      assert.equal(checks.prefetched, 1);
      const other: SignatureJob = { ...job, payload: Uint8Array.from([...job.payload.slice(0, -1), job.payload.at(-1)! ^ 1]) };
      assert.equal(checks.valid(other), false, 'another payload under the same signature');
      assert.equal(checks.inline, 1);
      assert.equal(checks.valid(job), true);
      assert.equal(checks.inline, 1, 'the prefetched verdict');
      assert.equal(checks.valid(job), true, 'used once: checked again');
      assert.equal(checks.inline, 2);
    } finally {
      await checks.close();
    }
  });

  test('a signature thread that stops loses no check: its jobs are checked in the main thread', async () => {
    const e = logs.voting!.find((x) => x.type === 'VoteCast' && (x.metadata as { signature?: string } | undefined)?.signature !== undefined)!;
    const job = voteSignatureJob(e)!;
    const forgedJob: SignatureJob = { ...job, signature: flip(job.signature) };
    const checks = new SignatureChecks(1);
    try {
      await (checks as unknown as { workers: { terminate(): Promise<number> }[] }).workers[0]!.terminate();
      await checks.prefetch([job, forgedJob]);
      assert.equal(checks.prefetched, 0);
      assert.deepEqual([checks.valid(job), checks.valid(forgedJob), checks.inline], [true, false, 2]);
    } finally {
      await checks.close();
    }
  });
});
