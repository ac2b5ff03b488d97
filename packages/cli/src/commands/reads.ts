import { Command } from 'commander';
import { SERVICE_NAMES, untilHeight, untilPeriodPaid, untilRoundClosed } from '@ewx/client';
import { contextOf, withEwx } from '../context.js';
import { formatTokens, parseInteger } from '../parse.js';
import { roundView } from './rounds.js';

export function statusCommand(): Command {
  return new Command('status').description('what each service has recorded: block height and log position')
    .action(async function (this: Command) {
      const ctx = contextOf(this);
      const all = await withEwx(ctx, undefined, (ewx) => Promise.all(SERVICE_NAMES.map((n) => ewx[n].getStatus({}))));
      ctx.print(all, all.map((s) => ({ service: s.service, height: s.height, log_position: s.logPosition })));
    });
}

export function accountCommand(): Command {
  const account = new Command('account').description('ledger accounts');
  account.command('show <account>').description('free, reserved and unclaimed balance of an address or key name')
    .action(async function (this: Command, a: string) {
      const ctx = contextOf(this);
      const address = ctx.account('account', a);
      const r = await withEwx(ctx, undefined, (ewx) => ewx.registry.getAccount({ address }));
      ctx.print(r, { account: r.address, free: formatTokens(r.free), reserved: formatTokens(r.reserved), unclaimed: formatTokens(r.unclaimed) });
    });
  return account;
}

const timeoutOf = (s: string): number => parseInteger('timeout', s, 1, 86_400) * 1000;

export function waitCommand(): Command {
  const wait = new Command('wait').description('wait until a change has reached every service (for scripts)');
  wait.command('height <height>').description('every service has recorded block <height>')
    .option('--timeout <seconds>', 'give up after', '60')
    .action(async function (this: Command, h: string, o: { timeout: string }) {
      const ctx = contextOf(this);
      const height = parseInteger('height', h, 0, 2 ** 53 - 1);
      const s = await withEwx(ctx, undefined, (ewx) => untilHeight(ewx, height, { timeoutMs: timeoutOf(o.timeout) }));
      ctx.print(s, `every service at height ${height} or later`);
    });
  wait.command('round <solution> <round-id>').description('the round is settled or unresolved in voting and consensus')
    .option('--timeout <seconds>', 'give up after', '60')
    .action(async function (this: Command, solution: string, roundId: string, o: { timeout: string }) {
      const ctx = contextOf(this);
      const timeoutMs = timeoutOf(o.timeout);
      const r = await withEwx(ctx, undefined, (ewx) => untilRoundClosed(ewx, solution, roundId, { timeoutMs }));
      const v = roundView(r);
      ctx.print(v, `round ${roundId} of ${solution}: ${v.state}${v.result ? ` ${v.result}` : ''}`);
    });
  wait.command('period <group> <period>').description('the reward period is closed and credited to the operators')
    .option('--timeout <seconds>', 'give up after', '60')
    .action(async function (this: Command, group: string, p: string, o: { timeout: string }) {
      const ctx = contextOf(this);
      const period = parseInteger('period', p, 0, 2 ** 32 - 1);
      const timeoutMs = timeoutOf(o.timeout);
      const r = await withEwx(ctx, undefined, (ewx) => untilPeriodPaid(ewx, group, period, { timeoutMs }));
      ctx.print(r, `period ${period} of ${group} closed: ${formatTokens(r.paid)} paid to ${r.qualifying} of ${r.operators} operator(s)`);
    });
  return wait;
}
