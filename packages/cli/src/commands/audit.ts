import { readFileSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import type { AuditReport, Bundle, LogSource, Manifest, Progress, WhatIfParams, WhatIfReport } from '@ewx/audit';
import { isAddress } from '@ewx/client';
import { plain, table } from '../output.js';
import { ExitError, formatTokens, parseAmount, parseInteger, UsageError } from '../parse.js';

/** Exit code of an audit that found divergences, or of an export refused by its manifest. */
export const EXIT_DIVERGENCE = 7;

/** @ewx/audit loads the five services' deciders (3–5 s on a loaded machine): load it only when an
 * audit subcommand runs, not on every `ewx` call. */
const lib = () => import('@ewx/audit');

interface SourceOptions {
  from?: string;
  dataDir?: string;
  databaseUrl?: string;
  namespace?: string;
}

const sourceOptions = (c: Command, withFile: boolean): Command => {
  if (withFile) c.option('--from <file>', 'an export written by `ewx log export` (checked against its manifest first)');
  return c
    .option('--data-dir <dir>', "an embedded system's data folder (its DATA_DIR; stop the system first: PGlite is one process's database)")
    .addOption(new Option('--database-url <url>', "the standalone system's PostgreSQL (all five schemas)").env('DATABASE_URL'))
    .addOption(new Option('--namespace <ns>', 'the EWX_NAMESPACE the services ran with').env('EWX_NAMESPACE').default(''));
};

async function openSource(o: SourceOptions): Promise<LogSource> {
  const given = [o.from, o.dataDir].filter((x) => x !== undefined).length;
  if (given > 1) throw new UsageError('source: give one of --from, --data-dir (or --database-url / DATABASE_URL)');
  try {
    if (o.from !== undefined) return await (await lib()).fileSource(o.from);
    if (o.dataDir !== undefined) return await (await lib()).embeddedSource(o.dataDir, o.namespace);
    if (o.databaseUrl !== undefined) return (await lib()).postgresSource(o.databaseUrl, o.namespace);
  } catch (e) {
    if (e instanceof (await lib()).ExportError) throw new ExitError(EXIT_DIVERGENCE, e.message);
    throw new UsageError((e as Error).message);
  }
  throw new UsageError('source: give --from <export>, --data-dir <embedded data folder> or --database-url <postgres://…> (or set DATABASE_URL)');
}

/** Progress on stderr: a bar on a terminal, a line every few seconds otherwise (quiet with --json). */
function progressReporter(verb: string, json: boolean): { update(p: Progress): void; stop(): void } {
  if (process.stderr.isTTY && !json) {
    const bar = new cliProgress.SingleBar(
      { format: `${verb} {service} {bar} {value}/{total} events`, stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let service = '';
    return {
      update(p) {
        if (p.service !== service) {
          if (service) bar.stop();
          service = p.service;
          bar.start(p.total, 0, { service: p.service });
        }
        bar.update(p.done, { service: p.service });
      },
      stop: () => {
        if (service) bar.stop();
      },
    };
  }
  let last = 0;
  return {
    update(p) {
      if (json) return;
      const now = Date.now();
      if (now - last < 5000 && p.done < p.total) return;
      last = now;
      process.stderr.write(`${verb} ${p.service}: ${p.done}/${p.total} events\n`);
    },
    stop() {},
  };
}

export function auditCommand(): Command {
  const cmd = sourceOptions(new Command('audit'), true)
    .description("replay every service's log with the services' own rules and report each divergence (exit 7 if any)")
    .option('--max-distance <n>', "the distance oracle's maximum referee distance (DISTANCE_MAX_DISTANCE)", '5')
    .option('--notes', 'also print notes (dissents, evaluators off the oracle, configuration seen)', false)
    .option('--strict', 'count work still pending at the end of the logs (a round not decided, a reward not credited) as divergence', false)
    .option(
      '--skip-signatures',
      'REDUCED audit: do not verify command and vote signatures (the slowest check; nonces, rules, attestations and everything else still checked); the summary says so',
      false,
    )
    .addHelpText(
      'after',
      `
Reads only: PostgreSQL (--database-url or DATABASE_URL, with --namespace or EWX_NAMESPACE), an
embedded data folder (--data-dir) or an export (--from). Checks every event with the rules of its
service (decisions, tallies, settlements, rewards, medians, attestation signatures, result chain,
nonces, the ledger invariant at every position) and the services against each other (copies,
every closed round decided once, every reward credited once, every hold settled once).
Exit 0: no divergence; 7: divergences (each printed with service, position and both values).`,
    )
    .action(async function (this: Command) {
      const o = this.optsWithGlobals() as SourceOptions & { maxDistance: string; notes: boolean; strict: boolean; skipSignatures: boolean; json: boolean };
      const maxDistance = Number(o.maxDistance);
      if (!/^\d{1,2}$/.test(o.maxDistance) || maxDistance < 1 || maxDistance > 64)
        throw new UsageError(`max-distance: expected a whole number from 1 to 64, got ${JSON.stringify(o.maxDistance)}`);
      const source = await openSource(o);
      const progress = progressReporter('auditing', o.json);
      let report: AuditReport;
      try {
        report = await (await lib()).audit(source, { maxDistance, onProgress: progress.update, signatures: !o.skipSignatures });
      } finally {
        progress.stop();
        await source.close();
      }
      const pending = report.notes.filter((n) => n.kind === 'pending').length;
      if (o.json) process.stdout.write(JSON.stringify(plain(report), null, 2) + '\n');
      else process.stdout.write((await lib()).formatReport(report, { notes: o.notes }) + '\n');
      if (report.divergences.length > 0 || (o.strict && pending > 0)) process.exitCode = EXIT_DIVERGENCE;
    });
  cmd.addCommand(whatIfCommand());
  cmd.addCommand(bundleCommand());
  cmd.addCommand(verifyBundleCommand());
  cmd.addCommand(asOfCommand());
  return cmd;
}

/** `--set sla=70,quorum=60,majority=66,voting-reward=2,subscription-reward=1` (rewards in tokens per block). */
export function parseWhatIf(set: string): WhatIfParams {
  const out: { -readonly [K in keyof WhatIfParams]: WhatIfParams[K] } = {};
  for (const part of set
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const m = /^([a-z-]+)=(.+)$/.exec(part);
    if (!m) throw new UsageError(`set: expected name=value pairs separated by commas, got ${JSON.stringify(part)}`);
    const [, name, value] = m as unknown as [string, string, string];
    switch (name) {
      case 'sla':
        out.sla = parseInteger('set sla', value, 0, 100);
        break;
      case 'quorum':
        out.quorum = parseInteger('set quorum', value, 0, 100);
        break;
      case 'majority':
        out.majority = parseInteger('set majority', value, 0, 100);
        break;
      case 'voting-reward':
        out.votingReward = parseAmount('set voting-reward', value, { positive: false });
        break;
      case 'subscription-reward':
        out.subscriptionReward = parseAmount('set subscription-reward', value, { positive: false });
        break;
      default:
        throw new UsageError(`set: unknown parameter ${JSON.stringify(name)} (expected sla, quorum, majority, voting-reward, subscription-reward)`);
    }
  }
  if (Object.keys(out).length === 0) throw new UsageError('set: give at least one of sla, quorum, majority, voting-reward, subscription-reward');
  return out;
}

function whatIfCommand(): Command {
  return sourceOptions(new Command('what-if'), true)
    .description(
      'replay past reward periods under changed parameters, in memory: the reward then and now per operator, and the rounds whose outcome changes (writes nothing)',
    )
    .requiredOption('--periods <a..b>', 'reward periods, e.g. 3..5 (or one: 4)')
    .requiredOption(
      '--set <params>',
      'sla=<percent>,quorum=<percent>,majority=<percent>,voting-reward=<tokens per block>,subscription-reward=<tokens per block>',
    )
    .action(async function (this: Command) {
      const o = this.optsWithGlobals() as SourceOptions & { periods: string; set: string; json: boolean };
      const m = /^(\d{1,9})(?:\.\.(\d{1,9}))?$/.exec(o.periods);
      if (!m) throw new UsageError(`periods: expected <from>..<to> or one period, e.g. 3..5, got ${JSON.stringify(o.periods)}`);
      const from = Number(m[1]);
      const to = Number(m[2] ?? m[1]);
      if (to < from) throw new UsageError(`periods: ${to} is before ${from}`);
      const params = parseWhatIf(o.set);
      const source = await openSource(o);
      let r: WhatIfReport;
      try {
        r = await (await lib()).whatIf(source, from, to, params);
      } finally {
        await source.close();
      }
      if (o.json) {
        process.stdout.write(JSON.stringify(plain(r), null, 2) + '\n');
        return;
      }
      const lines = [
        table(
          r.rows.map((x) => ({
            group: x.group,
            period: x.period,
            operator: x.operator,
            correct: `${x.correct[0]}/${x.eligible[0]} → ${x.correct[1]}/${x.eligible[1]}`,
            sla: `${x.slaMet[0] ? 'met' : 'no'} → ${x.slaMet[1] ? 'met' : 'no'}`,
            then: formatTokens(x.total[0]),
            now: formatTokens(x.total[1]),
            change: (x.total[1] >= x.total[0] ? '+' : '-') + formatTokens(x.total[1] >= x.total[0] ? x.total[1] - x.total[0] : x.total[0] - x.total[1]),
          })),
        ),
      ];
      lines.push(
        '',
        r.rounds.length === 0
          ? 'no round changes its outcome'
          : table(r.rounds.map((x) => ({ solution: x.solution, round: x.roundId, period: x.period, then: x.then, now: x.now }))),
      );
      lines.push(
        '',
        table(
          r.totals.map((t) => ({
            group: t.group,
            period: t.period,
            paid_then: formatTokens(t.paidThen),
            paid_now: formatTokens(t.paidNow),
            budget_exhausted_now: t.budgetExhaustedNow,
          })),
        ),
      );
      process.stdout.write(lines.join('\n') + '\n');
    });
}

export function logCommand(): Command {
  const log = new Command('log').description("the services' event logs");
  sourceOptions(log.command('export'), false)
    .description(
      "write every service's log to one JSON Lines file, its manifest first (per-service counts and the sha256 of the content); a partitioned voting's partition logs (voting_p<k>) too",
    )
    .requiredOption('-o, --out <file>', 'the file to write')
    .action(async function (this: Command) {
      const o = this.optsWithGlobals() as SourceOptions & { out: string; json: boolean };
      const source = await openSource(o);
      const progress = progressReporter('exporting', o.json);
      let manifest: Manifest;
      try {
        manifest = await (await lib()).exportLogs(source, o.out, { onProgress: progress.update });
      } finally {
        progress.stop();
        await source.close();
      }
      const per = [
        ...Object.entries(manifest.services).map(([s, v]) => `${s} ${v!.events}`),
        ...Object.entries(manifest.partitions ?? {}).flatMap(([s, parts]) => Object.entries(parts ?? {}).map(([k, v]) => `${s}_p${k} ${v.events}`)),
      ].join(', ');
      if (o.json) process.stdout.write(JSON.stringify({ file: o.out, manifest }, null, 2) + '\n');
      else process.stdout.write(`wrote ${manifest.lines} events to ${o.out} (${per}); sha256 ${manifest.sha256}\n`);
    });
  return log;
}

const ADDRESS = { test: (s: string): boolean => isAddress(s) };

function bundleCommand(): Command {
  return sourceOptions(new Command('bundle'), true)
    .description(
      "one operator's proof for one reward period: its votes with inclusion proofs, the attestations, counts, SLA test and every input of the reward formula, as one JSON file",
    )
    .requiredOption('--operator <address>', 'the operator (ed25519:<64 hex>)')
    .requiredOption('--period <n>', 'the reward period')
    .option('--group <namespace>', 'the group (when the operator is in several)')
    .requiredOption('-o, --out <file>', 'the bundle file to write')
    .action(async function (this: Command) {
      const o = this.optsWithGlobals() as SourceOptions & { operator: string; period: string; group?: string; out: string; json: boolean };
      if (!ADDRESS.test(o.operator))
        throw new UsageError(`operator: expected an address (ed25519:<64 lowercase hex> or SS58), got ${JSON.stringify(o.operator)}`);
      const period = parseInteger('period', o.period, 0, 2 ** 31);
      const source = await openSource(o);
      let b: Bundle;
      try {
        b = await (await lib()).makeBundle(source, o.operator, period, o.group);
      } catch (e) {
        throw new ExitError(3, (e as Error).message);
      } finally {
        await source.close();
      }
      writeFileSync(o.out, JSON.stringify(b, null, 2) + '\n');
      const p = b.reward.payout;
      process.stdout.write(
        o.json
          ? JSON.stringify({ file: o.out, counts: b.counts, sla: b.sla, payout: p }) + '\n'
          : `wrote ${o.out}: ${b.rounds.length} rounds, ${b.counts.correct} correct of ${b.counts.eligible}, SLA ${b.sla.threshold} % ${b.sla.met ? 'met' : 'not met'}, reward ${formatTokens(p.amount)} (base ${formatTokens(p.base)}, active ${formatTokens(p.active)})\n`,
      );
    });
}

function verifyBundleCommand(): Command {
  return new Command('verify-bundle')
    .argument('<file>', 'a bundle written by `ewx audit bundle`')
    .description('check a bundle offline with nothing but the file and the validator set (exit 7 when it does not verify)')
    .requiredOption('--validators <addresses>', 'the validator set you trust, comma-separated ed25519:<64 hex>')
    .action(async function (this: Command, file: string) {
      const o = this.optsWithGlobals() as { validators: string; json: boolean };
      const validators = o.validators
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
      for (const v of validators)
        if (!ADDRESS.test(v)) throw new UsageError(`validators: expected addresses (ed25519:<64 lowercase hex> or SS58), got ${JSON.stringify(v)}`);
      let bundle: Bundle;
      try {
        bundle = JSON.parse(readFileSync(file, 'utf8')) as Bundle;
      } catch (e) {
        throw new UsageError(`${file}: ${(e as Error).message}`);
      }
      const v = (await lib()).verifyBundle(bundle, validators);
      if (o.json) process.stdout.write(JSON.stringify(plain(v), null, 2) + '\n');
      else if (v.ok)
        process.stdout.write(
          `verified: ${v.checked.rounds} rounds (${v.checked.votesProven} votes proven, ${v.checked.attestations} attestation signatures), ${v.checked.correct} correct of ${v.checked.eligible}, reward ${formatTokens(v.checked.base + v.checked.active)} (base ${formatTokens(v.checked.base)}, active ${formatTokens(v.checked.active)})\n`,
        );
      else process.stdout.write(`NOT VERIFIED:\n${v.problems.map((p) => `  ${p}`).join('\n')}\n`);
      if (!v.ok) process.exitCode = EXIT_DIVERGENCE;
    });
}

function asOfCommand(): Command {
  return sourceOptions(new Command('as-of'), true)
    .description('a group, an operator or a web-of-trust identity as it stood at a block height, from the logs')
    .requiredOption('--height <n>', 'the block height')
    .option('--group <namespace>', 'a solution group')
    .option('--operator <address>', 'an operator (its account, subscriptions and worker)')
    .option('--identity <id>', 'a web-of-trust identity (distance status)')
    .action(async function (this: Command) {
      const o = this.optsWithGlobals() as SourceOptions & { height: string; group?: string; operator?: string; identity?: string };
      const height = parseInteger('height', o.height, 0, 2 ** 53 - 1);
      if (o.group === undefined && o.operator === undefined && o.identity === undefined) throw new UsageError('as-of: give --group, --operator or --identity');
      if (o.operator !== undefined && !ADDRESS.test(o.operator))
        throw new UsageError(`operator: expected an address (ed25519:<64 lowercase hex> or SS58), got ${JSON.stringify(o.operator)}`);
      const identity = o.identity === undefined ? undefined : parseInteger('identity', o.identity, 0, 2 ** 32 - 1);
      const source = await openSource(o);
      let r: Record<string, unknown>;
      try {
        r = await (await lib()).asOf(source, height, { group: o.group, operator: o.operator, identity });
      } finally {
        await source.close();
      }
      process.stdout.write(JSON.stringify(plain(r), null, 2) + '\n');
    });
}
