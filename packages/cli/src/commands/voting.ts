import { Command, Option } from 'commander';
import type { SplitReport } from '@ewx/audit/split';
import { ExitError, parseInteger, UsageError } from '../parse.js';
import { table } from '../output.js';

/** Exit code of a split refused because of the state found (voting partitioned already, consumers behind, the log changing). */
export const EXIT_REFUSED = 4;

/** Only the split (not the whole audit, whose deciders take seconds to load). */
const lib = () => import('@ewx/audit/split');

/** What a split did or would do, for people. */
export function formatSplit(r: SplitReport, partitions: number): string {
  if (r.outcome === 'already split')
    return `voting (${r.source.schema}) is already split into ${partitions} partition logs: start it with VOTING_PARTITIONS=${partitions}`;
  const verb = r.outcome === 'dry run' ? 'would split' : 'split';
  const lines = [
    r.from === 1
      ? `${verb} ${r.source.schema}: ${r.source.events} events up to position ${r.source.end} (${r.source.inboxEvents} inbox copies, copied to every partition; relay checkpoint ${r.source.relayCheckpoint ?? 'none'}, copied as it is)`
      : `${verb} ${r.from} partition logs into ${partitions}: ${r.source.events} events (${r.source.inboxEvents} inbox copies); new partition k is old partition k mod ${r.from}'s share, at its positions with its relay checkpoint; the old ones keep their own share (ends ${r.source.end})`,
    table(
      r.partitions.map((p) => ({
        partition: p.partition,
        log: p.schema,
        solutions: p.solutions.length,
        rounds: p.rounds,
        round_events: p.ownEvents,
        inbox_events: p.inboxEvents,
        state: {
          copy: r.outcome === 'dry run' ? 'to copy' : 'copied',
          copied: r.outcome === 'dry run' ? 'copied already' : 'copied by an earlier run',
          prune: r.outcome === 'dry run' ? 'to keep its share' : 'kept its share',
          pruned: r.outcome === 'dry run' ? 'kept its share already' : 'kept its share (an earlier run)',
        }[p.state],
      })),
    ),
  ];
  if (r.consumers === undefined) lines.push("consumers of voting's topic: not checked (--skip-kafka-check)");
  else if (r.consumers.length === 0) lines.push("consumers of voting's topic: none has read it");
  else lines.push(`consumers of voting's topic: ${r.consumers.map((c) => `${c.group} ${c.behind === 0 ? 'read all' : `${c.behind} behind`}`).join(', ')}`);
  if (r.outcome === 'dry run') {
    lines.push(r.wouldRefuse ? `would refuse now: ${r.wouldRefuse}` : 'nothing written (dry run); without --dry-run the split would go ahead');
    for (const p of r.partitions.filter((x) => x.solutions.length > 0)) lines.push(`  p${p.partition}: ${p.solutions.join(' ')}`);
  } else if (r.from > 1) lines.push(`start voting with VOTING_PARTITIONS=${partitions}`);
  else
    lines.push(
      `the unsplit tables are kept as ${r.source.schema}.events_unsplit (and checkpoints_unsplit, snapshots_unsplit); start voting with VOTING_PARTITIONS=${partitions}. A position X voting sent before is the watch token P${partitions}:${Array.from({ length: partitions }, () => 'X').join(',')}`,
    );
  return lines.join('\n');
}

export function votingCommand(): Command {
  const voting = new Command('voting').description("voting's operations on its logs");
  voting
    .command('split')
    .description(
      'split a stopped voting\'s log (VOTING_PARTITIONS=1) into partition logs, one per partition, for VOTING_PARTITIONS=<n> (docs/OPERATIONS.md, "Scale voting out")',
    )
    .requiredOption('--partitions <n>', 'the partition count to split into (VOTING_PARTITIONS afterwards), 2 to 64')
    .option('--dry-run', 'only read: print what would be copied where, and whether the split would be refused now', false)
    .addOption(new Option('--database-url <url>', "the standalone system's PostgreSQL").env('DATABASE_URL'))
    .addOption(new Option('--namespace <ns>', 'the EWX_NAMESPACE the services ran with').env('EWX_NAMESPACE').default(''))
    .addOption(
      new Option('--kafka-brokers <list>', "Kafka (host:port, comma-separated), to check that every consumer has read all of voting's topic").env(
        'KAFKA_BROKERS',
      ),
    )
    .option('--skip-kafka-check', "do not check the consumers of voting's topic (only when no consumer could be behind, e.g. nothing was ever relayed)", false)
    .addHelpText(
      'after',
      `
Stop every voting process first. Partition k's log gets the rounds of the solutions whose hash
falls in k (the router's hash) and a copy of every input (registry's, consensus's, rewards'
events), each event at its position with its stream, version and data; the relay checkpoint is
copied, so nothing already published is published again, and each new partition's inbox
consumer group starts at the offsets of the one it replaces. A partitioned voting (Q partitions)
is split into a multiple of Q: new partition k is old partition k mod Q's share, the old ones
lose the rounds that moved; replicas cannot start until it is done. Refused while a consumer group of the
namespace has not read all of voting's topic (wait for it), while replicas run, for a count that
is not a multiple, or when a log changes during the split (voting running). Resumable: run it again after an
interruption; partitions already copied are skipped. The unsplit tables are kept
(events_unsplit, ...). Progress on stderr. Exit 0: split (or already split); 2: bad input;
4: refused (the message says why and what to do).`,
    )
    .action(async function (this: Command) {
      const o = this.optsWithGlobals() as {
        partitions: string;
        dryRun: boolean;
        databaseUrl?: string;
        namespace: string;
        kafkaBrokers?: string;
        skipKafkaCheck: boolean;
        json: boolean;
      };
      const partitions = parseInteger('partitions', o.partitions, 2, 64);
      if (o.databaseUrl === undefined) throw new UsageError("database-url: give --database-url <postgres://…> or set DATABASE_URL (voting's PostgreSQL)");
      if (!/^([a-z][a-z0-9_]{0,23})?$/.test(o.namespace))
        throw new UsageError(`namespace: expected empty or [a-z][a-z0-9_]{0,23} (EWX_NAMESPACE), got ${JSON.stringify(o.namespace)}`);
      let brokers: string[] | undefined;
      if (!o.skipKafkaCheck) {
        if (o.kafkaBrokers === undefined)
          throw new UsageError(
            "kafka-brokers: give --kafka-brokers <host:port,…> or set KAFKA_BROKERS (to check that every consumer has read voting's topic), or --skip-kafka-check",
          );
        brokers = o.kafkaBrokers
          .split(',')
          .map((b) => b.trim())
          .filter(Boolean);
        for (const b of brokers) if (!/^[^\s:]+:\d{1,5}$/.test(b)) throw new UsageError(`kafka-brokers: expected host:port, got ${JSON.stringify(b)}`);
        if (brokers.length === 0) throw new UsageError('kafka-brokers: expected host:port, got nothing');
      }
      const { splitVoting, splitKafkaFrom, SplitRefused } = await lib();
      let last = 0;
      const quietLog: Parameters<typeof splitKafkaFrom>[1] = { info() {}, warn() {}, error() {}, child: () => quietLog };
      let r: SplitReport;
      try {
        r = await splitVoting({
          databaseUrl: o.databaseUrl,
          namespace: o.namespace,
          partitions,
          dryRun: o.dryRun,
          ...(brokers ? { kafka: splitKafkaFrom(brokers, quietLog) } : {}),
          onProgress: (p) => {
            if (o.json) return;
            const now = Date.now();
            if (now - last < 2000 && p.done < p.total) return;
            last = now;
            process.stderr.write(`splitting: partition ${p.partition}: ${p.done}/${p.total} events\n`);
          },
        });
      } catch (e) {
        if (e instanceof SplitRefused) throw new ExitError(EXIT_REFUSED, `voting split refused: ${e.message}`);
        throw e;
      }
      if (o.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else process.stdout.write(formatSplit(r, partitions) + '\n');
    });
  return voting;
}
