import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import {
  audit, embeddedSource, ExportError, exportLogs, fileSource, formatReport, postgresSource, type LogSource, type Progress,
} from '@ewx/audit';
import { plain } from '../output.js';
import { ExitError, UsageError } from '../parse.js';

/** Exit code of an audit that found divergences, or of an export refused by its manifest. */
export const EXIT_DIVERGENCE = 7;

interface SourceOptions { from?: string; dataDir?: string; databaseUrl?: string; namespace?: string }

const sourceOptions = (c: Command, withFile: boolean): Command => {
  if (withFile) c.option('--from <file>', 'an export written by `ewx log export` (checked against its manifest first)');
  return c
    .option('--data-dir <dir>', 'an embedded system\'s data folder (its DATA_DIR; stop the system first: PGlite is one process\'s database)')
    .addOption(new Option('--database-url <url>', 'the standalone system\'s PostgreSQL (all five schemas)').env('DATABASE_URL'))
    .addOption(new Option('--namespace <ns>', 'the EWX_NAMESPACE the services ran with').env('EWX_NAMESPACE').default(''));
};

async function openSource(o: SourceOptions): Promise<LogSource> {
  const given = [o.from, o.dataDir].filter((x) => x !== undefined).length;
  if (given > 1) throw new UsageError('source: give one of --from, --data-dir (or --database-url / DATABASE_URL)');
  try {
    if (o.from !== undefined) return await fileSource(o.from);
    if (o.dataDir !== undefined) return await embeddedSource(o.dataDir, o.namespace);
    if (o.databaseUrl !== undefined) return postgresSource(o.databaseUrl, o.namespace);
  } catch (e) {
    if (e instanceof ExportError) throw new ExitError(EXIT_DIVERGENCE, e.message);
    throw new UsageError((e as Error).message);
  }
  throw new UsageError('source: give --from <export>, --data-dir <embedded data folder> or --database-url <postgres://…> (or set DATABASE_URL)');
}

/** Progress on stderr: a bar on a terminal, a line every few seconds otherwise (quiet with --json). */
function progressReporter(verb: string, json: boolean): { update(p: Progress): void; stop(): void } {
  if (process.stderr.isTTY && !json) {
    const bar = new cliProgress.SingleBar({ format: `${verb} {service} {bar} {value}/{total} events`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
    let service = '';
    return {
      update(p) {
        if (p.service !== service) { if (service) bar.stop(); service = p.service; bar.start(p.total, 0, { service: p.service }); }
        bar.update(p.done, { service: p.service });
      },
      stop: () => { if (service) bar.stop(); },
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
    .description('replay every service\'s log with the services\' own rules and report each divergence (exit 7 if any)')
    .option('--max-distance <n>', 'the distance oracle\'s maximum referee distance (DISTANCE_MAX_DISTANCE)', '5')
    .option('--notes', 'also print notes (dissents, evaluators off the oracle, configuration seen)', false)
    .option('--strict', 'count work still pending at the end of the logs (a round not decided, a reward not credited) as divergence', false)
    .addHelpText('after', `
Reads only: PostgreSQL (--database-url or DATABASE_URL, with --namespace or EWX_NAMESPACE), an
embedded data folder (--data-dir) or an export (--from). Checks every event with the rules of its
service (decisions, tallies, settlements, rewards, medians, attestation signatures, result chain,
nonces, the ledger invariant at every position) and the services against each other (copies,
every closed round decided once, every reward credited once, every hold settled once).
Exit 0: no divergence; 7: divergences (each printed with service, position and both values).`)
    .action(async function (this: Command) {
      const o = this.optsWithGlobals() as SourceOptions & { maxDistance: string; notes: boolean; strict: boolean; json: boolean };
      const maxDistance = Number(o.maxDistance);
      if (!/^\d{1,2}$/.test(o.maxDistance) || maxDistance < 1 || maxDistance > 64) throw new UsageError(`max-distance: expected a whole number from 1 to 64, got ${JSON.stringify(o.maxDistance)}`);
      const source = await openSource(o);
      const progress = progressReporter('auditing', o.json);
      let report;
      try {
        report = await audit(source, { maxDistance, onProgress: progress.update });
      } finally {
        progress.stop();
        await source.close();
      }
      const pending = report.notes.filter((n) => n.kind === 'pending').length;
      if (o.json) process.stdout.write(JSON.stringify(plain(report), null, 2) + '\n');
      else process.stdout.write(formatReport(report, { notes: o.notes }) + '\n');
      if (report.divergences.length > 0 || (o.strict && pending > 0)) process.exitCode = EXIT_DIVERGENCE;
    });
  return cmd;
}

export function logCommand(): Command {
  const log = new Command('log').description('the services\' event logs');
  sourceOptions(log.command('export'), false)
    .description('write every service\'s log to one JSON Lines file, its manifest first (per-service counts and the sha256 of the content)')
    .requiredOption('-o, --out <file>', 'the file to write')
    .action(async function (this: Command) {
      const o = this.optsWithGlobals() as SourceOptions & { out: string; json: boolean };
      const source = await openSource(o);
      const progress = progressReporter('exporting', o.json);
      let manifest;
      try {
        manifest = await exportLogs(source, o.out, { onProgress: progress.update });
      } finally {
        progress.stop();
        await source.close();
      }
      const per = Object.entries(manifest.services).map(([s, v]) => `${s} ${v!.events}`).join(', ');
      if (o.json) process.stdout.write(JSON.stringify({ file: o.out, manifest }, null, 2) + '\n');
      else process.stdout.write(`wrote ${manifest.lines} events to ${o.out} (${per}); sha256 ${manifest.sha256}\n`);
    });
  return log;
}
