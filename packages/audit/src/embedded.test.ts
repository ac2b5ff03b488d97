import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { generateKeyPair, keyPairFromSeed, type KeyPair } from '@ewx/client';
import { REPO_ROOT, startEmbeddedProcess, type EmbeddedProcess } from '@ewx/platform/testing';
import { deserializeState, firstDifference, serializeState, type RoundSettledEvent } from '@ewx/platform';
import type { SourceSnapshot } from './source.js';
import {
  asOf,
  audit,
  embeddedSource,
  formatReport,
  makeBundle,
  verifyBundle,
  whatIf,
  type Bundle,
  memorySource,
  readAllLogs,
  SERVICES,
  type AuditReport,
  type LogEvent,
  type ServiceName,
} from './index.js';
import { produceBlocks, runScenario, scenarioEnv, scenarioKeys } from './testing/index.js';

const CLI = resolve(REPO_ROOT, 'packages/cli/dist/main.js');
const ewx = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((res) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, DATABASE_URL: undefined }, timeout: 120_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        res({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });

/** Starts `npm start`'s process (all five services, PGlite in `dataDir`) and waits until it serves. */
const startEmbedded = (dataDir: string, env: Record<string, string>): Promise<EmbeddedProcess> =>
  startEmbeddedProcess({ ...env, DATA_DIR: dataDir, LOG_LEVEL: 'info' });

async function counts(dataDir: string): Promise<Record<ServiceName, number>> {
  const source = await embeddedSource(dataDir);
  try {
    return Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, await source.count(s)]))) as Record<ServiceName, number>;
  } finally {
    await source.close();
  }
}

const show = (r: AuditReport): string => formatReport(r);
const at = (r: AuditReport, position: bigint, service: ServiceName): string[] =>
  r.divergences.filter((d) => d.position === position && d.service === service).map((d) => `${d.check}: ${d.message}`);

describe('the embedded system: a restart is quiet, and the audit of its data folder', { timeout: 900_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ewx-audit-embedded-'));
  const running: { stop(): Promise<void> }[] = [];
  after(async () => {
    for (const r of running) await r.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const admin: KeyPair = generateKeyPair();
  const keys = scenarioKeys(admin);
  const env = scenarioEnv(keys.evaluator.address);
  let logs: Partial<Record<ServiceName, LogEvent[]>>;

  test('a full run, stopped and started again on the same folder: no log grows; settlements name the set in force', async () => {
    writeFileSync(join(dataDir, 'admin.key'), admin.seed + '\n', { mode: 0o600 });
    const first = await startEmbedded(dataDir, env);
    running.push(first);
    const end = await runScenario({ address: first.address }, keys);
    await first.stop();
    const before = await counts(dataDir);
    // Not empty logs (a run of blocks is one event since the clock costs O(work): 35 to 48 events here).
    assert.ok(before.consensus > 30 && before.voting > 30 && before.rewards > 30, JSON.stringify(before));

    const validator = keyPairFromSeed(readFileSync(join(dataDir, 'validator.key'), 'utf8').trim());
    const second = await startEmbedded(dataDir, env);
    running.push(second);
    // The stop stored a snapshot of every service; this start loaded them and replayed only the tail.
    assert.equal(second.output().match(/state restored from a snapshot/g)?.length, 5, second.output().slice(-3000));
    // One block no rule reacts to, recorded by every service: the start-up work queued before it is done too.
    assert.equal(await produceBlocks({ address: second.address }, admin, 1), end.quietNext);
    await second.stop();
    const afterRestart = await counts(dataDir);
    assert.deepEqual(afterRestart, Object.fromEntries(SERVICES.map((s) => [s, before[s] + 1])), 'each log grew by the one block only');

    const source = await embeddedSource(dataDir);
    logs = await readAllLogs(source);
    await source.close();
    const settlements = logs.consensus!.filter((e) => e.type === 'RoundSettled' || e.type === 'RoundUnresolved');
    assert.equal(settlements.length, 4);
    for (const e of settlements) assert.deepEqual((e.data as unknown as RoundSettledEvent).validators, [validator.address]);
    assert.equal(logs.consensus!.filter((e) => e.type === 'ValidatorSetConfigured').length, 1);
  });

  test('the audit of the data folder: zero divergences, nothing pending, every check ran', async () => {
    const source = await embeddedSource(dataDir);
    const report = await audit(source);
    await source.close();
    assert.deepEqual(report.divergences, []);
    assert.deepEqual(
      report.notes.filter((n) => n.kind === 'pending'),
      [],
    );
    const checks = Object.fromEntries(report.services.map((s) => [s.service, s.checks]));
    assert.equal(checks.consensus!.attestation, 4);
    assert.deepEqual([checks.voting!.vote, checks.voting!['round-start'], checks.voting!['round-close']], [10, 4, 4]);
    assert.equal(checks.rewards!.decision, 4, 'periods 0 to 3 closed');
    assert.ok(checks.registry!['ledger-invariant']! >= report.services.find((s) => s.service === 'registry')!.events);
    // The pool with the request (its EvaluationSettled and PoolSettled); since the first run of blocks, idle evaluation periods pass without one.
    assert.equal(checks.distance!.settlement, 2);
    for (const s of report.services) assert.ok(s.checks.recomputed! > 0, `${s.service} re-decided events`);
    // Each service's newest snapshot (stored at the last stop) equals the full replay of its log to its position.
    for (const s of report.services) assert.equal(s.checks.snapshot, 1, `${s.service}: its snapshot compared with the replay`);
    assert.deepEqual(Object.keys(report.cross).sort(), ['copies', 'holds-settled', 'metadata-recorded', 'rewards-credited', 'rounds-decided']);
  });

  test('snapshots: the real state of every service round-trips through the serializer; a snapshot unlike the replay is reported', async () => {
    const source = await embeddedSource(dataDir);
    const stored = Object.fromEntries(await Promise.all(SERVICES.map(async (s) => [s, await source.snapshot!(s)]))) as Record<ServiceName, SourceSnapshot>;
    await source.close();
    for (const s of SERVICES) {
      assert.ok(stored[s], `${s} stored a snapshot`);
      const image = deserializeState<{ state: unknown }>(stored[s].data);
      assert.equal(firstDifference(deserializeState(serializeState(image)), image), undefined, `${s}: state round-trips`);
    }
    // A changed snapshot (one field of the voting state) is a divergence named by service and position.
    const image = deserializeState<{ state: { height: number } }>(stored.voting.data);
    image.state.height += 1;
    const forged = { ...stored, voting: { ...stored.voting, data: serializeState(image) } };
    const mem = memorySource(logs);
    const r = await audit({ ...mem, snapshot: async (s) => forged[s] });
    const found = r.divergences.filter((d) => d.check === 'snapshot');
    assert.equal(found.length, 1, show(r));
    assert.equal(found[0]!.service, 'voting');
    assert.equal(found[0]!.position, stored.voting.position);
    assert.match(found[0]!.message, /differs from the replay of the log to it, at \$\.state\.height/);

    // Consensus forgot the inbox marks of its decided rounds (finishedInboxStreams): none in its
    // snapshot, and the audit's replay leaves them out too (zero divergences above); a snapshot that
    // still holds one (as before) is reported.
    type Maps = { versions: Map<string, number>; inboxSeen: Map<string, number>; inboxTypeSeen: Map<string, number> };
    const c = deserializeState<Maps>(stored.consensus.data);
    const rounds = (m: Map<string, number>) => [...m.keys()].filter((k) => k.includes('round:'));
    assert.deepEqual([rounds(c.versions), rounds(c.inboxSeen), rounds(c.inboxTypeSeen)], [[], [], []], 'no decided round keeps its inbox marks');
    const decided = logs.consensus!.find((e) => e.type === 'RoundSettled')!.data as unknown as RoundSettledEvent;
    c.inboxSeen.set(`voting|round:${decided.solution}:${decided.roundId}`, 0);
    const kept = await audit({ ...mem, snapshot: async (s) => (s === 'consensus' ? { ...stored.consensus, data: serializeState(c) } : stored[s]) });
    const inboxFound = kept.divergences.filter((d) => d.check === 'snapshot');
    assert.equal(inboxFound.length, 1, show(kept));
    assert.equal(inboxFound[0]!.service, 'consensus');
    assert.match(inboxFound[0]!.message, /at \$\.inboxSeen/);
  });

  test('corruptions planted in the logs are each reported at their position', async () => {
    const copy = (): Partial<Record<ServiceName, LogEvent[]>> => Object.fromEntries(Object.entries(logs).map(([k, v]) => [k, [...v!]]));
    const run = (l: Partial<Record<ServiceName, LogEvent[]>>) => audit(memorySource(l));
    const patch = (
      l: Partial<Record<ServiceName, LogEvent[]>>,
      service: ServiceName,
      find: (e: LogEvent) => boolean,
      change: (data: Record<string, unknown>) => void,
    ): LogEvent => {
      const list = l[service]!;
      const i = list.findIndex(find);
      assert.ok(i >= 0, `an event to corrupt in ${service}`);
      const data = structuredClone(list[i]!.data) as Record<string, unknown>;
      change(data);
      list[i] = { ...list[i]!, data: data as never };
      return list[i]!;
    };

    // A changed vote: worker 2's `bad0` in round slice-1 becomes the majority's result.
    {
      const l = copy();
      const target = patch(
        l,
        'voting',
        (e) => e.type === 'VoteCast' && (e.data as { result: string }).result === 'bad0',
        (d) => {
          d.result = 'c0ffee';
        },
      );
      const r = await run(l);
      // At the vote itself: the worker's signature does not cover the changed result.
      assert.ok(
        at(r, target.position, 'voting').some((m) => /^signature: the vote's signature is not/.test(m)),
        show(r),
      );
      // And where consensus recorded the vote (votes are carried once, by VoteCast): its copy differs from the changed original.
      assert.ok(
        r.divergences.some((d) => d.service === 'cross' && d.check === 'copies' && /copy of voting's VoteCast/.test(d.message)),
        show(r),
      );
    }
    // A changed reward amount in a decision.
    {
      const l = copy();
      const target = patch(
        l,
        'rewards',
        (e) => e.type === 'RewardsComputed' && (e.data as { payouts: unknown[] }).payouts.length > 0,
        (d) => {
          const p = (d.payouts as { amount: string }[])[0]!;
          p.amount = (BigInt(p.amount) + 1n).toString();
        },
      );
      const r = await run(l);
      assert.ok(
        at(r, target.position, 'rewards').some((m) => /^decision: RewardsComputed differs/.test(m)),
        show(r),
      );
    }
    // A dropped event: a vote removed from voting's log.
    {
      const l = copy();
      const i = l.voting!.findIndex((e) => e.type === 'VoteCast');
      const [dropped] = l.voting!.splice(i, 1);
      const next = l.voting!.slice(i).find((e) => e.streamId === dropped!.streamId)!;
      const r = await run(l);
      assert.ok(
        at(r, next.position, 'voting').some((m) => /^stream-version: .*missing/.test(m)),
        show(r),
      );
    }
    // A forged signature: one byte of an attestation's signature changed.
    {
      const l = copy();
      const target = patch(
        l,
        'consensus',
        (e) => e.type === 'AttestationRecorded',
        (d) => {
          const sig = d.signature as string;
          d.signature = (sig[0] === '0' ? '1' : '0') + sig.slice(1);
        },
      );
      const r = await run(l);
      assert.ok(
        at(r, target.position, 'consensus').some((m) => /signature is not/.test(m)),
        show(r),
      );
    }
    // A forged command signature: the admin's signature on a deposit, one byte changed.
    {
      const l = copy();
      const i = l.registry!.findIndex((e) => e.type === 'Deposited');
      const e = l.registry![i]!;
      const m = structuredClone(e.metadata) as { proof: { signature: string } };
      m.proof.signature = (m.proof.signature[0] === '0' ? '1' : '0') + m.proof.signature.slice(1);
      l.registry![i] = { ...e, metadata: m as never };
      const r = await run(l);
      assert.ok(
        at(r, e.position, 'registry').some((x) => /^signature: \/ewx\.v1\.Registry\/Deposit: the signature is not/.test(x)),
        show(r),
      );
    }
    // A deposit changed in the registry's log: rewards' copy of it disagrees.
    {
      const l = copy();
      const target = patch(
        l,
        'registry',
        (e) => e.type === 'Deposited',
        (d) => {
          d.amount = (BigInt(d.amount as string) * 2n).toString();
        },
      );
      const r = await run(l);
      assert.ok(
        r.divergences.some((d) => d.service === 'cross' && d.check === 'copies' && /Deposited/.test(d.message)),
        show(r),
      );
      void target;
    }
  });

  test('the CLI: ewx audit on the folder, ewx log export, ewx audit --from; an altered export is refused', async () => {
    const cli = (args: string[]) => ewx(args);
    const direct = await cli(['audit', '--data-dir', dataDir]);
    assert.equal(direct.code, 0, direct.stderr + direct.stdout);
    assert.match(direct.stdout, /^SERVICE\s+EVENTS\s+LAST POSITION\s+CHECKS\s+DIVERGENCES$/m);
    assert.match(direct.stdout, /0 divergence\(s\), 0 pending/);
    assert.doesNotMatch(direct.stdout, /REDUCED AUDIT/);
    // A reduced audit says so in its summary, and counts the signatures it left unchecked.
    const reduced = await cli(['audit', '--data-dir', dataDir, '--skip-signatures']);
    assert.equal(reduced.code, 0, reduced.stderr + reduced.stdout);
    assert.match(reduced.stdout, /^REDUCED AUDIT: command and vote signatures NOT verified/m);
    assert.match(reduced.stdout, /signature-skipped \d+/);

    const file = join(dataDir, 'logs.jsonl');
    const exported = await cli(['log', 'export', '--data-dir', dataDir, '--out', file, '--json']);
    assert.equal(exported.code, 0, exported.stderr);
    const manifest = JSON.parse(exported.stdout).manifest as { services: Record<string, { events: number }>; lines: number; sha256: string };
    assert.deepEqual(
      Object.fromEntries(Object.entries(manifest.services).map(([k, v]) => [k, v.events])),
      Object.fromEntries(Object.entries(logs).map(([k, v]) => [k, v!.length])),
    );
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, manifest.lines + 1);
    assert.equal(
      createHash('sha256')
        .update(
          lines
            .slice(1)
            .map((l) => l + '\n')
            .join(''),
        )
        .digest('hex'),
      manifest.sha256,
    );

    const fromFile = await cli(['audit', '--from', file, '--json']);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    const report = JSON.parse(fromFile.stdout) as { divergences: unknown[]; events: number };
    assert.deepEqual([report.divergences, report.events], [[], manifest.lines]);

    // One byte changed in an event line: the manifest refuses the file before any audit.
    const i = lines.findIndex((l) => l.startsWith('{"service":"rewards"') && l.includes('"type":"RewardsComputed"') && l.includes('"payouts":[{'));
    const altered = [...lines];
    altered[i] = altered[i]!.replace(/"amount":"(\d)/, (_m, d: string) => `"amount":"${(Number(d) + 1) % 10}`);
    assert.notEqual(altered[i], lines[i]);
    const tampered = join(dataDir, 'tampered.jsonl');
    writeFileSync(tampered, altered.join('\n') + '\n');
    const refused = await cli(['audit', '--from', tampered]);
    assert.equal(refused.code, 7);
    assert.match(refused.stderr, /^ewx: .*tampered\.jsonl does not match its manifest .*sha256/);
    assert.equal(refused.stdout, '');

    // The same change with a manifest made to match: the audit itself finds it, at its position.
    const body = altered
      .slice(1)
      .map((l) => l + '\n')
      .join('');
    const forgedManifest = { ...JSON.parse(lines[0]!).manifest, sha256: createHash('sha256').update(body).digest('hex') };
    writeFileSync(tampered, JSON.stringify({ manifest: forgedManifest }) + '\n' + body);
    const caught = await cli(['audit', '--from', tampered]);
    assert.equal(caught.code, 7, caught.stderr);
    const position = (JSON.parse(lines[i]!) as { position: string }).position;
    assert.match(caught.stdout, new RegExp(`^DIVERGENCE rewards @${position} .*\\[decision\\]: RewardsComputed differs`, 'm'));
    assert.match(caught.stdout, /^ {2}rules: {4}.*\n {2}recorded: /m);
  });

  test("what-if: an SLA above two operators' score moves their active reward to the third, the pool unchanged; a higher majority changes a round", async () => {
    const source = memorySource(logs);
    const before = Object.fromEntries(Object.entries(logs).map(([k, v]) => [k, v!.length]));
    const r = await whatIf(source, 1, 1, { sla: 70 });
    const rows = r.rows.filter((x) => x.period === 1);
    assert.equal(rows.length, 3);
    const scores = rows.map((x) => `${x.correct[0]}/${x.eligible[0]}`).sort();
    assert.deepEqual(scores, ['1/2', '1/2', '2/2']);
    const top = rows.find((x) => x.correct[0] === 2)!;
    for (const x of rows.filter((y) => y !== top)) {
      assert.deepEqual([x.slaMet, x.active[1], x.base[1]], [[true, false], 0n, x.base[0]], 'below the SLA now: no active reward, the base unchanged');
      assert.ok(x.active[0] > 0n);
    }
    assert.ok(top.active[1] > top.active[0], 'the operator above the SLA takes the active pool');
    const sum = (k: 0 | 1) => rows.reduce((a, x) => a + x.active[k], 0n);
    const pool = 10n * 10n ** 18n; // 10 blocks × 1 token
    assert.ok(sum(0) <= pool && pool - sum(0) < 3n && pool - sum(1) < 3n, `the same active pool, dust aside: ${sum(0)} then, ${sum(1)} now`);
    assert.deepEqual(r.rounds, []);

    const m = await whatIf(source, 1, 1, { majority: 70 });
    assert.deepEqual(m.rounds.map((x) => [x.roundId, x.then.split('|')[0], x.now.split('|').slice(0, 3).join('|')]).sort(), [
      ['slice-1', 'SETTLED', 'UNRESOLVED||NO_MAJORITY'],
      ['slice-2', 'SETTLED', 'UNRESOLVED||NO_MAJORITY'],
    ]);
    assert.ok(
      m.rows.every((x) => x.eligible[1] === 0),
      'no round of period 1 counts any more',
    );
    assert.deepEqual(Object.fromEntries(Object.entries(logs).map(([k, v]) => [k, v!.length])), before, 'nothing written');

    const cli = await ewx(['audit', 'what-if', '--data-dir', dataDir, '--periods', '1..1', '--set', 'sla=70']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /met → no/);
    assert.equal((await counts(dataDir)).rewards, before.rewards, 'the live log is never written');
  });

  test('a bundle for one operator and period verifies offline; one changed byte fails it', async () => {
    const source = memorySource(logs);
    const validator = keyPairFromSeed(readFileSync(join(dataDir, 'validator.key'), 'utf8').trim()).address;
    const inputs = logs.rewards!.find((e) => e.type === 'RewardInputsRecorded' && (e.data as { rewardPeriod: number }).rewardPeriod === 1)!.data as {
      operators: { operator: string; correctVotes: number; eligibleRounds: number }[];
    };
    const operator = inputs.operators.find((o) => o.correctVotes === 1 && o.eligibleRounds === 2)!.operator;
    const bundle = await makeBundle(source, operator, 1);
    assert.deepEqual([bundle.rounds.length, bundle.counts, bundle.sla], [2, { eligible: 2, correct: 1 }, { threshold: 50, met: true }]);
    assert.ok(bundle.rounds.every((r) => r.vote !== null && r.proof !== undefined && r.attestations.length === 1));
    const ok = verifyBundle(bundle, [validator]);
    assert.deepEqual(ok.problems, []);
    assert.equal(ok.checked.base + ok.checked.active, BigInt(bundle.reward.payout.amount));
    assert.ok(BigInt(bundle.reward.payout.active) > 0n);
    assert.equal(verifyBundle(bundle, [generateKeyPair().address]).ok, false, 'another validator set does not vouch for it');

    const flip = (mutate: (b: Bundle) => void): string[] => {
      const b = structuredClone(bundle);
      mutate(b);
      return verifyBundle(b, [validator]).problems;
    };
    const nextHex = (h: string, i = 0): string => h.slice(0, i) + ((parseInt(h[i]!, 16) + 1) % 16).toString(16) + h.slice(i + 1);
    assert.match(
      flip((b) => {
        b.rounds[0]!.vote = nextHex(b.rounds[0]!.vote!);
      }).join('\n'),
      /is not proven against the root/,
    );
    assert.match(
      flip((b) => {
        b.rounds[0]!.attestations[0]!.signature = nextHex(b.rounds[0]!.attestations[0]!.signature, 10);
      }).join('\n'),
      /attestation signature .* does not verify/,
    );
    assert.match(
      flip((b) => {
        b.rounds[0]!.tally.top += 1;
      }).join('\n'),
      /more than two thirds|does not hash/,
    );
    assert.match(
      flip((b) => {
        const o = b.reward.inputs.operators[0]!;
        o.stake = nextHex(o.stake).replace(/[a-f]/, '1');
      }).join('\n'),
      /reward: /,
    );
    assert.match(
      flip((b) => {
        b.reward.payout.active = (BigInt(b.reward.payout.active) + 1n).toString();
      }).join('\n'),
      /the formula gives/,
    );
    assert.match(
      flip((b) => {
        b.rounds.pop();
      }).join('\n'),
      /counts|inputs count/,
    );

    // The CLI: written from the folder, verified from the file alone.
    const file = join(dataDir, 'bundle.json');
    const made = await ewx(['audit', 'bundle', '--data-dir', dataDir, '--operator', operator, '--period', '1', '--out', file]);
    assert.equal(made.code, 0, made.stderr);
    const verified = await ewx(['audit', 'verify-bundle', file, '--validators', validator]);
    assert.equal(verified.code, 0, verified.stderr + verified.stdout);
    assert.match(verified.stdout, /^verified: 2 rounds \(2 votes proven, 2 attestation signatures\), 1 correct of 2/);
    const text = readFileSync(file, 'utf8');
    const i = text.indexOf('"vote": "') + '"vote": "'.length;
    writeFileSync(file, text.slice(0, i) + (text[i] === 'a' ? 'b' : 'a') + text.slice(i + 1));
    const refused = await ewx(['audit', 'verify-bundle', file, '--validators', validator]);
    assert.equal(refused.code, 7);
    assert.match(refused.stdout, /^NOT VERIFIED:\n {2}round .*is not proven/);
  });

  test('the bundle verifier imports no service code', () => {
    const src = readFileSync(resolve(REPO_ROOT, 'packages/audit/src/bundle/verify.ts'), 'utf8');
    const imports = [...src.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
    // node:crypto for hashes, the client kit for the signature check (ed25519 and sr25519 keys): no
    // service, platform or audit-runner code.
    assert.deepEqual(imports, ['node:crypto', '@ewx/client']);
  });

  test('as-of reads: an operator, a group and an identity as they stood at a height', async () => {
    const source = memorySource(logs);
    const leaver = keys.operators[2]!.address;
    type Op = { operator: { subscriptions: { unsubscribing: boolean }[]; account: { reserved: string } } };
    const at = async (height: number) =>
      (await asOf(source, height, { operator: leaver, group: 'audit.group', identity: 3 })) as unknown as Op & {
        group: { operators: number };
        identity: { status: string };
      };
    const [h0, h8, h9, h30, h43] = await Promise.all([0, 8, 9, 30, 43].map(at));
    assert.deepEqual(h0.operator.subscriptions, []);
    assert.equal(h0.identity.status, 'NON_EXISTENT');
    assert.equal(h8.identity.status, 'PENDING');
    assert.equal(h9.identity.status, 'VALID');
    assert.deepEqual(
      [h30.operator.subscriptions.map((x) => x.unsubscribing), h30.operator.account.reserved, h30.group.operators],
      [[true], (30n * 10n ** 18n).toString(), 3],
    );
    assert.deepEqual([h43.operator.subscriptions, h43.operator.account.reserved, h43.group.operators], [[], '0', 2]);
  });
});
