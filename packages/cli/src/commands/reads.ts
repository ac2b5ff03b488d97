import { Command } from 'commander';
import {
  getNetwork,
  holdStatusOf,
  HoldStatus,
  SERVICE_NAMES,
  statusName,
  untilHeight,
  type NetworkView,
  untilPeriodPaid,
  untilRoundClosed,
  type ServiceName,
  type WatchedEvent,
} from '@ewx/client';
import type { ServiceStatus } from '@ewx/proto/common';
import { contextOf, withEwx } from '../context.js';
import { ExitError, formatTokens, parseInteger, UsageError } from '../parse.js';
import { plain } from '../output.js';
import { roundView } from './rounds.js';

/** The network's lines for people: admin, validators, blocks, the reward calendar. */
function networkLines(n: NetworkView): string {
  const c = n.calendar;
  const p = c.period;
  return [
    `admin       ${n.admin}`,
    `validators  ${n.validators.length} (${n.attestationsNeeded} attestations settle a round)${n.validators.length ? `: ${n.validators.join(', ')}` : ''}`,
    `blocks      height ${n.height}, ${n.manualBlocks ? 'produced on command (manual)' : 'produced on a timer'}`,
    `period      ${p ? `${p.index}: blocks ${p.firstBlock}..${p.lastBlock} (${p.length} blocks), closed ${c.settlementDelay} block(s) after its last` : 'none yet (no block produced)'}`,
    `next change ${c.nextChange ? `${c.nextChange.length} blocks per period from period ${c.nextChange.fromPeriod} (block ${c.nextChange.firstBlock})` : 'none scheduled'}`,
  ].join('\n');
}

/**
 * `ewx status`'s table: one row per service; a partitioned voting (VOTING_PARTITIONS > 1) is named
 * with its partition count, and each partition log follows it on a row of its own (its height, log
 * position and the replica holding it). Consensus's producer may have counted blocks it did not
 * record yet (idle blocks are recorded in runs): its row then says how far it counted.
 */
export function statusRows(all: readonly ServiceStatus[]): { service: string; height: bigint; log_position: bigint }[] {
  return all.flatMap((s) => [
    {
      service: s.partitions?.length
        ? `${s.service.replace(/_p[0-9]+$/, '')} (${s.partitions.length} partitions)`
        : (s.countedHeight ?? 0n) > s.height
          ? `${s.service} (counted to ${s.countedHeight})`
          : s.service,
      height: s.height,
      log_position: s.logPosition,
    },
    ...(s.partitions ?? []).map((p) => ({
      service: `  ${p.log}${p.owner ? ` (replica ${p.owner})` : ''}`,
      height: p.height,
      log_position: p.logPosition,
    })),
  ]);
}

export function statusCommand(): Command {
  return new Command('status')
    .description('what each service has recorded (block height, log position), then the network: admin, validators, reward calendar')
    .addHelpText('after', "\n--json prints the five services' statuses only (an array); `ewx network --json` prints the network.")
    .action(async function (this: Command) {
      const ctx = contextOf(this);
      const [all, network] = await withEwx(ctx, undefined, (ewx) =>
        Promise.all([Promise.all(SERVICE_NAMES.map((n) => ewx[n].getStatus({}))), ctx.json ? undefined : getNetwork(ewx)]),
      );
      ctx.print(all, statusRows(all));
      if (network) process.stdout.write(`\n${networkLines(network)}\n`);
    });
}

export function networkCommand(): Command {
  return new Command('network')
    .description('who runs the network and its reward calendar: admin, validator set, height, current reward period, next period-length change')
    .action(async function (this: Command) {
      const ctx = contextOf(this);
      const n = await withEwx(ctx, undefined, (ewx) => getNetwork(ewx));
      ctx.print(n, networkLines(n));
    });
}

export function accountCommand(): Command {
  const account = new Command('account').description('ledger accounts');
  account
    .command('show <account>')
    .description('free, reserved and unclaimed balance of an address or key name')
    .action(async function (this: Command, a: string) {
      const ctx = contextOf(this);
      const address = ctx.account('account', a);
      const r = await withEwx(ctx, undefined, (ewx) => ewx.registry.getAccount({ address }));
      ctx.print(r, { account: r.address, free: formatTokens(r.free), reserved: formatTokens(r.reserved), unclaimed: formatTokens(r.unclaimed) });
    });
  account
    .command('list')
    .description('accounts with a balance now or before, in address order (for auditors)')
    .option('--page-size <n>', 'accounts per call, 1 to 500', '500')
    .option('--limit <n>', 'stop after this many accounts (all by default)')
    .action(async function (this: Command, o: { pageSize: string; limit?: string }) {
      const ctx = contextOf(this);
      const pageSize = parseInteger('page-size', o.pageSize, 1, 500);
      const limit = o.limit === undefined ? Infinity : parseInteger('limit', o.limit, 1, 1_000_000_000);
      const all = await withEwx(ctx, undefined, async (ewx) => {
        const out = [];
        let pageToken = '';
        do {
          const p = await ewx.registry.listAccounts({ page: { pageSize, pageToken } });
          out.push(...p.accounts);
          pageToken = p.page?.nextPageToken ?? '';
        } while (pageToken !== '' && out.length < limit);
        return out.slice(0, limit);
      });
      ctx.print(
        all,
        all.length
          ? all.map((r) => ({ account: r.address, free: formatTokens(r.free), reserved: formatTokens(r.reserved), unclaimed: formatTokens(r.unclaimed) }))
          : 'no accounts',
      );
    });
  account
    .command('hold <hold-id>')
    .description('a hold on an account: amount, purpose, status (HELD, RELEASED or SLASHED)')
    .action(async function (this: Command, holdId: string) {
      const ctx = contextOf(this);
      const h = await withEwx(ctx, undefined, (ewx) => ewx.registry.getHold({ holdId }));
      const status = statusName(HoldStatus, holdStatusOf(h));
      ctx.print(
        { ...h, holdStatus: status },
        { hold: h.holdId, account: h.account, amount: formatTokens(h.amount), purpose: h.purpose, status, placedBy: h.placedBy },
      );
    });
  return account;
}

const timeoutOf = (s: string): number => parseInteger('timeout', s, 1, 86_400) * 1000;

export function waitCommand(): Command {
  const wait = new Command('wait').description('wait until a change has reached every service (for scripts)');
  wait
    .command('height <height>')
    .description('every service has recorded block <height>')
    .option('--timeout <seconds>', 'give up after', '60')
    .action(async function (this: Command, h: string, o: { timeout: string }) {
      const ctx = contextOf(this);
      const height = parseInteger('height', h, 0, 2 ** 53 - 1);
      const s = await withEwx(ctx, undefined, (ewx) => untilHeight(ewx, height, { timeoutMs: timeoutOf(o.timeout), retry: ctx.retry }));
      ctx.print(s, `every service at height ${height} or later`);
    });
  wait
    .command('round <solution> <round-id>')
    .description('the round is settled or unresolved in voting and consensus')
    .option('--timeout <seconds>', 'give up after', '60')
    .action(async function (this: Command, solution: string, roundId: string, o: { timeout: string }) {
      const ctx = contextOf(this);
      const timeoutMs = timeoutOf(o.timeout);
      const r = await withEwx(ctx, undefined, (ewx) => untilRoundClosed(ewx, solution, roundId, { timeoutMs, retry: ctx.retry }));
      const v = roundView(r);
      ctx.print(v, `round ${roundId} of ${solution}: ${v.state}${v.result ? ` ${v.result}` : ''}`);
    });
  wait
    .command('period <group> <period>')
    .description('the reward period is closed and credited to the operators')
    .option('--timeout <seconds>', 'give up after', '60')
    .action(async function (this: Command, group: string, p: string, o: { timeout: string }) {
      const ctx = contextOf(this);
      const period = parseInteger('period', p, 0, 2 ** 32 - 1);
      const timeoutMs = timeoutOf(o.timeout);
      const r = await withEwx(ctx, undefined, (ewx) => untilPeriodPaid(ewx, group, period, { timeoutMs, retry: ctx.retry }));
      ctx.print(r, `period ${period} of ${group} closed: ${formatTokens(r.paid)} paid to ${r.qualifying} of ${r.operators} operator(s)`);
    });
  return wait;
}

const POSITION = /^((0|[1-9][0-9]*)(\/(0|[1-9][0-9]*))*)?$/;
/** A partitioned voting's resume token: "P<partitions>:" then one position per partition, joined by ','. */
const TOKEN = /^P[1-9][0-9]*:((0|[1-9][0-9]*)(\/(0|[1-9][0-9]*))*)?(,((0|[1-9][0-9]*)(\/(0|[1-9][0-9]*))*)?)*$/;

/**
 * One event as a line: position, type, stream, height, data (cut to the terminal's width). An
 * event of a partitioned voting: its position is the resume token, then p<partition>:<its position there>.
 */
function eventLine(e: WatchedEvent): string {
  const where = e.partition === undefined ? '' : ` p${e.partition}:${e.partitionPosition ?? ''}`;
  const head = `${e.position.padEnd(8)}${where} ${e.type.padEnd(22)} ${e.streamId}${e.source !== e.service ? ` (from ${e.source})` : ''}${e.height === undefined ? '' : ` h=${e.height}`}`;
  const data = e.dataJson;
  const room = Math.max(40, (process.stdout.columns ?? 160) - head.length - 2);
  return `${head}  ${data.length > room ? `${data.slice(0, room - 1)}…` : data}`;
}

export function watchCommand(): Command {
  return new Command('watch')
    .argument('<service>', `one of ${SERVICE_NAMES.join(', ')}`)
    .description("follow a service's published events: from the start of its log (or --from), then live; Ctrl-C stops")
    .option('--from <position>', 'start after this log position ("now": only new events; default: the start)')
    .option('--type <type...>', 'only these event types')
    .option('--inputs', "also the other services' events it recorded (its inbox)", false)
    .option('--count <n>', 'stop after n events')
    .addHelpText(
      'after',
      '\nOne line per event (position, type, stream, height, data); with --json one JSON object per line.\nResume with --from <the last position printed>. A partitioned voting (VOTING_PARTITIONS > 1) merges its\npartition logs: the position is then a token of every partition\'s ("P2:17,9"), followed by the\nevent\'s own partition and position there ("p1:9").',
    )
    .action(async function (this: Command, service: string, o: { from?: string; type?: string[]; inputs: boolean; count?: string }) {
      const ctx = contextOf(this);
      if (!(SERVICE_NAMES as string[]).includes(service))
        throw new UsageError(`service: expected one of ${SERVICE_NAMES.join(', ')}, got ${JSON.stringify(service)}`);
      const name = service as ServiceName;
      if (o.from !== undefined && o.from !== 'now' && !POSITION.test(o.from) && !TOKEN.test(o.from))
        throw new UsageError(
          `--from: expected a log position (decimal components joined by '/'; a partitioned voting's: "P<partitions>:" then one per partition, joined by ',') or "now", got ${JSON.stringify(o.from)}`,
        );
      const count = o.count === undefined ? Infinity : parseInteger('--count', o.count, 1, 2 ** 53 - 1);
      const ac = new AbortController();
      const stop = (): void => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      let last: string | undefined;
      let seen = 0;
      try {
        await withEwx(ctx, undefined, async (ewx) => {
          const from = o.from === 'now' ? (await ewx[name].getStatus({})).position : (o.from ?? '');
          last = from;
          for await (const e of ewx.watch(name, { from, types: o.type ?? [], includeInputs: o.inputs, signal: ac.signal })) {
            last = e.position;
            const { dataJson: _, service: _s, ...rest } = e;
            process.stdout.write(ctx.json ? `${JSON.stringify(plain(rest))}\n` : `${eventLine(e)}\n`);
            if (++seen >= count) return;
          }
        });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      if (seen < count && !ac.signal.aborted) {
        throw new ExitError(5, `the ${name} service ended the stream (it stopped); resume with --from ${last === '' ? '""' : last}`);
      }
    });
}
